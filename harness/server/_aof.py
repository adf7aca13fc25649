"""The append-only file: every applied write, as RESP, replayed on start.

Writes are buffered and flushed by :meth:`AppendOnlyFile.flush`, which the server calls before
it sends any reply (so a reply never gets ahead of the file). ``appendfsync always`` fsyncs
there too; ``everysec`` fsyncs from the once-a-second timer; ``no`` leaves it to the kernel.
A file cut short by a crash is loaded up to its last complete command and truncated there,
like Valkey's ``aof-load-truncated yes``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from harness.resp import ProtocolError, RequestParser

__all__ = ["AppendOnlyFile", "read_commands"]


def read_commands(path: str) -> Iterator[list[bytes]]:
    """Yield the commands of an AOF; truncate a torn tail in place."""
    parser = RequestParser(max_bulk_len=2**40, inline=False)
    good = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            parser.feed(chunk)
            while True:
                try:
                    command = parser.next_command()
                except ProtocolError as exc:
                    exc.add_note(f"while loading the append-only file {path}")
                    raise
                if command is None:
                    break
                yield command
                good = f.tell() - parser.buffered
    size = os.path.getsize(path)
    if good < size:
        with open(path, "r+b") as f:
            f.truncate(good)


class AppendOnlyFile:
    __slots__ = ("_buffer", "_dirty", "_file", "fsync_policy", "path")

    def __init__(self, path: str, fsync_policy: str) -> None:
        self.path = path
        self.fsync_policy = fsync_policy
        self._file = open(path, "ab")  # noqa: SIM115 - lives as long as the server
        self._buffer: list[bytes] = []
        self._dirty = False

    def append(self, data: bytes) -> None:
        self._buffer.append(data)

    def flush(self) -> None:
        if not self._buffer:
            return
        self._file.write(b"".join(self._buffer))
        self._buffer.clear()
        self._file.flush()
        if self.fsync_policy == "always":
            os.fsync(self._file.fileno())
        else:
            self._dirty = True

    def every_second(self) -> None:
        self.flush()
        if self._dirty and self.fsync_policy == "everysec":
            os.fsync(self._file.fileno())
        self._dirty = False

    def rewrite(self, commands: Iterable[bytes]) -> None:
        """Replace the file by ``commands`` (after a full sync, or when turned on live)."""
        self._buffer.clear()
        self._file.close()
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            for command in commands:
                f.write(command)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._file = open(self.path, "ab")  # noqa: SIM115

    def close(self) -> None:
        self.flush()
        self._file.close()
