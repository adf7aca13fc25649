"""history.ndjson: the strict reader's errors, the header, and writer round trips."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _deps import missing

import harness.history._io as _io
from harness.history import (
    FORMAT,
    VERSION,
    Header,
    History,
    HistoryError,
    HistoryWriter,
    Op,
    dump_history,
    load_history,
    parse_lines,
    read_history,
)

HEADER = {"format": FORMAT, "version": VERSION, "mode": "sync"}


def line(obj: object) -> str:
    return json.dumps(obj) + "\n"


def op(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "index": 0,
        "time": 0,
        "process": 0,
        "type": "invoke",
        "f": "write",
        "workload": "list",
        "key": "l",
        "value": "w1",
    }
    base.update(fields)
    return base


def error_of(lines: list[str], source: str = "h.ndjson") -> str:
    with pytest.raises(HistoryError) as info:
        parse_lines(lines, source)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- the reader's errors: each one line naming the file, the line and the fix ----------------

FIELD_ERRORS = [
    (
        [line([1, 2])],
        "h.ndjson:1: each line must be a JSON object",
    ),
    (
        [line({"index": 0, "time": 0, "type": "invoke", "f": "write"})],
        "h.ndjson:1: op is missing the field 'process'; every op needs index, time, process, "
        "type and f",
    ),
    (
        [line(op(colour="red"))],
        "h.ndjson:1: unknown field 'colour'; an op's fields are index, time, process, type, f, "
        "workload, key, value, error, node, final (docs/history.md)",
    ),
    (
        [line(op()), line(op(time=5))],
        "h.ndjson:2: 'index' 0 does not follow the previous op's 0; indices increase line by line",
    ),
    (
        [line(op(index="0"))],
        "h.ndjson:1: 'index' must be an integer; got '0'",
    ),
    (
        [line(op(index=True))],
        "h.ndjson:1: 'index' must be an integer; got True",
    ),
    (
        [line(op(time=10)), line(op(index=1, time=5))],
        "h.ndjson:2: 'time' goes backwards (5 < 10); ops must be in recorded order",
    ),
    (
        [line(op(time=1.5))],
        "h.ndjson:1: 'time' must be integer nanoseconds; got 1.5",
    ),
    (
        [line(op(type="done"))],
        "h.ndjson:1: 'type' must be one of invoke, ok, fail, info; got 'done'",
    ),
    (
        [line(op(process=[1]))],
        "h.ndjson:1: 'process' must be an integer client id or a string",
    ),
    (
        [line(op(f=3))],
        "h.ndjson:1: 'f' must be a string",
    ),
    (
        [line(op(workload="lists"))],
        "h.ndjson:1: 'workload' must be one of register, list, set, counter; got 'lists'",
    ),
    (
        [line(op(key=7))],
        "h.ndjson:1: 'key' must be a string; got 7",
    ),
    (
        [line(op(node=["n1"]))],
        "h.ndjson:1: 'node' must be a string; got ['n1']",
    ),
    (
        [line(op(type="fail", error={"code": 1}))],
        "h.ndjson:1: 'error' must be a string; got {'code': 1}",
    ),
    (
        [line(op(final="yes"))],
        "h.ndjson:1: 'final' must be true or false; got 'yes'",
    ),
    (
        [line({"format": FORMAT, "version": VERSION + 1})],
        f"h.ndjson:1: history format version {VERSION + 1} is newer than this ackbound reads "
        f"({VERSION}); upgrade ackbound",
    ),
    (
        [line({"format": FORMAT})],
        f"h.ndjson:1: header has no 'version' ≥ 1; write {VERSION}",
    ),
    (
        [line({"format": FORMAT, "version": True})],
        f"h.ndjson:1: header has no 'version' ≥ 1; write {VERSION}",
    ),
    (
        [line({"format": FORMAT, "version": -1})],
        f"h.ndjson:1: header has no 'version' ≥ 1; write {VERSION}",
    ),
    (
        [line({"format": "other", "version": 1})],
        f'h.ndjson:1: a header line must come first and have "format": "{FORMAT}"',
    ),
    (
        [line(op()), line(HEADER)],
        f'h.ndjson:2: a header line must come first and have "format": "{FORMAT}"',
    ),
    (
        [line({**HEADER, "mode": 3})],
        "h.ndjson:1: header 'mode' must be a string such as \"sync\"",
    ),
    (
        [line({**HEADER, "params": [1]})],
        "h.ndjson:1: header 'params' must be an object",
    ),
    (
        [line({**HEADER, "topology": {"nodes": [{"name": "n1", "az": "a"}], "primary": "n9"}})],
        "h.ndjson:1: header topology's primary 'n9' is not one of its nodes (n1); name one of them",
    ),
    (
        [
            line(
                {
                    **HEADER,
                    "topology": {"nodes": [{"name": "n1", "az": "a"}, {"name": "n1", "az": "b"}]},
                }
            )
        ],
        "h.ndjson:1: header topology names node 'n1' twice; give each node its own name",
    ),
    (
        [line({**HEADER, "durable_restart": "no"})],
        "h.ndjson:1: header 'durable_restart' must be true or false; got 'no'",
    ),
    (
        [line(op(workload="register", value=["a"]))],
        "h.ndjson:1: a register write's value must be a string such as \"w17\"; got ['a']",
    ),
    (
        [line(op(workload="counter", value="4"))],
        "h.ndjson:1: a counter write's value must be an integer delta; got '4'",
    ),
    (
        [line(op(workload="set", type="ok", value=None))],
        'h.ndjson:1: a set write\'s value must be a string such as "w17"; got None',
    ),
    (
        [line({**HEADER, "topology": {"nodes": ["n1"]}})],
        'h.ndjson:1: header \'topology\' must be {"nodes": [{"name": "n1", "az": "az1"}, ...], '
        '"primary": "n1"}',
    ),
]


@pytest.mark.parametrize(("lines", "message"), FIELD_ERRORS)
def test_reader_rejects_a_bad_line_with_one_line_naming_it(lines: list[str], message: str) -> None:
    assert error_of(lines) == message


def _orjson_loads(text: Any) -> Any:
    """orjson's parser, which the reader uses when it is installed (the test extra has it)."""
    try:
        import orjson
    except ImportError:
        missing("orjson", "pip install orjson (the test extra has it)")
    return orjson.loads(text)


