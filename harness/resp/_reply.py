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

An incomplete reply is not parsed again from its first byte when more data arrives: the
parser keeps its place (see :class:`ReplyParser`). Nesting is bounded (``max_depth``).
"""

from __future__ import annotations

from typing import Any, Final

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


_BULK_TYPES: Final = frozenset(b"$=!")
_AGGREGATE_TYPES: Final = frozenset(b"*~>%|")
_ATTRIBUTE: Final = 0x7C  # '|'
_PASS: Final = 0
"""The frame of an attribute already read: the next value is the one it annotates."""
DEFAULT_MAX_DEPTH: Final = 128


class ReplyParser:
    """Incremental parser of RESP2/RESP3 replies.

    ``max_bulk_len`` and ``max_aggregate_len`` bound what a declared length may announce
    (a server talking to another server, such as a replica reading its primary's snapshot,
    raises the former); ``max_depth`` bounds how deeply aggregates may nest.

    The parser keeps its place: an aggregate arriving in pieces is parsed once, each element
    as it completes (a stack of the aggregates still open holds what they have so far), so
    feeding a reply in any number of pieces costs what feeding it whole does; nesting takes
    no recursion.
    """

    __slots__ = ("_buf", "_pos", "_stack", "max_aggregate_len", "max_bulk_len", "max_depth")

    def __init__(
        self,
        *,
        max_bulk_len: int = 2**32,
        max_aggregate_len: int = 2**31 - 1,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self._buf = bytearray()
        self._pos = 0
        # The aggregates open around the next element, outermost first:
        # [type byte (_PASS for a read attribute), elements missing, what they hold so far
        #  (a list, or for a map a list of alternating keys and values)].
        self._stack: list[list[Any]] = []
        self.max_bulk_len = max_bulk_len
        self.max_aggregate_len = max_aggregate_len
        self.max_depth = max_depth

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self._pos and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def take_buffer(self) -> bytes:
        """Return and forget the bytes not consumed by a reply (to hand a stream to another
        parser, as a replica does after the handshake). Call it between replies."""
        rest = bytes(self._buf[self._pos :])
        self._buf = bytearray()
        self._pos = 0
        self._stack = []
        return rest

    def next_reply(self) -> object:
        """Return the next complete reply, or :data:`NEED_DATA`.

        Raises :class:`ProtocolError` on bytes that are not RESP, or that break a limit.
        """
        buf = self._buf
        n = len(buf)
        stack = self._stack
        pos = self._pos
        value: object
        while True:
            if pos >= n:
                break
            kind = buf[pos]
            nl = buf.find(b"\r\n", pos + 1)
            if nl < 0:
                break
            line = bytes(buf[pos + 1 : nl])
            after = nl + 2
            if kind in _BULK_TYPES:
                size = _int(line)
                if size < 0:
                    value = None
                else:
                    if size > self.max_bulk_len:
                        raise ProtocolError(f"Protocol error: bulk length {size} exceeds the limit")
                    end = after + size
                    if end + 2 > n:
                        break
                    data = bytes(buf[after:end])
                    after = end + 2
                    if kind == 0x3D:  # '='
                        value = Verbatim(data[4:], data[:3].decode("ascii", "replace"))
                    elif kind == 0x21:  # '!'
                        value = ErrorReply(data.decode("utf-8", "replace"))
                    else:
                        value = data
            elif kind in _AGGREGATE_TYPES:
                count = _int(line)
                if count < 0:
                    value = None
                else:
                    if count > self.max_aggregate_len:
                        raise ProtocolError(
                            f"Protocol error: aggregate length {count} exceeds the limit"
                        )
                    if len(stack) >= self.max_depth:
                        raise ProtocolError(
                            f"Protocol error: aggregates nested deeper than {self.max_depth} levels"
                        )
                    pos = after
                    if kind == _ATTRIBUTE:
                        stack.append([kind, 2 * count, []] if count else [_PASS, 1, []])
                        continue
                    if count:
                        stack.append([kind, 2 * count if kind == 0x25 else count, []])
                        continue
                    value = _aggregate(kind, [])
            elif kind == 0x2B:  # '+'
                value = SimpleString(line)
            elif kind == 0x2D:  # '-'
                value = ErrorReply(line.decode("utf-8", "replace"))
            elif kind == 0x3A or kind == 0x28:  # ':' '('
                value = _int(line)
            elif kind == 0x5F:  # '_'
                value = None
            elif kind == 0x2C:  # ','
                try:
                    value = float(line)
                except ValueError:
                    raise ProtocolError(f"Protocol error: invalid double {line[:32]!r}") from None
            elif kind == 0x23:  # '#'
                if line not in (b"t", b"f"):
                    raise ProtocolError(f"Protocol error: invalid boolean {line[:32]!r}")
                value = line == b"t"
            else:
                raise ProtocolError(f"Protocol error: unknown reply type byte {bytes([kind])!r}")
            pos = after
            # Hand the value to the aggregates it completes, innermost first.
            while stack:
                frame = stack[-1]
                if frame[0] == _PASS:
                    stack.pop()  # the annotated value takes the attribute's place
                    continue
                frame[2].append(value)
                frame[1] -= 1
                if frame[1]:
                    break
                stack.pop()
                if frame[0] == _ATTRIBUTE:
                    stack.append([_PASS, 1, []])
                    break
                value = _aggregate(frame[0], frame[2])
            else:
                self._pos = pos
                return value
        self._pos = pos
        return NEED_DATA


def _aggregate(kind: int, items: list[Any]) -> object:
    if kind == 0x25:  # '%': keys and values alternate
        return {_hashable(items[i]): items[i + 1] for i in range(0, len(items), 2)}
    if kind == 0x7E:  # '~'
        return RespSet(items)
    if kind == 0x3E:  # '>'
        return Push(items)
    return items
