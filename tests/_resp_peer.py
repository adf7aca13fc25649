"""A RESP peer played by a test: the commands the other side sends, as they arrive."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

from harness.resp import request_parser


def received_chunks(conn: socket.socket, stop: threading.Event | None = None) -> Iterator[bytes]:
    """The bytes sent on ``conn`` as they arrive, until the peer closes it, reading fails,
    or ``stop`` is set."""
    while stop is None or not stop.is_set():
        try:
            data = conn.recv(1 << 16)
        except OSError:
            return
        if not data:
            return
        yield data


def received_commands(
    conn: socket.socket, stop: threading.Event | None = None
) -> Iterator[list[bytes]]:
    """Each command sent on ``conn``, parsed, until the peer closes it, reading fails, or
    ``stop`` is set."""
    parser = request_parser()
    for data in received_chunks(conn, stop):
        parser.feed(data)
        while (argv := parser.next_command()) is not None:
            yield argv