JSON_PARSERS: list[tuple[str, Callable[[Any], Any]]] = [
    ("json", _io._strict_loads),  # the reader's parser without orjson
    ("orjson", _orjson_loads),
]

# (parser, lines, expected message): the parsers word the problem differently; the
# position is always a column of the file's line, and the hint depends on the newline.
JSON_ERRORS = {
    "json": [
        (
            ["{nope\n"],
            "h.ndjson:1: not valid JSON (Expecting property name enclosed in double quotes at "
            "column 2); fix or remove the line",
        ),
        (
            [line(op()), '{"index":1,"time":5,"pro'],
            "h.ndjson:2: not valid JSON (Unterminated string starting at column 21); "
            "the file is truncated",
        ),
    ],
    "orjson": [
        (
            ["{nope\n"],
            "h.ndjson:1: not valid JSON (unexpected character, expected a string key at "
            "column 2); fix or remove the line",
        ),
        (
            [line(op()), '{"index":1,"time":5,"pro'],
            "h.ndjson:2: not valid JSON (unexpected end of data at column 25); "
            "the file is truncated",
        ),
    ],
}


@pytest.mark.parametrize(
    ("parser", "lines", "message"),
    [
        pytest.param(loads, lines, message, id=f"{name}-{i}")
        for name, loads in JSON_PARSERS
        for i, (lines, message) in enumerate(JSON_ERRORS[name])
    ],
)
def test_reader_reports_invalid_json_and_truncation(
    monkeypatch: pytest.MonkeyPatch, parser: Callable[[Any], Any], lines: list[str], message: str
) -> None:
    monkeypatch.setattr(_io, "_loads", parser)
    assert error_of(lines) == message


