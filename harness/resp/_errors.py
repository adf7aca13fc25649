"""Errors raised by the codec."""

from __future__ import annotations

__all__ = ["ProtocolError"]


class ProtocolError(Exception):
    """The peer sent bytes that are not valid RESP, or that break a configured limit.

    ``str(exc)`` is the text a server sends back after ``-ERR `` before it closes the
    connection, worded like Valkey's (``Protocol error: invalid bulk length``). Once a parser
    raised it, its buffer is in an undefined position: drop the connection.
    """
