"""A sans-IO RESP2/RESP3 codec: bytes in, values out; values in, bytes out.

Nothing here touches a socket, a clock or an event loop, so the same code serves the bundled
server, the replica link, test clients and the fuzzer. Parse requests (what clients send)
with :func:`request_parser`; parse replies (what servers send) with :class:`ReplyParser`;
build bytes with :func:`encode_command`, :func:`encode_reply` and the small reply builders.

>>> p = request_parser()
>>> p.feed(b"*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\nPING\\r\\n")
>>> p.next_command(), p.next_command(), p.next_command()
([b'GET', b'k'], [b'PING'], None)
"""

from __future__ import annotations

from harness.resp._encode import (
    OK,
    QUEUED,
    array,
    bulk,
    encode_command,
    encode_reply,
    error,
    integer,
    map_reply,
    null,
    null_array,
    set_reply,
    simple,
    verbatim,
)
from harness.resp._errors import ProtocolError
from harness.resp._reply import (
    NEED_DATA,
    ErrorReply,
    Push,
    ReplyParser,
    RespSet,
    SimpleString,
    Verbatim,
)
from harness.resp._request import (
    DEFAULT_MAX_BULK_LEN,
    DEFAULT_MAX_MULTIBULK_LEN,
    INLINE_MAX_SIZE,
    UNAUTHENTICATED_MAX_ARGS,
    UNAUTHENTICATED_MAX_BULK_LEN,
    HiredisRequestParser,
    RequestParser,
    split_inline,
)

__all__ = [
    "DEFAULT_MAX_BULK_LEN",
    "DEFAULT_MAX_MULTIBULK_LEN",
    "HAVE_HIREDIS",
    "INLINE_MAX_SIZE",
    "NEED_DATA",
    "OK",
    "QUEUED",
    "UNAUTHENTICATED_MAX_ARGS",
    "UNAUTHENTICATED_MAX_BULK_LEN",
    "ErrorReply",
    "HiredisRequestParser",
    "ProtocolError",
    "Push",
    "ReplyParser",
    "RequestParser",
    "RespSet",
    "SimpleString",
    "Verbatim",
    "array",
    "bulk",
    "encode_command",
    "encode_reply",
    "error",
    "integer",
    "map_reply",
    "null",
    "null_array",
    "request_parser",
    "set_reply",
    "simple",
    "split_inline",
    "verbatim",
]

try:
    import hiredis as _hiredis  # noqa: F401

    HAVE_HIREDIS = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_HIREDIS = False


def request_parser(
    *,
    max_bulk_len: int = DEFAULT_MAX_BULK_LEN,
    max_multibulk_len: int = DEFAULT_MAX_MULTIBULK_LEN,
    authenticated: bool = True,
    use_hiredis: bool | None = None,
) -> RequestParser | HiredisRequestParser:
    """Return the fastest request parser available.

    ``use_hiredis=None`` picks :class:`HiredisRequestParser` when hiredis is installed (it
    parses commands about fifteen times faster; see docs/perf-server.md), else the pure
    :class:`RequestParser`. Both behave identically.
    """
    if use_hiredis is None:
        use_hiredis = HAVE_HIREDIS
    cls = HiredisRequestParser if use_hiredis else RequestParser
    return cls(
        max_bulk_len=max_bulk_len,
        max_multibulk_len=max_multibulk_len,
        authenticated=authenticated,
    )