HOSTILE_VALUES = {
    "NaN": '{"index":1,"time":5,"process":0,"type":"ok","f":"read","workload":"counter","key":"c","value":NaN}',
    "Infinity": '{"index":1,"time":5,"process":0,"type":"ok","f":"read","workload":"counter","key":"c","value":-Infinity}',
    "a number beyond a float": '{"index":1,"time":5,"process":0,"type":"ok","f":"read","workload":"counter","key":"c","value":1e400}',
    "a lone surrogate": '{"index":1,"time":5,"process":0,"type":"ok","f":"read","workload":"register","key":"\\ud800","value":null}',
    "arrays nested 5000 deep": '{"index":1,"time":5,"process":0,"type":"ok","f":"read","workload":"list","key":"l","value":'
    + "[" * 5000
    + "]" * 5000
    + "}",
}


@pytest.mark.parametrize("what", sorted(HOSTILE_VALUES))
@pytest.mark.parametrize(("name", "parser"), JSON_PARSERS, ids=[n for n, _ in JSON_PARSERS])
def test_values_json_does_not_allow_are_refused_by_either_parser(
    monkeypatch: pytest.MonkeyPatch, name: str, parser: Callable[[Any], Any], what: str
) -> None:
    """With orjson or without it, the same lines are refused, in one line naming the line
    (the stdlib's parser alone takes NaN, Infinity and lone surrogates; deep nesting used to
    escape as a RecursionError)."""
    monkeypatch.setattr(_io, "_loads", parser)
    start = line(op(f="read", workload="list", key="l", value=None))
    message = error_of([start, HOSTILE_VALUES[what] + "\n"])
    assert message.startswith("h.ndjson:2: "), message
    assert "JSON" in message, message


def test_a_results_file_too_deep_to_read_is_still_a_bad_history(tmp_path: Path) -> None:
    path = tmp_path / "deep.ndjson"
    path.write_text("[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(HistoryError, match=r"deep\.ndjson:1: "):
        load_history(path)


def test_a_second_header_and_a_negative_first_index_are_named() -> None:
    assert error_of([line(HEADER), line(HEADER), line(op())]) == (
        "h.ndjson:2: a second header line (the first is line 1); keep one"
    )
    assert error_of([line(op(index=-5))]) == "h.ndjson:1: 'index' must be ≥ 0; got -5"


def test_a_lag_observation_that_is_not_whole_ms_is_named() -> None:
    """It used to be dropped without a word, leaving the lag property without evidence."""
    observe = op(process="observer", f="lag", node="n1")
    del observe["workload"], observe["key"], observe["value"]
    lines = [line(observe), line({**observe, "index": 1, "time": 5, "type": "ok", "value": "500"})]
    assert error_of(lines) == (
        "h.ndjson:2: a lag observation's value is whole milliseconds (an integer); got '500'"
    )


@pytest.mark.parametrize(("name", "parser"), JSON_PARSERS, ids=[n for n, _ in JSON_PARSERS])
def test_a_byte_order_mark_is_read_past_by_either_parser(
    monkeypatch: pytest.MonkeyPatch, name: str, parser: Callable[[Any], Any]
) -> None:
    """orjson refused a file an editor had saved with a BOM, the stdlib's parser took it."""
    monkeypatch.setattr(_io, "_loads", parser)
    text = [line(HEADER), line(op())]
    plain = parse_lines(text)
    assert parse_lines(["\ufeff" + text[0], text[1]]) == plain
    assert parse_lines([b"\xef\xbb\xbf" + text[0].encode(), text[1].encode()]) == plain


def test_binary_bytes_are_not_called_a_truncated_file() -> None:
    message = error_of([b"\x00\x01\xff\xfe"])  # type: ignore[list-item]
    assert message.startswith("h.ndjson:1: not valid JSON (")
    assert message.endswith("); the line is not text; is this a history file?")


def test_negative_times_are_refused() -> None:
    """Times are nanoseconds of a monotonic clock; a negative one used to shift what the
    checker takes for 'since the start', turning a violation into unknown."""
    assert error_of([line(op(time=-5))]) == (
        "h.ndjson:1: 'time' must be ≥ 0 (nanoseconds of a monotonic clock); got -5; shift "
        "every op's time by the same amount"
    )


def test_a_file_name_with_a_line_break_is_named_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "no\nsuch.ndjson"
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value) == (
        f"{tmp_path}/no\\nsuch.ndjson: no such file; pass the path of a history.ndjson"
    )


