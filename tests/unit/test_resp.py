"""The sans-IO codec: both request parsers agree on every input; replies round-trip."""

from __future__ import annotations

import time

import pytest
from _deps import missing
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.resp import (
    HAVE_HIREDIS,
    NEED_DATA,
    ErrorReply,
    HiredisRequestParser,
    ProtocolError,
    ReplyParser,
    RequestParser,
    SimpleString,
    encode_command,
    encode_reply,
    split_inline,
)

PARSERS: list[type[RequestParser] | type[HiredisRequestParser]] = (
    [RequestParser, HiredisRequestParser] if HAVE_HIREDIS else [RequestParser]
)


def test_the_hiredis_parser_is_under_test() -> None:
    """The tests below that compare the two parsers need hiredis: its absence fails here
    (the test extra has it) rather than passing them over quietly."""
    if not HAVE_HIREDIS:
        missing("hiredis", "pip install hiredis (the test extra has it)")


def run(
    parser_cls: type, chunks: list[bytes], **kw: object
) -> tuple[list[list[bytes]], str | None]:
    p = parser_cls(**kw)
    out: list[list[bytes]] = []
    try:
        for chunk in chunks:
            p.feed(chunk)
            while (cmd := p.next_command()) is not None:
                out.append(cmd)
    except ProtocolError as exc:
        return out, str(exc)
    return out, None


@pytest.mark.parametrize("cls", PARSERS)
def test_commands_split_anywhere(cls: type) -> None:
    data = encode_command("SET", "k", "v" * 100) + b"PING\r\n" + encode_command("GET", "k")
    for cut in range(len(data)):
        cmds, err = run(cls, [data[:cut], data[cut:]])
        assert err is None
        assert cmds == [[b"SET", b"k", b"v" * 100], [b"PING"], [b"GET", b"k"]]


@pytest.mark.parametrize("cls", PARSERS)
@pytest.mark.parametrize(
    ("data", "kw", "message"),
    [
        (b"*3000000000\r\n", {}, "Protocol error: invalid multibulk length"),
        (b"*01\r\n", {}, "Protocol error: invalid multibulk length"),
        (b"*1\r\n$03\r\nabc\r\n", {}, "Protocol error: invalid bulk length"),
        (b"*1\r\n$11\r\n", {"max_bulk_len": 10}, "Protocol error: invalid bulk length"),
        (b"*11\r\n", {"authenticated": False}, "Protocol error: unauthenticated multibulk length"),
        (
            b"*1\r\n$16385\r\n",
            {"authenticated": False},
            "Protocol error: unauthenticated bulk length",
        ),
        (b"*1\r\n+OK\r\n", {}, "Protocol error: expected '$', got '+'"),
        (b"x" * 65537, {}, "Protocol error: too big inline request"),
        (b"'a\r\n", {}, "Protocol error: unbalanced quotes in request"),
        # a length that counts characters, not bytes: Valkey checks the CRLF after the bulk
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n\xc3\xa9\r\n",
            {},
            "Protocol error: invalid CRLF in request",
        ),
        (b"*1\r\n$4\r\nPINGxx", {}, "Protocol error: invalid CRLF in request"),
        (b"*1\rX$4\r\nPING\r\n", {}, "Protocol error: invalid CRLF in request"),
        (b"*1\r\n$4\rX\r\nPING\r\n", {}, "Protocol error: invalid CRLF in request"),
        (b"PING\r\n*1\r\n$4\r\nPING\rx", {}, "Protocol error: invalid CRLF in request"),
        (
            encode_command("PING") + b"*2\r\n$4\r\nECHO\r\n$2\r\nab\n\r",
            {},
            "Protocol error: invalid CRLF in request",
        ),
    ],
)
def test_limits_and_wording(cls: type, data: bytes, kw: dict[str, object], message: str) -> None:
    assert run(cls, [data], **kw)[1] == message


def test_inline_quoting() -> None:
    assert split_inline(b"set \"a\\x41\\n\" 'b\\'c'  d") == [b"set", b"aA\n", b"b'c", b"d"]
    assert split_inline(b"   ") == []


@pytest.mark.parametrize(
    ("line", "args"),
    [  # each as valkey-server 9.1 splits it
        (b'ECHO "a"b', [b"ECHO", b"ab"]),
        (b"ECHO 'a'b", [b"ECHO", b"ab"]),
        (b"ECHO \"a\"'b'", [b"ECHO", b"ab"]),
        (b'ECHO a"b"', [b"ECHO", b"ab"]),
        (b'ECHO "a\\"', [b"ECHO", b"a\\"]),  # an escape needs a byte after it
        (b"ECHO 'a\\'", [b"ECHO", b"a\\"]),
        (b'ECHO "a\\"\\"', [b"ECHO", b'a"\\']),
        (b'ECHO "a\\"b"', [b"ECHO", b'a"b']),
        (b'ECHO "a\\x4"', [b"ECHO", b"ax4"]),
        (b"ECHO a\x0bb a\x0cb", [b"ECHO", b"a\x0bb", b"a\x0cb"]),  # not separators
        (b"ECHO a\tb", [b"ECHO", b"a", b"b"]),
        (b'ECHO "a\\" ', None),  # unbalanced
        (b'ECHO "a', None),
    ],
)
def test_inline_splitting_is_valkeys(line: bytes, args: list[bytes] | None) -> None:
    assert split_inline(line) == args


