"""Serializing commands and replies.

Replies come in two flavours: small functions that build one RESP value from already-encoded
parts (fast; what a server's hot path uses), and :func:`encode_reply`, which turns a Python
value into RESP2 or RESP3 (the inverse of :class:`~harness.resp.ReplyParser`'s table).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from harness.resp._reply import ErrorReply, Push, RespSet, SimpleString, Verbatim

__all__ = [
    "OK",
    "QUEUED",
    "array",
    "bulk",
    "encode_command",
    "encode_reply",
    "error",
    "integer",
    "map_reply",
    "null",
    "null_array",
    "set_reply",
    "simple",
    "verbatim",
]

OK: Final = b"+OK\r\n"
QUEUED: Final = b"+QUEUED\r\n"


def encode_command(*args: bytes | str | int) -> bytes:
    """Encode a command as a RESP multibulk array (what clients and replication send)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def simple(text: str | bytes) -> bytes:
    """``+text``. The text must not contain CR or LF."""
    if isinstance(text, str):
        text = text.encode()
    return b"+" + text + b"\r\n"


def error(text: str | bytes) -> bytes:
    """``-text``: an error reply; ``text`` starts with its prefix (``ERR ...``). Line breaks in
    it become spaces, as Valkey does. Bytes are sent as they are (a client's, echoed)."""
    if isinstance(text, str):
        text = text.encode()
    return b"-" + text.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n"


_SMALL_INTEGERS: Final = [b":%d\r\n" % value for value in range(1024)]


def integer(value: int) -> bytes:
    """``:value``; the replies of 0..1023 (counts, lengths, flags) are built once."""
    if 0 <= value < 1024:
        return _SMALL_INTEGERS[value]
    return b":%d\r\n" % value


def bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def null(protocol: int) -> bytes:
    """The null bulk of RESP2 (``$-1``) or RESP3's null (``_``)."""
    return b"_\r\n" if protocol == 3 else b"$-1\r\n"


def null_array(protocol: int) -> bytes:
    return b"_\r\n" if protocol == 3 else b"*-1\r\n"


def array(items: Iterable[bytes]) -> bytes:
    """An array of already-encoded items."""
    parts = list(items)
    return b"*%d\r\n" % len(parts) + b"".join(parts)


def set_reply(items: Iterable[bytes], protocol: int) -> bytes:
    """A set of already-encoded items: ``~`` in RESP3, an array in RESP2."""
    parts = list(items)
    head = b"~%d\r\n" if protocol == 3 else b"*%d\r\n"
    return head % len(parts) + b"".join(parts)


def map_reply(pairs: Iterable[tuple[bytes, bytes]], protocol: int) -> bytes:
    """A map of already-encoded keys and values: ``%`` in RESP3, a flat array in RESP2."""
    parts = list(pairs)
    if protocol == 3:
        return b"%%%d\r\n" % len(parts) + b"".join(k + v for k, v in parts)
    return b"*%d\r\n" % (2 * len(parts)) + b"".join(k + v for k, v in parts)


def verbatim(text: bytes, protocol: int, format: bytes = b"txt") -> bytes:
    """A verbatim string in RESP3 (``=``), a bulk in RESP2."""
    if protocol == 3:
        return b"=%d\r\n%s:%s\r\n" % (len(text) + 4, format, text)
    return bulk(text)


def encode_reply(value: object, protocol: int = 2) -> bytes:
    """Encode a Python value as a reply (see the table in :mod:`harness.resp._reply`).

    ``str`` is sent as a bulk string; use :class:`SimpleString` for ``+``.
    """
    if value is None:
        return null(protocol)
    if isinstance(value, ErrorReply):
        return error(value.message)
    if isinstance(value, bool):
        if protocol == 3:
            return b"#t\r\n" if value else b"#f\r\n"
        return integer(int(value))
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, float):
        if protocol == 3:
            return b",%s\r\n" % repr(value).encode()
        return bulk(repr(value).encode())
    if isinstance(value, SimpleString):
        return simple(bytes(value))
    if isinstance(value, Verbatim):
        return verbatim(bytes(value), protocol, value.format.encode())
    if isinstance(value, bytes):
        return bulk(value)
    if isinstance(value, str):
        return bulk(value.encode())
    if isinstance(value, Mapping):
        return map_reply(
            ((encode_reply(k, protocol), encode_reply(v, protocol)) for k, v in value.items()),
            protocol,
        )
    if isinstance(value, Push) and protocol == 3:
        return b">%d\r\n" % len(value) + b"".join(encode_reply(v, protocol) for v in value)
    if isinstance(value, RespSet | set | frozenset):
        return set_reply((encode_reply(v, protocol) for v in value), protocol)
    if isinstance(value, list | tuple):
        return array(encode_reply(v, protocol) for v in value)
    raise TypeError(
        f"encode_reply cannot encode a {type(value).__name__}; pass None, bool, int, float, "
        "bytes, str, ErrorReply, a list, set or dict of those"
    )
