"""Parsing what a client sends a server: multibulk commands and inline commands.

Sans-IO, after h11: ``feed(bytes)`` appends received data, ``next_command()`` returns the next
complete command as a list of ``bytes`` arguments or ``None`` when more data is needed. The
parser owns no socket, no clock and no event loop.

Limits follow Valkey's request parser and its wording, so that a client sees the same
``-ERR Protocol error: ...`` from ackbound's server as from valkey-server:

==================================  =====================================================
input                               error text (the caller replies ``-ERR <text>``, closes)
==================================  =====================================================
``*N`` with N > max_multibulk_len   ``Protocol error: invalid multibulk length``
``*N`` with N > 10, unauthenticated ``Protocol error: unauthenticated multibulk length``
``$L`` with L < 0 or > max_bulk_len ``Protocol error: invalid bulk length``
``$L`` with L > 16384, unauth.      ``Protocol error: unauthenticated bulk length``
not ``$`` where a bulk must start   ``Protocol error: expected '$', got 'x'``
header line longer than 64 KiB      ``Protocol error: too big mbulk count string`` (or bulk)
inline line longer than 64 KiB      ``Protocol error: too big inline request``
inline line with unbalanced quotes  ``Protocol error: unbalanced quotes in request``
==================================  =====================================================

Memory is never reserved from a declared length: a command's argument list grows by one
argument at a time as arguments arrive, and a bulk is sliced out only once all of its bytes
are in the buffer. What a peer can make the parser hold is what it actually sent.

:class:`HiredisRequestParser` is the same parser with hiredis's C ``Reader`` doing the byte
work for multibulk commands of authenticated connections; every limit is still checked, by
a cheap scan of the headers before bytes are handed to hiredis (see its docstring).
"""

from __future__ import annotations

import re
from itertools import chain
from typing import Final

from harness.resp._errors import ProtocolError

__all__ = [
    "DEFAULT_MAX_BULK_LEN",
    "DEFAULT_MAX_MULTIBULK_LEN",
    "INLINE_MAX_SIZE",
    "UNAUTHENTICATED_MAX_ARGS",
    "UNAUTHENTICATED_MAX_BULK_LEN",
    "RequestParser",
    "split_inline",
]

DEFAULT_MAX_BULK_LEN: Final = 512 * 1024 * 1024
DEFAULT_MAX_MULTIBULK_LEN: Final = 2**31 - 1
INLINE_MAX_SIZE: Final = 64 * 1024
UNAUTHENTICATED_MAX_ARGS: Final = 10
UNAUTHENTICATED_MAX_BULK_LEN: Final = 16 * 1024

_STAR: Final = 42  # '*'
_DOLLAR: Final = 36  # '$'
_COMPACT_AT: Final = 64 * 1024
_DIGITS: Final = [len(str(i)) for i in range(10000)]


def _length(line: bytes | bytearray) -> int | None:
    """Parse a RESP length: optional '-' then ASCII digits only (``int()`` alone allows
    whitespace, '+', '_' and leading zeros, which RESP does not)."""
    if line.isdigit():
        if line[0] == 48 and len(line) > 1:  # no leading zeros, like Valkey's string2ll
            return None
        return int(line)
    if line[:1] == b"-" and line[1:].isdigit() and line[1] != 48:
        return -int(line[1:])
    return None