@pytest.mark.skipif(not HAVE_HIREDIS, reason="the hiredis parser needs hiredis")
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=20),
            st.sampled_from(
                [
                    b"*",
                    b"$",
                    b"\r\n",
                    b"*2\r\n",
                    b"$3\r\nGET\r\n",
                    b"$1\r\nk\r\n",
                    b"+x\r\n",
                    b":1\r\n",
                    b"*-1\r\n",
                    b"$-1\r\n",
                    b"PING\r\n",
                    b"*0\r\n",
                    # RESP3 and other elements hiredis reads but a request must not hold
                    b"=5\r\ntxt:x\r\n",
                    b"(12\r\n",
                    b"#f\r\n",
                    b"#t\r\n",
                    b"_\r\n",
                    b"~1\r\n",
                    b"%1\r\n",
                    b"|1\r\n",
                    b",1.5\r\n",
                    b"*1000000\r\n",
                    b"*1\r\n$4\r\nPING\r\n",
                ]
            ),
            st.lists(st.binary(max_size=8), min_size=1, max_size=4).map(
                lambda a: encode_command(*a)
            ),
        ),
        max_size=10,
    ),
    st.integers(min_value=1, max_value=40),
)
def test_hiredis_parser_agrees_with_pure(parts: list[bytes], step: int) -> None:
    data = b"".join(parts)
    chunks = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
    assert run(HiredisRequestParser, chunks) == run(RequestParser, chunks)
    assert run(HiredisRequestParser, [data]) == run(RequestParser, [data])


@pytest.mark.skipif(not HAVE_HIREDIS, reason="the hiredis parser needs hiredis")
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_bulk_len": 10}, "Protocol error: invalid bulk length"),
        ({"max_multibulk_len": 2}, "Protocol error: invalid multibulk length"),
        ({"authenticated": False}, "Protocol error: unauthenticated multibulk length"),
    ],
)
def test_limits_changed_between_commands_of_one_read(
    change: dict[str, object], message: str
) -> None:
    # Commands of one read are parsed ahead by the hiredis parser; a limit changed after
    # the first (AUTH state, CONFIG SET proto-max-bulk-len) still applies to the next.
    data = encode_command("PING") + encode_command("SET", "k", "v" * 20, *["x"] * 9)
    for cls in PARSERS:
        p = cls()
        p.feed(data)
        assert p.next_command() == [b"PING"]
        for name, value in change.items():
            setattr(p, name, value)
        with pytest.raises(ProtocolError) as info:
            p.next_command()
        assert str(info.value) == message, cls


@pytest.mark.parametrize("cls", PARSERS)
@pytest.mark.parametrize("kind", list(b"+(=~>|%_#,:!-$*"))
def test_other_element_types_in_a_pipeline(cls: type, kind: int) -> None:
    # Two commands, so the hiredis parser reads the read whole, then a RESP element of
    # another type at the top level and as an argument: hiredis would accept some of them
    # (a set or an attribute as a command, a simple string as an argument); a request
    # parser must not, and both parsers must say the same.
    element = bytes([kind]) + b"2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    two = encode_command("PING") + encode_command("PING")
    top, top_error = run(cls, [two + element])
    inner, inner_error = run(cls, [two + b"*2\r\n$3\r\nGET\r\n" + element])
    assert (top, top_error) == run(RequestParser, [two + element])
    assert (inner, inner_error) == run(RequestParser, [two + b"*2\r\n$3\r\nGET\r\n" + element])
    if kind != ord("*"):
        assert [b"GET", b"k"] not in top and top[:2] == [[b"PING"], [b"PING"]]
    if kind != ord("$"):
        assert inner_error is not None and inner_error.startswith("Protocol error: expected '$'")


@pytest.mark.parametrize("cls", PARSERS)
@pytest.mark.parametrize("kind", "*~>|%")
@pytest.mark.parametrize("before", [b"", encode_command("PING")])
def test_a_huge_declared_aggregate_is_refused_at_once(cls: type, kind: str, before: bytes) -> None:
    # hiredis reserves a slot per declared element: handed `>2000000000` it took most of a
    # minute (allocating, then freeing), with the server's one event loop stuck meanwhile.
    data = before + b"*1\r\n" + kind.encode() + b"2000000000\r\n"
    started = time.monotonic()
    commands, message = run(cls, [data])
    assert time.monotonic() - started < 1.0
    assert commands == ([[b"PING"]] if before else [])
    assert message == f"Protocol error: expected '$', got '{kind}'"