def test_truncated_file_on_disk_is_reported_as_truncated(tmp_path: Path) -> None:
    path = tmp_path / "history.ndjson"
    full = line(HEADER) + line(op()) + line(op(index=1, time=5, type="ok", node="n1"))
    path.write_bytes(full.encode()[:-20])  # the run died mid-line
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value).startswith(f"{path}:3: not valid JSON (")
    assert str(info.value).endswith("); the file is truncated")


def test_missing_file_and_directory_are_named_with_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ndjson"
    with pytest.raises(HistoryError) as info:
        load_history(missing)
    assert str(info.value) == f"{missing}: no such file; pass the path of a history.ndjson"
    with pytest.raises(HistoryError) as info:
        load_history(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}: is a directory; pass its history.ndjson (e.g. {tmp_path / 'history.ndjson'})"
    )


def test_a_gzipped_history_reads_as_the_plain_one_whatever_its_name(tmp_path: Path) -> None:
    plain = tmp_path / "history.ndjson"
    with plain.open("w", encoding="utf-8") as fh:
        dump_history(SAMPLE, fh)
    for name in ("history.ndjson.gz", "history.ndjson"):  # told by its first bytes
        packed = tmp_path / "gz" / name
        packed.parent.mkdir(exist_ok=True)
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        assert load_history(packed) == SAMPLE
    assert read_history(io.BytesIO(gzip.compress(plain.read_bytes()))) == SAMPLE
    assert read_history(io.BytesIO(plain.read_bytes())) == SAMPLE


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_a_history_path_that_is_a_pipe_is_read_without_seeking(
    tmp_path: Path, packed: bool
) -> None:
    """As bash's ``ackbound check <(zcat h.ndjson.gz)`` passes it: /dev/fd/N, a pipe."""
    buf = io.StringIO()
    dump_history(SAMPLE, buf)
    data = buf.getvalue().encode()
    fifo = tmp_path / "history.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as fh:
            fh.write(gzip.compress(data) if packed else data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        assert load_history(fifo) == SAMPLE
    finally:
        writer.join(timeout=30)


def test_a_truncated_or_corrupt_gzip_is_named_with_the_fix(tmp_path: Path) -> None:
    text = (line(HEADER) + line(op()) + line(op(index=1, time=5, type="ok", node="n1"))) * 50
    packed = gzip.compress(text.encode())
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(HistoryError) as info:
        load_history(cut)
    assert str(info.value) == (
        f"{cut}: is truncated (the compressed stream ends early); compress the history "
        "again, or pass it uncompressed"
    )
    with pytest.raises(HistoryError) as info:
        read_history(io.BytesIO(packed[: len(packed) // 2]), source="<stdin>")
    assert str(info.value).startswith("<stdin>: is truncated (the compressed stream ends early)")
    bad = tmp_path / "bad.ndjson.gz"
    bad.write_bytes(packed[:2] + b"\x63" + packed[3:])  # a compression method gzip lacks
    with pytest.raises(HistoryError) as info:
        load_history(bad)
    assert str(info.value).startswith(f"{bad}: is not a readable gzip stream (")
    assert str(info.value).endswith("); compress the history again, or pass it uncompressed")
    assert "\n" not in str(info.value)


def test_a_problem_inside_a_gzipped_history_names_its_line(tmp_path: Path) -> None:
    full = line(HEADER) + line(op()) + line(op(index=1, time=5, type="ok", node="n1"))
    path = tmp_path / "history.ndjson.gz"
    path.write_bytes(gzip.compress(full.encode()[:-20]))  # whole gzip of a cut-off history
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value).startswith(f"{path}:3: not valid JSON (")
    assert str(info.value).endswith("); the file is truncated")


# -- what the reader accepts ----------------------------------------------------------------


def test_header_is_optional_and_blank_lines_are_skipped() -> None:
    h = parse_lines(["\n", line(op()), "   \n", line(op(index=3, time=7, type="ok"))])
    assert h.header == Header()
    assert [(o.index, o.time, o.type) for o in h.ops] == [(0, 0, "invoke"), (3, 7, "ok")]


def test_empty_input_is_an_empty_history() -> None:
    assert parse_lines([]) == History(header=Header(), ops=())


def test_header_fields_are_read_and_unknown_header_keys_kept() -> None:
    header = {
        **HEADER,
        "params": {"sync_replicas": 2, "lag_limit_ms": 1000},
        "topology": {"nodes": [{"name": "n1", "az": "a"}, {"name": "n2", "az": "b"}]},
        "target": "bundled",
        "durable_restart": True,
        "story": "kept as extra",
    }
    h = parse_lines([line(header)])
    assert h.header == Header(
        mode="sync",
        params={"sync_replicas": 2, "lag_limit_ms": 1000},
        topology={"nodes": [{"name": "n1", "az": "a"}, {"name": "n2", "az": "b"}]},
        target="bundled",
        durable_restart=True,
        extra={"story": "kept as extra"},
    )


def test_bytes_and_text_lines_read_the_same() -> None:
    text = [line(HEADER), line(op()), line(op(index=1, time=9, type="ok", node="n1"))]
    assert parse_lines([s.encode() for s in text]) == parse_lines(text)


def test_op_fields_are_read_exactly() -> None:
    obj = op(index=4, time=12, process="nemesis", type="info", f="kill", value={"node": "n1"})
    del obj["workload"], obj["key"]
    obj.update(error="timeout", node="n1", final=True)
    (got,) = parse_lines([line(obj)]).ops
    assert got == Op(
        4, 12, "nemesis", "info", "kill", None, None, {"node": "n1"}, "timeout", "n1", True
    )


def test_indices_and_times_beyond_signed_64_bits_are_read_exactly() -> None:
    # Index and time are kept as signed 64-bit ints where they fit; larger ones are read
    # all the same (by the line-by-line reader), and kept as Python ints in the columns.
    big = 1 << 63
    text = [line(HEADER), line(op(index=big, time=big)), line(op(index=big + 1, time=big + 5))]
    small = [line(HEADER), line(op()), line(op(index=1, time=5))]
    got = parse_lines(text)
    assert [(o.index, o.time) for o in got.ops] == [(big, big), (big + 1, big + 5)]
    assert list(got.columns()[1]) == [big, big + 5]
    assert list(parse_lines(small).columns()[1]) == [0, 5]


def test_ints_beyond_64_bits_anywhere_are_read_as_ints_not_floats() -> None:
    # A fast JSON parser may read such an int as a float: 2**100 would become
    # 1.2676506002282294e+30, and a time of 10**23 the float 1e+23.
    huge, far = 1 << 100, 10**23
    text = [
        line(HEADER),
        line(op(time=far, workload="counter", key="c", value=huge)),
        line(op(index=1, time=far + 1, type="ok", workload="counter", key="c", value=huge)),
        line(op(index=2, time=far + 2, f="read", workload="counter", key="c", value=None)),
        line(op(index=3, time=far + 3, type="ok", f="read", workload="counter", key="c", value=huge)),
    ]  # fmt: skip
    got = parse_lines(text)
    assert [(o.time, o.value) for o in got.ops] == [
        (far, huge), (far + 1, huge), (far + 2, None), (far + 3, huge)
    ]  # fmt: skip
    assert all(type(o.time) is int for o in got.ops)
    # Among a read's items too, which the fast reader let through as a float.
    items = [
        line(HEADER),
        line(op(f="read", value=None)),
        line(op(index=1, type="ok", f="read", value=["w1", huge])),
    ]
    assert [o.value for o in parse_lines(items).ops] == [None, ["w1", huge]]


# -- writing --------------------------------------------------------------------------------

SAMPLE = History(
    header=Header(
        mode="async",
        params={"lag_limit_ms": 1000, "tolerance_ms": 100},
        topology={"nodes": [{"name": "n1", "az": "a"}, {"name": "n2", "az": "b"}], "primary": "n1"},
        target="bundled",
        durable_restart=False,
        extra={"story": "round trip"},
    ),
    ops=(
        Op(0, 10, 0, "invoke", "write", "list", "l", "w1"),
        Op(1, 20, 0, "ok", "write", "list", "l", "w1", node="n1"),
        Op(2, 20, "nemesis", "invoke", "kill", value={"node": "n1"}),
        Op(3, 25, "nemesis", "ok", "kill", value={"node": "n1", "effects": [{"down": "n1"}]}),
        Op(4, 30, 1, "invoke", "write", "counter", "c", 4),
        Op(5, 31, 1, "fail", "write", "counter", "c", 4, error="NOREPLICAS no", node="n1"),
        Op(6, 40, "observer", "invoke", "lag", node="n1"),
        Op(7, 41, "observer", "ok", "lag", value=12, node="n1"),
        Op(8, 50, 0, "invoke", "read", "set", "s", None, final=True),
        Op(9, 51, 0, "ok", "read", "set", "s", ["w1", "wé"], node="n2", final=True),
    ),
)


def test_dump_then_parse_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "history.ndjson"
    with path.open("w", encoding="utf-8") as fh:
        dump_history(SAMPLE, fh)
    assert load_history(path) == SAMPLE
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first == {**SAMPLE.header.to_json(), "format": FORMAT, "version": VERSION}


def test_to_json_omits_absent_fields_but_keeps_a_read_value_of_null() -> None:
    assert SAMPLE.ops[2].to_json() == {
        "index": 2,
        "time": 20,
        "process": "nemesis",
        "type": "invoke",
        "f": "kill",
        "value": {"node": "n1"},
    }
    assert SAMPLE.ops[8].to_json() == {
        "index": 8,
        "time": 50,
        "process": 0,
        "type": "invoke",
        "f": "read",
        "workload": "set",
        "key": "s",
        "value": None,
        "final": True,
    }


def test_writer_streams_every_line_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "history.ndjson"
    with HistoryWriter(path, SAMPLE.header) as writer:
        for o in SAMPLE.ops:
            fields = {k: v for k, v in o._asdict().items() if k not in ("index", "time")}
            writer.record(time_ns=o.time, **fields)
            # Flushed at once: an interrupted run keeps everything recorded so far.
            assert len(path.read_text(encoding="utf-8").splitlines()) == o.index + 2
        assert writer.history() == SAMPLE
    assert load_history(path) == SAMPLE


def test_writer_never_lets_time_go_backwards() -> None:
    writer = HistoryWriter(None, Header())
    writer.record(process=0, type="invoke", f="write", time_ns=100)
    late = writer.record(process=0, type="ok", f="write", time_ns=90)
    assert (late.index, late.time) == (1, 100)


def test_writer_is_safe_to_share_between_threads() -> None:
    writer = HistoryWriter(None, Header())
    per_thread = 500

    def work(p: int) -> None:
        for _ in range(per_thread):
            writer.record(process=p, type="invoke", f="read")

    threads = [threading.Thread(target=work, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ops = writer.ops
    assert [o.index for o in ops] == list(range(4 * per_thread))
    assert all(a.time <= b.time for a, b in itertools.pairwise(ops))