class RequestParser:
    """Incremental parser of client requests (RESP multibulk and inline commands).

    ``authenticated`` may be flipped by the caller between commands (after AUTH); while it is
    false the stricter pre-authentication limits apply.
    """

    __slots__ = (
        "_args",
        "_buf",
        "_pos",
        "_remaining",
        "authenticated",
        "inline",
        "max_bulk_len",
        "max_multibulk_len",
    )

    def __init__(
        self,
        *,
        max_bulk_len: int = DEFAULT_MAX_BULK_LEN,
        max_multibulk_len: int = DEFAULT_MAX_MULTIBULK_LEN,
        authenticated: bool = True,
        inline: bool = True,
    ) -> None:
        self._buf = bytearray()
        self._pos = 0
        # A multibulk command in progress: the arguments seen so far and how many are missing.
        self._args: list[bytes] = []
        self._remaining = 0
        self.max_bulk_len = max_bulk_len
        self.max_multibulk_len = max_multibulk_len
        self.authenticated = authenticated
        self.inline = inline  # False: only RESP arrays (an append-only file holds no other)

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self._pos >= _COMPACT_AT and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received and not yet consumed by a complete command."""
        return len(self._buf) - self._pos

    def next_command(self) -> list[bytes] | None:
        """Return the next complete command, or ``None`` if more bytes are needed.

        Raises :class:`ProtocolError` on malformed input or a broken limit.
        """
        buf = self._buf
        while True:
            if self._remaining:
                return self._continue_multibulk()
            pos = self._pos
            if pos >= len(buf):
                return None
            if buf[pos] == _STAR:
                nl = _header_end(buf, pos)
                if nl < 0:
                    if len(buf) - pos > INLINE_MAX_SIZE:
                        raise ProtocolError("Protocol error: too big mbulk count string")
                    return None
                count = _length(buf[pos + 1 : nl])
                if count is None or count > self.max_multibulk_len:
                    raise ProtocolError("Protocol error: invalid multibulk length")
                if not self.authenticated and count > UNAUTHENTICATED_MAX_ARGS:
                    raise ProtocolError("Protocol error: unauthenticated multibulk length")
                self._pos = nl + 2
                if count <= 0:
                    continue  # an empty or negative multibulk is skipped, like Valkey
                self._remaining = count
                self._args = []
                return self._continue_multibulk()
            if not self.inline:
                raise ProtocolError(
                    f"a command that is not a RESP array (it starts with {bytes(buf[pos : pos + 1])!r})"
                )
            command = self._inline()
            if command is None:
                return None
            if command:
                return command
            # an empty inline line is skipped

    def _continue_multibulk(self) -> list[bytes] | None:
        buf = self._buf
        n = len(buf)
        pos = self._pos
        args = self._args
        remaining = self._remaining
        max_bulk = self.max_bulk_len if self.authenticated else UNAUTHENTICATED_MAX_BULK_LEN
        try:
            while remaining:
                if pos >= n:
                    return None
                nl = _header_end(buf, pos)
                if nl < 0:
                    if n - pos > INLINE_MAX_SIZE:
                        raise ProtocolError("Protocol error: too big bulk count string")
                    return None
                if buf[pos] != _DOLLAR:
                    got = chr(buf[pos])
                    raise ProtocolError(f"Protocol error: expected '$', got '{got}'")
                size = _length(buf[pos + 1 : nl])
                if size is None or size < 0 or size > max_bulk:
                    if self.authenticated or size is None or size < 0:
                        raise ProtocolError("Protocol error: invalid bulk length")
                    raise ProtocolError("Protocol error: unauthenticated bulk length")
                start = nl + 2
                end = start + size
                if end + 2 > n:
                    return None
                if buf[end : end + 2] != b"\r\n":
                    raise ProtocolError("Protocol error: invalid CRLF in request")
                args.append(bytes(buf[start:end]))
                pos = end + 2
                remaining -= 1
        finally:
            self._pos = pos
            self._remaining = remaining
        self._args = []
        return args

    def _inline(self) -> list[bytes] | None:
        buf = self._buf
        pos = self._pos
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if len(buf) - pos > INLINE_MAX_SIZE:
                raise ProtocolError("Protocol error: too big inline request")
            return None
        if nl - pos > INLINE_MAX_SIZE:
            raise ProtocolError("Protocol error: too big inline request")
        line = bytes(buf[pos:nl])
        self._pos = nl + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        args = split_inline(line)
        if args is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request")
        if not self.authenticated and len(args) > UNAUTHENTICATED_MAX_ARGS:
            raise ProtocolError("Protocol error: unauthenticated multibulk length")
        return args


_ESCAPES: Final = {
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
    ord("b"): b"\b",
    ord("a"): b"\a",
}
_SPACE: Final = frozenset(b" \t\r\n")  # Valkey 9 splits on these; \v and \f are argument bytes
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")


def _header_end(buf: bytearray, pos: int) -> int:
    """Where the ``*N`` or ``$N`` header at ``pos`` ends: its CR, which must be followed by
    LF (else ``invalid CRLF in request``, as Valkey says); -1 while it has not all arrived."""
    cr = buf.find(b"\r", pos)
    if cr < 0 or cr + 1 >= len(buf):
        return -1
    if buf[cr + 1] != 0x0A:
        raise ProtocolError("Protocol error: invalid CRLF in request")
    return cr


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline command line into arguments, or return ``None`` on unbalanced quotes.

    As Valkey 9 splits them: arguments are separated by spaces, tabs, CRs and LFs.
    ``"..."`` quotes allow the escapes ``\\n \\r \\t \\b \\a \\\\ \\"`` and ``\\xHH``;
    ``'...'`` quotes allow only ``\\'``; an escape needs a byte after it on the line (so a
    line ending ``"a\\"`` holds ``a\\``). A quoted part and what follows it without a space
    make one argument (``"a"b`` is ``ab``).
    """
    args: list[bytes] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_double = in_single = False
        while True:
            if in_double:
                if i >= n:
                    return None
                c = line[i]
                if (
                    c == 92
                    and i + 3 < n
                    and line[i + 1] == ord("x")
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and i + 2 < n:
                    i += 1
                    current += _ESCAPES.get(line[i], bytes([line[i]]))
                elif c == 34:
                    in_double = False
                else:
                    current.append(c)
            elif in_single:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 2 < n and line[i + 1] == 39:
                    i += 1
                    current.append(39)
                elif c == 39:
                    in_single = False
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in _SPACE:
                    break
                if c == 34:
                    in_double = True
                elif c == 39:
                    in_single = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))


