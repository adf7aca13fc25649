"""The checker's API: verdict merging, crash isolation, applicability, the result's shape."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

import harness.checker._properties as _properties
from harness.checker import (
    PROPERTIES,
    RESULT_SCHEMA,
    Params,
    applicable,
    check,
    describe_witness,
    merge,
)
from harness.history import History, HistoryError, parse_lines, parse_text
from models import Mode

SYNC_LOSS = """
mode sync
nodes n1@a n2@b n3@c
0..2    p0 append l w1
3..5    p1 append l w2
10      nemesis kill n1
20..22  nemesis failover n2
30..31  p0 lrange l -> ok [w1] final
"""


@pytest.mark.parametrize(
    ("verdicts", "merged"),
    [
        ([], "unknown"),
        ([True], True),
        ([True, True], True),
        (["unknown"], "unknown"),
        ([True, "unknown"], "unknown"),
        (["unknown", True], "unknown"),
        ([True, False], False),
        (["unknown", False, True], False),
        ([False, "unknown"], False),
    ],
)
def test_merge_is_false_over_unknown_over_true(verdicts: list[Any], merged: Any) -> None:
    assert merge(verdicts) == merged


def test_applicable_properties_per_mode() -> None:
    common = [
        "no-holes",
        "no-phantom-writes",
        "rejected-writes-not-applied",
        "no-loss-without-failure",
        "writes-resume-after-heal",
    ]
    assert [p.name for p in applicable(Mode.NONE)] == common
    assert [p.name for p in applicable(Mode.SYNC)] == ["acked-writes-survive", *common]
    assert [p.name for p in applicable(Mode.ASYNC)] == [
        "loss-window-bounded",
        "lag-metric-not-underreported",
        *common,
    ]
    assert len({p.name for p in PROPERTIES}) == len(PROPERTIES) == 8


def test_a_crashing_property_is_unknown_with_its_error_and_hides_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(a: object) -> Any:
        raise RuntimeError("boom")

    crashing = tuple(
        dataclasses.replace(p, check=boom) if p.name == "no-holes" else p for p in PROPERTIES
    )
    monkeypatch.setattr(_properties, "PROPERTIES", crashing)
    result = check(parse_text(SYNC_LOSS), Params(mode=Mode.SYNC))
    holes = result["properties"]["no-holes"]
    assert holes["valid"] == "unknown"
    assert holes["error"] == "RuntimeError: boom"
    assert holes["explanation"] == "no-holes: unknown — the check failed: RuntimeError: boom"
    # The other properties are still judged, and the violation still wins the merge.
    assert result["properties"]["acked-writes-survive"]["valid"] is False
    assert result["valid"] is False


def test_a_crash_alone_makes_the_verdict_unknown_never_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "mode none\nnodes n1@a n2@b\n0..1 p0 append l w1\n2..3 p0 lrange l -> ok [w1] final\n"
    assert (
        check(parse_text(text), Params(mode=Mode.NONE))["properties"]["no-holes"]["valid"] is True
    )

    def boom(a: object) -> Any:
        raise ValueError("bad")

    monkeypatch.setattr(
        _properties,
        "PROPERTIES",
        tuple(dataclasses.replace(p, check=boom) for p in PROPERTIES),
    )
    result = check(parse_text(text), Params(mode=Mode.NONE))
    assert {n: p["valid"] for n, p in result["properties"].items()} == {
        p.name: "unknown" for p in applicable(Mode.NONE)
    }
    assert result["valid"] == "unknown"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda h: check("history.ndjson", Params(mode=Mode.SYNC)), "check() judges a History, not a str; read one with load_history(path) (ndjson) or parse_text(text) (the text language)"),
        (lambda h: check(h, "sync"), "check() needs Params, not a str; e.g. Params(mode=Mode.ASYNC)"),
        (lambda h: parse_text(SYNC_LOSS.encode()), "parse_text() takes the history's text as a str, not a bytes; read the file as text (Path.read_text) or decode the bytes first"),
    ],
)  # fmt: skip
def test_the_wrong_type_of_argument_is_named_with_the_fix(call: Any, expected: str) -> None:
    with pytest.raises(TypeError) as err:
        call(parse_text(SYNC_LOSS))
    assert str(err.value) == expected


def test_result_shape() -> None:
    params = Params(mode=Mode.SYNC, sync_replicas=2, sync_timeout=500_000_000)
    result = check(parse_text(SYNC_LOSS), params)
    json.dumps(result)  # plain data
    assert result["schema"] == RESULT_SCHEMA
    assert result["mode"] == "sync"
    assert result["params"] == {
        "sync_replicas": 2,
        "sync_timeout_s": 0.5,
        "lag_limit_s": 10.0,
        "tolerance_s": 0.25,
        "recovery_s": 10.0,
    }
    assert list(result["properties"]) == [p.name for p in applicable(Mode.SYNC)]
    for p in result["properties"].values():
        assert {"valid", "summary", "witnesses", "witness_count", "evidence", "explanation"} <= set(
            p
        )
    stats = result["stats"]
    assert {
        "attempted", "acknowledged", "rejected", "indeterminate", "lost", "acknowledged_judged",
        "loss_window_s", "max_lag_ms", "write_latency_ms", "failovers", "faults",
    } <= set(stats)  # fmt: skip
    assert stats["write_latency_ms"] == {"p50": 2.0, "p99": 2.0, "max": 2.0}
    assert stats["faults"] == {"failover": 1, "kill": 1}
    assert stats["failovers"] == 1


@pytest.mark.parametrize("mode", list(Mode))
def test_timings_name_every_phase_and_leave_the_result_alone(mode: Mode) -> None:
    history = parse_text(SYNC_LOSS)
    timings: dict[str, float] = {}
    result = check(history, Params(mode=mode), timings=timings)
    phases = ["analysis", *(p.name for p in applicable(mode)), "stats"]
    assert list(timings) == phases
    assert all(isinstance(s, float) and s >= 0 for s in timings.values())
    assert json.dumps(result) == json.dumps(check(history, Params(mode=mode)))


def test_witnesses_render_as_sentences() -> None:
    result = check(parse_text(SYNC_LOSS), Params(mode=Mode.SYNC))
    aws = result["properties"]["acked-writes-survive"]
    (w,) = aws["witnesses"]
    assert describe_witness(w) == (
        "write 'w2' to 'l' (ops 2→3) was acknowledged at 0.005 s, which in sync mode puts it "
        "on nodes that survived every failure, yet it is missing from the final reads"
    )
    assert aws["explanation"].splitlines() == [
        "acked-writes-survive: VIOLATED — 1 witness(es) (acknowledged judged 2, unprotected "
        "acks 0, lost 1).",
        "  - " + describe_witness(w),
    ]


def _ops(*objs: dict[str, Any]) -> list[str]:
    return [json.dumps({"index": i, "time": i, **o}) + "\n" for i, o in enumerate(objs)]


W1 = {"process": 0, "f": "write", "workload": "list", "key": "l", "value": "w1"}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            _ops({**W1, "type": "invoke"}, {**W1, "type": "ok"}, {**W1, "type": "invoke"}),
            "h: op 2: value 'w1' was already written to 'l' by op 0; every write needs a unique "
            "value",
        ),
        (
            _ops({"process": 0, "type": "invoke", "f": "write", "value": "w1"}),
            "h: op 0: a write needs 'workload' and 'key'",
        ),
        (
            _ops({"process": 0, "type": "invoke", "f": "read", "workload": "list", "value": None}),
            "h: op 0: a read needs 'workload' and 'key'",
        ),
        (
            _ops({**W1, "type": "ok"}),
            "h: op 0: ok completion by process 0 has no invocation before it; add the invoke line",
        ),
        (
            _ops({**W1, "type": "invoke"}, {**W1, "type": "invoke", "value": "w2"}),
            "h: op 1: process 0 invokes again while op 0 is still open; complete it (ok/fail/info) "
            "first or use a new process id",
        ),
        (
            _ops({**W1, "type": "invoke"}, {**W1, "type": "ok", "f": "read"}),
            "h: op 1: completion f='read' does not match its invocation (op 0, f='write')",
        ),
        (
            _ops(
                {"process": "nemesis", "type": "invoke", "f": "kill"},
                {
                    "process": "nemesis",
                    "type": "ok",
                    "f": "kill",
                    "value": {"effects": [{"boom": "n1"}]},
                },
            ),
            "h: op 1: unknown effect 'boom'; see docs/history.md",
        ),
        (
            _ops(
                {**W1, "type": "invoke"},
                {**W1, "type": "ok"},
                {**W1, "process": "c7", "type": "invoke", "value": "w2"},
            ),
            "h: op 2: a write by process 'c7': a client's process is an int (docs/history.md); "
            "number the clients 0, 1, 2, ...",
        ),
    ],
)
def test_malformed_histories_are_history_errors(lines: list[str], message: str) -> None:
    with pytest.raises(HistoryError) as info:
        check(parse_lines(lines), Params(mode=Mode.NONE), source="h")
    assert str(info.value) == message


def test_only_processes_named_by_an_int_are_clients() -> None:
    # A "write" by the nemesis or an observer is none of the clients' writes: it needs no
    # workload or key, and is not counted among the writes.
    lines = _ops(
        {**W1, "type": "invoke"},
        {**W1, "type": "ok"},
        {"process": "nemesis", "type": "invoke", "f": "write"},
        {"process": "nemesis", "type": "ok", "f": "write", "value": {"effects": []}},
        {"process": "observer", "type": "invoke", "f": "read"},
        {"process": "observer", "type": "ok", "f": "read"},
    )
    result = check(parse_lines(lines), Params(mode=Mode.NONE), source="h")
    assert result["stats"]["attempted"] == 1
    assert result["stats"]["reads"] == 0


def test_times_beyond_64_bits_are_judged_as_any_others() -> None:
    # The checker keeps times as 64-bit ints where they fit; a clock beyond that is judged
    # exactly as the same history with its clock started at zero.
    base = parse_text(SYNC_LOSS)
    shift = 1 << 64
    far = History(header=base.header, ops=tuple(o._replace(time=o.time + shift) for o in base.ops))
    params = Params(mode=Mode.SYNC)
    near_result, far_result = check(base, params), check(far, params)
    assert far_result == near_result
    assert far_result["properties"]["acked-writes-survive"]["valid"] is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "sync"}, "Params.mode must be a Mode (e.g. Mode.SYNC); got 'sync'"),
        ({"mode": Mode.SYNC, "sync_replicas": 0}, "Params.sync_replicas must be an int ≥ 1; got 0"),
        ({"mode": Mode.SYNC, "sync_replicas": -1}, "Params.sync_replicas must be an int ≥ 1; got -1"),
        ({"mode": Mode.ASYNC, "lag_limit": "1000"}, "Params.lag_limit must be a non-negative int of nanoseconds; got '1000'"),
        ({"mode": Mode.NONE, "tolerance": None}, "Params.tolerance must be a non-negative int of nanoseconds; got None"),
        ({"mode": Mode.NONE, "recovery": -5}, "Params.recovery must be a non-negative int of nanoseconds; got -5"),
    ],
)  # fmt: skip
def test_params_that_would_judge_wrongly_are_refused(kwargs: dict[str, Any], message: str) -> None:
    """K < 1 would judge acked-writes-survive valid on any history: refused, not judged."""
    with pytest.raises(ValueError) as exc:
        Params(**kwargs)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("deltas", "read", "verdict", "evidence"),
    [
        ((3, 5), 8, "unknown", 0),  # 8 = 3 + 5, or anything else: the sum shows no delta
        ((1, 4), 1, True, 1),  # distinct powers of two: 1 has no bit of the rejected 4
        ((1, 4), 5, False, 1),
    ],
)
def test_a_counter_read_is_evidence_of_a_rejection_only_when_its_sum_shows_each_delta(
    deltas: tuple[int, int], read: int, verdict: Any, evidence: int
) -> None:
    text = f"""