@pytest.mark.skipif(not HAVE_HIREDIS, reason="the hiredis parser needs hiredis")
def test_hiredis_parser_reads_whole_pipelines_and_keeps_the_tail() -> None:
    pipeline = b"".join(encode_command("SET", f"k{i}", "v" * i) for i in range(40))
    for cut in (len(pipeline), len(pipeline) - 1, len(pipeline) - 9, 5):
        p = HiredisRequestParser()
        p.feed(pipeline[:cut])
        got = []
        while (cmd := p.next_command()) is not None:
            got.append(cmd)
        p.feed(pipeline[cut:])
        while (cmd := p.next_command()) is not None:
            got.append(cmd)
        assert got == [[b"SET", b"k%d" % i, b"v" * i] for i in range(40)]
        assert p.buffered == 0


values = st.recursive(
    st.one_of(
        st.none(),
        st.integers(-(2**63), 2**63 - 1),
        st.binary(max_size=20),
        st.booleans(),
        st.builds(
            SimpleString, st.binary(max_size=10).filter(lambda b: b"\r" not in b and b"\n" not in b)
        ),
        st.builds(ErrorReply, st.text("abcXYZ ", min_size=1, max_size=10)),
    ),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=10,
)


@given(values, st.sampled_from([2, 3]), st.integers(min_value=1, max_value=7))
def test_reply_round_trip(value: object, protocol: int, step: int) -> None:
    data = encode_reply(value, protocol)
    p = ReplyParser()
    got: object = NEED_DATA
    for i in range(0, len(data), step):
        assert got is NEED_DATA
        p.feed(data[i : i + step])
        got = p.next_reply()
    expected = value
    if protocol == 2 and isinstance(value, bool):
        expected = int(value)
    if not (protocol == 2 and _has_bool(value)):
        assert got == expected


def _has_bool(value: object) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, list) and any(_has_bool(v) for v in value)


def test_resp3_types() -> None:
    p = ReplyParser()
    p.feed(b"%1\r\n+a\r\n,1.5\r\n~1\r\n#t\r\n_\r\n=7\r\ntxt:abc\r\n(12\r\n|1\r\n+k\r\n+v\r\n:3\r\n")
    assert p.next_reply() == {b"a": 1.5}
    assert p.next_reply() == [True]
    assert p.next_reply() is None
    verbatim = p.next_reply()
    assert verbatim == b"abc" and verbatim.format == "txt"  # type: ignore[attr-defined]
    assert p.next_reply() == 12
    assert p.next_reply() == 3
    assert p.next_reply() is NEED_DATA


@pytest.mark.parametrize("cls", PARSERS)
def test_empty_multibulks_under_a_tiny_bulk_limit(cls: type) -> None:
    # The hiredis path took max() of no argument lengths (a ValueError, not a reply).
    assert run(cls, [b"*0\r\n*0\r\n*1\r\n$1\r\nA\r\n"], max_bulk_len=3) == ([[b"A"]], None)


def test_reply_nesting_is_bounded() -> None:
    # It recursed: ~1000 levels raised RecursionError instead of the codec's own error.
    for depth, kind in ((1000, b"*"), (129, b"~"), (100_000, b"|")):
        p = ReplyParser()
        p.feed((kind + b"1\r\n") * depth + b":1\r\n")
        with pytest.raises(ProtocolError, match="nested deeper than 128 levels"):
            p.next_reply()
    p = ReplyParser()
    p.feed(b"*1\r\n" * 128 + b":7\r\n")
    value = p.next_reply()
    for _ in range(128):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == 7


def test_a_reply_fed_in_pieces_is_parsed_once() -> None:
    # Each feed re-parsed the reply from its first byte: 200000 elements in 4 KiB pieces took
    # 43 s against 0.3 s at once.
    data = encode_reply([b"v%d" % i for i in range(100_000)] + [{b"k": [1, None]}], 3)
    started = time.monotonic()
    p = ReplyParser()
    p.feed(data)
    whole = p.next_reply()
    at_once = time.monotonic() - started
    started = time.monotonic()
    p = ReplyParser()
    got: object = NEED_DATA
    for i in range(0, len(data), 4096):
        assert got is NEED_DATA
        p.feed(data[i : i + 4096])
        got = p.next_reply()
    assert time.monotonic() - started < 10 * at_once + 1.0
    assert got == whole and isinstance(whole, list) and whole[-1] == {b"k": [1, None]}
    assert p.next_reply() is NEED_DATA


def test_attributes_are_skipped_wherever_they_are() -> None:
    p = ReplyParser()
    # an attribute {a: 1} (its value itself annotated by an empty one) on 2, and {x: [3]} on 4
    p.feed(b"*2\r\n|1\r\n+a\r\n|0\r\n:1\r\n:2\r\n|1\r\n+x\r\n*1\r\n:3\r\n:4\r\n")
    assert p.next_reply() == [2, 4]
    p.feed(b"|1\r\n+k\r\n+v\r\n")
    assert p.next_reply() is NEED_DATA
    p.feed(b"%0\r\n")
    assert p.next_reply() == {}
    assert p.next_reply() is NEED_DATA