class HiredisRequestParser:
    """:class:`RequestParser` with hiredis's C ``Reader`` parsing multibulk commands.

    Same interface and same results as :class:`RequestParser` (the tests run every case
    through both); many times faster per command. hiredis sees only data of an authenticated
    connection that arrived in one ``feed`` and starts with ``*``; everything else - inline
    commands, unauthenticated connections, a command split across reads, anything hiredis
    would reject - is handed, from its first byte, to the pure parser, which applies the
    limits and words the error.

    Two paths, tried in order on each chunk:

    - **whole chunk** (the common case: one command, or a pipeline): hiredis parses the
      entire chunk at once.
      It is taken only when the chunk cannot hold anything hiredis reads differently from
      the pure parser - no ``+ ( = ~ > | %`` right after a CRLF (``_NOT_CANONICAL``)
      and no more bytes than the bulk limit (so no complete argument can break it) - and
      every value hiredis returns is a non-empty list of bytes. Anything else (an
      exception, an integer, a nil, an empty array) and the chunk goes to the careful path
      from its first byte. An incomplete last command goes to the pure parser, from the
      offset the complete commands add up to. A limit changed while parsed commands wait
      (AUTH state, CONFIG SET proto-max-bulk-len) is re-checked on each of them.
    - **careful**: before each command its ``*N`` header is read here and the command goes
      to the pure parser if N breaks a limit or the bytes received cannot hold N arguments:
      hiredis must never size anything from a declared length (a chunk holding any aggregate
      header - ``* ~ > | %`` - of six digits or more, nested ones too, goes to the pure
      parser whole).
    """

    __slots__ = (
        "_chunk",
        "_chunk_typed",
        "_pending",
        "_pure",
        "_reader",
        "_reader_type",
        "_recheck",
        "_start",
    )

    def __init__(
        self,
        *,
        max_bulk_len: int = DEFAULT_MAX_BULK_LEN,
        max_multibulk_len: int = DEFAULT_MAX_MULTIBULK_LEN,
        authenticated: bool = True,
    ) -> None:
        import hiredis

        self._reader_type = hiredis.Reader
        self._reader = hiredis.Reader()
        self._pure = RequestParser(
            max_bulk_len=max_bulk_len,
            max_multibulk_len=max_multibulk_len,
            authenticated=authenticated,
        )
        # The chunk hiredis holds on the careful path, and where its first unparsed command
        # starts.
        self._chunk = b""
        self._start = 0
        self._chunk_typed = False
        """The chunk holds one of _TYPE_BYTES (so _NOT_CANONICAL must be searched)."""
        # Commands of a whole chunk, parsed and not returned yet, in reverse order.
        self._pending: list[list[bytes]] = []
        self._recheck = False

    @property
    def authenticated(self) -> bool:
        return self._pure.authenticated

    @authenticated.setter
    def authenticated(self, value: bool) -> None:
        self._pure.authenticated = value
        self._recheck = True

    @property
    def max_bulk_len(self) -> int:
        return self._pure.max_bulk_len

    @max_bulk_len.setter
    def max_bulk_len(self, value: int) -> None:
        self._pure.max_bulk_len = value
        self._recheck = True

    @property
    def max_multibulk_len(self) -> int:
        return self._pure.max_multibulk_len

    @max_multibulk_len.setter
    def max_multibulk_len(self, value: int) -> None:
        self._pure.max_multibulk_len = value
        self._recheck = True

    @property
    def buffered(self) -> int:
        waiting = _total_size(self._pending) if self._pending else 0
        return len(self._chunk) - self._start + self._pure.buffered + waiting

    def feed(self, data: bytes) -> None:
        if self._chunk:
            self._to_pure()
        pure = self._pure
        if (
            self._pending
            or pure._pos < len(pure._buf)
            or pure._remaining
            or not pure.authenticated
            or data[:1] != b"*"
        ):
            pure.feed(data)
            return
        chunk = bytes(data)
        if chunk.count(b"*") == 1:  # one command at most, and no nested array header
            if self._one(chunk):
                return
            if _BIG_HEADER.search(chunk):  # the careful path hands hiredis nested headers too
                pure.feed(chunk)
                return
        elif _BIG_HEADER.search(chunk):
            pure.feed(chunk)
            return
        elif self._whole(chunk):
            return
        self._chunk = chunk
        self._start = 0
        self._chunk_typed = len(chunk.translate(None, _TYPE_BYTES)) != len(chunk)
        self._reader.feed(chunk)

    def _one(self, chunk: bytes) -> bool:
        """The whole-chunk path for a chunk with a single ``*`` (no pipelining): the same
        checks as :meth:`_whole`, for one command; False: use the careful path."""
        pure = self._pure
        n = len(chunk)
        nl = chunk.find(b"\r\n")
        if not 0 < nl < 7 or n > pure.max_bulk_len:  # `*N` of 6 digits or more: careful
            return False
        if len(chunk.translate(None, _TYPE_BYTES)) != n and _NOT_CANONICAL.search(chunk):
            return False
        reader = self._reader
        reader.feed(chunk)
        try:
            command = reader.gets()
            if command is False:  # not complete yet
                self._reader = self._reader_type()
                pure.feed(chunk)
                return True
            if type(command) is not list or not command:
                raise _Unsure
            joined = b"\0".join(command)  # TypeError unless every argument is bytes
        except Exception:
            self._reader = self._reader_type()
            return False
        if len(command) > pure.max_multibulk_len:
            self._reader = self._reader_type()
            return False
        try:
            digits = sum(map(_DIGITS.__getitem__, map(len, command)))
        except IndexError:
            digits = sum(len(str(len(arg))) for arg in command)
        payload = len(joined) - len(command) + 1
        consumed = nl + 2 + payload + 5 * len(command) + digits
        if not _crlf_where_due(chunk, 0, consumed, [command], joined):
            self._reader = self._reader_type()
            return False
        if consumed != n:  # something after the command (an inline command, a partial one)
            self._reader = self._reader_type()
            pure.feed(chunk[consumed:])
        self._pending = [command]
        self._recheck = False
        return True

    def _whole(self, chunk: bytes) -> bool:
        """The whole-chunk path (see the class docstring); False: use the careful path."""
        pure = self._pure
        n = len(chunk)
        if n > pure.max_bulk_len or n > 6 * pure.max_multibulk_len:
            return False
        if len(chunk.translate(None, _TYPE_BYTES)) != n and _NOT_CANONICAL.search(chunk):
            return False
        reader = self._reader
        reader.feed(chunk)
        try:
            first = reader.gets()
            if first is False:  # not even one complete command
                self._reader = self._reader_type()
                pure.feed(chunk)
                return True
            second = reader.gets()
            if second is False:  # one command: the usual case without pipelining
                if type(first) is not list or not first:
                    raise _Unsure
                commands = [first]
                args = first
            else:
                commands = [first, second]
                append = commands.append
                while (command := reader.gets()) is not False:
                    append(command)
                if set(map(type, commands)) - _LIST or not all(commands):
                    raise _Unsure
                args = list(chain.from_iterable(commands))
            joined = b"\0".join(args)  # TypeError unless every argument is bytes
        except Exception:
            self._reader = self._reader_type()
            return False
        consumed = _total_size(commands, args, len(joined) - len(args) + 1)
        if not _crlf_where_due(chunk, 0, consumed, commands, joined):
            self._reader = self._reader_type()
            return False
        if consumed != n:
            # An incomplete last command (or a top-level ``#f``, which reads as hiredis's
            # "nothing yet"): the pure parser takes the rest from where it starts. hiredis
            # does not say how far it got, but with _NOT_CANONICAL ruled out every element
            # it returned was a canonical bulk, so the sizes add up to that offset.
            self._reader = self._reader_type()
            pure.feed(chunk[consumed:])
        commands.reverse()
        self._pending = commands
        self._recheck = False
        return True

    def _to_pure(self) -> None:
        """Hand what hiredis has not parsed yet to the pure parser."""
        self._pure.feed(self._chunk[self._start :])
        self._chunk = b""
        self._start = 0
        self._reader = self._reader_type()

    def next_command(self) -> list[bytes] | None:
        if self._pending:
            command = self._pending.pop()
            if self._recheck:
                self._check(command)
            return command
        chunk = self._chunk
        if not chunk:
            pure = self._pure
            if pure._remaining or pure._pos < len(pure._buf):
                return pure.next_command()
            return None
        start = self._start
        n = len(chunk)
        if start >= n:
            self._chunk = b""
            self._start = 0
            return self._pure.next_command()
        if chunk[start] != _STAR:
            self._to_pure()
            return self._pure.next_command()
        nl = chunk.find(b"\r\n", start)
        count = _length(chunk[start + 1 : nl]) if nl > 0 else None
        # Each argument takes at least 6 bytes ("$0\r\n\r\n").
        if count is None or count > self._pure.max_multibulk_len or count * 6 > n - nl:
            self._to_pure()
            return self._pure.next_command()
        try:
            command = self._reader.gets()
        except Exception:
            self._to_pure()
            return self._pure.next_command()
        if type(command) is not list:
            self._to_pure()
            return self._pure.next_command()
        # hiredis does not say how many bytes it consumed. Every argument is a bulk in
        # canonical form (hiredis rejects any other length spelling), so the size follows
        # from the argument lengths - unless an argument was a simple string, big number or
        # verbatim string, which hiredis also returns as bytes: one of _NOT_CANONICAL in the
        # span (which holds the first such element: the sizes agree up to it) sends the
        # command to the pure parser (a false alarm from a value only costs speed).
        lens = [len(arg) for arg in command if type(arg) is bytes]
        if len(lens) != len(command):
            self._to_pure()
            return self._pure.next_command()
        try:
            digits = sum([_DIGITS[size] for size in lens])
        except IndexError:
            digits = sum([len(str(size)) for size in lens])
        end = nl + 2 + sum(lens) + 5 * len(lens) + digits
        if (
            end > n
            or (self._chunk_typed and _NOT_CANONICAL.search(chunk, start, end))
            or not _crlf_where_due(chunk, start, end, [command], b"\0".join(command))
        ):
            self._to_pure()
            return self._pure.next_command()
        if end - start > self._pure.max_bulk_len and max(lens, default=0) > self._pure.max_bulk_len:
            self._to_pure()
            return self._pure.next_command()
        self._start = end
        if not command:
            return self.next_command()
        return command

    def _check(self, command: list[bytes]) -> None:
        """The pure parser's limits, in its order, on a command parsed before they changed."""
        pure = self._pure
        if len(command) > pure.max_multibulk_len:
            raise ProtocolError("Protocol error: invalid multibulk length")
        if not pure.authenticated and len(command) > UNAUTHENTICATED_MAX_ARGS:
            raise ProtocolError("Protocol error: unauthenticated multibulk length")
        max_bulk = pure.max_bulk_len if pure.authenticated else UNAUTHENTICATED_MAX_BULK_LEN
        for arg in command:
            if len(arg) > max_bulk:
                if pure.authenticated:
                    raise ProtocolError("Protocol error: invalid bulk length")
                raise ProtocolError("Protocol error: unauthenticated bulk length")