mode none
nodes n1@a n2@b n3@c
0..2    p0 incr c {deltas[0]}
10..12  p0 incr c {deltas[1]} -> fail NOREPLICAS Not enough good replicas to write.
20..21  p0 count c -> ok {read} final
"""
    prop = check(parse_text(text), Params(mode=Mode.NONE))["properties"][
        "rejected-writes-not-applied"
    ]
    assert (prop["valid"], prop["evidence"]["rejected_then_read"]) == (verdict, evidence)


def test_a_node_read_late_is_judged_on_its_own_not_like_a_node_read_early() -> None:
    """n1 read l while w1 was in flight (cannot tell), n2 read l the same after w1 was
    acknowledged (lost). The two read alike, so n2 was given n1's answer and its hole
    (w1 lost, the later w2 there) went unseen."""
    text = """
mode none
nodes n1@a n2@b n3@c
0..5    p0 append l w1
1..2    p1 lrange l -> ok [] @n1 final
3..4    p1 lrange m -> ok [] @n1 final
6..7    p0 append m w2
10..11  p1 lrange l -> ok [] @n2 final
12..13  p1 lrange m -> ok [w2] @n2 final
"""
    prop = check(parse_text(text), Params(mode=Mode.NONE))["properties"]["no-holes"]
    assert prop["valid"] is False
    assert [w["kind"] for w in prop["witnesses"]] == ["hole"]


def test_evidence_reads_as_words_with_units_and_without_none() -> None:
    result = check(parse_text(SYNC_LOSS), Params(mode=Mode.ASYNC))
    texts = [p["explanation"] for p in result["properties"].values()]
    assert all("None" not in t and " s " not in t.split("(")[0] for t in texts)
    window = result["properties"]["loss-window-bounded"]
    seconds = window["evidence"]["max_window_s"]
    assert f"max window {seconds:.3f} s" in window["explanation"]
    since = result["properties"]["no-loss-without-failure"]
    assert f"since {since['evidence']['since_s']:.3f} s" in since["explanation"]
    calm_text = "mode none\n0..2 p0 append l w1\n30..31 p0 lrange l -> ok [w1] final\n"
    calm = check(parse_text(calm_text), Params(mode=Mode.NONE))
    unfailed = calm["properties"]["no-loss-without-failure"]
    assert unfailed["evidence"]["since_s"] is None and "since" not in unfailed["explanation"]


@pytest.mark.parametrize("mode", [Mode.SYNC, Mode.ASYNC])
def test_a_history_without_topology_is_refused_in_sync_and_async(mode: Mode) -> None:
    """Without nodes and AZs every acknowledgement would look unprotected (a made-up
    topology judged a healthy history violated); mode none needs none."""
    healthy = parse_text(SYNC_LOSS.replace("nodes n1@a n2@b n3@c\n", ""))
    assert healthy.header.topology is None
    with pytest.raises(HistoryError, match=r"^h: the header has no topology, which mode "):
        check(healthy, Params(mode=mode), source="h")
    assert check(healthy, Params(mode=Mode.NONE))["mode"] == "none"
