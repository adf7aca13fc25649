"""Parsing what a server sends a client: RESP2 and RESP3 replies.

Sans-IO like the request parser: ``feed(bytes)``, then ``next_reply()`` returns a reply or
:data:`NEED_DATA`. Python values stand for RESP types:

=====================  ==========================================================
RESP                   Python
=====================  ==========================================================
``+`` simple string    :class:`SimpleString` (a ``bytes`` subclass)
``-`` / ``!`` error    :class:`ErrorReply` (an ``Exception``; returned, never raised)
``:`` / ``(`` integer  ``int``
``$`` bulk string      ``bytes``; ``$-1`` is ``None``
``=`` verbatim         :class:`Verbatim` (``bytes`` with a ``format`` attribute)
``*`` array            ``list``; ``*-1`` is ``None``
``~`` set              :class:`RespSet` (a ``list`` subclass: members may be unhashable)
``>`` push             :class:`Push` (a ``list`` subclass)
``%`` map              ``dict`` (unhashable keys become tuples)
``_`` null             ``None``
``,`` double           ``float``
``#`` boolean          ``bool``
``|`` attribute        skipped; the value it annotates is returned
=====================  ==========================================================

An incomplete reply is re-parsed from its first byte when more data arrives, which is cheap
for the replies a client gets (headers are few, bulks are sliced once complete).
"""

from __future__ import annotations

from typing import Final

from harness.resp._errors import ProtocolError

__all__ = [
    "NEED_DATA",
    "ErrorReply",
    "Push",
    "ReplyParser",
    "RespSet",
    "SimpleString",
    "Verbatim",
]


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()
"""Returned by :meth:`ReplyParser.next_reply` when the buffer holds no complete reply."""


class SimpleString(bytes):
    """A RESP simple string (``+OK``)."""


class Verbatim(bytes):
    """A RESP3 verbatim string; ``format`` is its three-letter type (``txt``, ``mkd``)."""

    format: str

    def __new__(cls, value: bytes, format: str) -> Verbatim:
        obj = super().__new__(cls, value)
        obj.format = format
        return obj


class ErrorReply(Exception):
    """An error reply. ``prefix`` is its first word (``ERR``, ``NOSYNCREPLICAS``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def prefix(self) -> str:
        return self.message.split(" ", 1)[0]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ErrorReply) and other.message == self.message

    def __hash__(self) -> int:
        return hash(self.message)


class RespSet(list):  # type: ignore[type-arg]
    """A RESP3 set, as a list."""


class Push(list):  # type: ignore[type-arg]
    """A RESP3 push message (out-of-band data such as pub/sub messages)."""


class _Incomplete(Exception):
    pass


_INCOMPLETE: Final = _Incomplete()


def _int(line: bytes) -> int:
    if line.isdigit() or (line[:1] in (b"-", b"+") and line[1:].isdigit()):
        return int(line)
    raise ProtocolError(f"Protocol error: invalid length or integer {line[:32]!r}")


def _hashable(value: object) -> object:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple((_hashable(k), _hashable(v)) for k, v in value.items())
    return value


class ReplyParser:
    """Incremental parser of RESP2/RESP3 replies.

    ``max_bulk_len`` and ``max_aggregate_len`` bound what a declared length may announce
    (a server talking to another server, such as a replica reading its primary's snapshot,
    raises the former).
    """

    __slots__ = ("_buf", "_pos", "max_aggregate_len", "max_bulk_len")

    def __init__(self, *, max_bulk_len: int = 2**32, max_aggregate_len: int = 2**31 - 1) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.max_bulk_len = max_bulk_len
        self.max_aggregate_len = max_aggregate_len

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self._pos and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def take_buffer(self) -> bytes:
        """Return and forget the bytes not consumed by a reply (to hand a stream to another
        parser, as a replica does after the handshake)."""
        rest = bytes(self._buf[self._pos :])
        self._buf = bytearray()
        self._pos = 0
        return rest

    def next_reply(self) -> object:
        """Return the next complete reply, or :data:`NEED_DATA`.

        Raises :class:`ProtocolError` on bytes that are not RESP.
        """
        try:
            value, pos = self._parse(self._pos)
        except _Incomplete:
            return NEED_DATA
        self._pos = pos
        return value

    def _line(self, pos: int) -> tuple[bytes, int]:
        nl = self._buf.find(b"\r\n", pos)
        if nl < 0:
            raise _INCOMPLETE
        return bytes(self._buf[pos:nl]), nl + 2

    def _parse(self, pos: int) -> tuple[object, int]:
        buf = self._buf
        if pos >= len(buf):
            raise _INCOMPLETE
        kind = bytes(buf[pos : pos + 1])
        line, pos = self._line(pos + 1)
        if kind == b"+":
            return SimpleString(line), pos
        if kind == b"-":
            return ErrorReply(line.decode("utf-8", "replace")), pos
        if kind == b":" or kind == b"(":
            return _int(line), pos
        if kind == b"$" or kind == b"=" or kind == b"!":
            size = _int(line)
            if size < 0:
                return None, pos
            if size > self.max_bulk_len:
                raise ProtocolError(f"Protocol error: bulk length {size} exceeds the limit")
            end = pos + size
            if end + 2 > len(buf):
                raise _INCOMPLETE
            data = bytes(buf[pos:end])
            if kind == b"=":
                return Verbatim(data[4:], data[:3].decode("ascii", "replace")), end + 2
            if kind == b"!":
                return ErrorReply(data.decode("utf-8", "replace")), end + 2
            return data, end + 2
        if kind in (b"*", b"~", b">", b"%", b"|"):
            count = _int(line)
            if count < 0:
                return None, pos
            if count > self.max_aggregate_len:
                raise ProtocolError(f"Protocol error: aggregate length {count} exceeds the limit")
            if kind in (b"%", b"|"):
                mapping: dict[object, object] = {}
                for _ in range(count):
                    key, pos = self._parse(pos)
                    value, pos = self._parse(pos)
                    mapping[_hashable(key)] = value
                if kind == b"|":
                    return self._parse(pos)
                return mapping, pos
            items: list[object] = []
            for _ in range(count):
                item, pos = self._parse(pos)
                items.append(item)
            if kind == b"~":
                return RespSet(items), pos
            if kind == b">":
                return Push(items), pos
            return items, pos
        if kind == b"_":
            return None, pos
        if kind == b",":
            try:
                return float(line), pos
            except ValueError:
                raise ProtocolError(f"Protocol error: invalid double {line[:32]!r}") from None
        if kind == b"#":
            if line in (b"t", b"f"):
                return line == b"t", pos
            raise ProtocolError(f"Protocol error: invalid boolean {line[:32]!r}")
        raise ProtocolError(f"Protocol error: unknown reply type byte {kind!r}")