def _crlf_where_due(
    chunk: bytes, start: int, end: int, commands: list[list[bytes]], joined: bytes
) -> bool:
    """Whether ``chunk[start:end]``, parsed by hiredis as ``commands`` (their arguments
    ``joined`` by NUL), has a CRLF wherever the protocol wants one: after each header and
    each argument. hiredis skips two bytes after an argument without looking at them, so a
    wrong length reads as a shorter argument; the CRLFs then do not add up (those inside
    arguments counted apart), and the pure parser says where."""
    due = len(commands) + 2 * sum(map(len, commands)) + joined.count(b"\r\n")
    return chunk.count(b"\r\n", start, end) == due


class _Unsure(Exception):
    """hiredis returned something the pure parser might read differently."""


# What sends a chunk to the careful path: an element type byte right after a CRLF (inside a
# value too: that only costs speed) that hiredis reads differently from the pure parser.
# Simple strings (+), big numbers (() and verbatim strings (=) come back as bytes, so they
# would pass as bulk arguments and make the sizes below lie; sets (~), pushes (>) and
# attributes (|) come back as lists, so at the top level they would pass as commands, and
# maps (%) as a dict. The pure parser rejects the first kind and reads the second as inline.
_NOT_CANONICAL: Final = re.compile(rb"\r\n[+=(~>|%]")
_TYPE_BYTES: Final = b"+=(~>|%"
"""The same bytes anywhere: a cheap test that skips the search for most chunks."""
# An aggregate header (array, set, push, attribute, map) of 100000 elements or more, anywhere
# in a chunk (a nested one too), sends the chunk to the pure parser: hiredis reserves memory
# for a declared aggregate size (``>2000000000`` froze the event loop for most of a minute),
# and the pure parser refuses any aggregate at once.
_BIG_HEADER: Final = re.compile(rb"[*~>|%][0-9]{6}")
_LIST: Final = frozenset([list])


def _total_size(
    commands: list[list[bytes]], args: list[bytes] | None = None, payload: int | None = None
) -> int:
    """Bytes of ``commands`` in canonical multibulk form: ``*N\r\n`` then
    ``$L\r\n<L bytes>\r\n`` per argument (``args``: all their arguments in order, and
    ``payload``: the sum of their lengths, when the caller has them)."""
    if args is None:
        args = list(chain.from_iterable(commands))
    if payload is None:
        payload = sum(map(len, args))
    digit = _DIGITS.__getitem__
    try:
        digits = sum(map(digit, map(len, args))) + sum(map(digit, map(len, commands)))
    except IndexError:
        digits = sum(len(str(len(a))) for a in args) + sum(len(str(len(c))) for c in commands)
    return 3 * len(commands) + payload + 5 * len(args) + digits
