"""Building a RunResult the way the run does: folding examples, failures, the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _report_fixtures import SYNC_LOST, SYNC_OK, build_run, judged

from harness.checker import Verdict
from harness.history import parse_text
from harness.report import (
    ModeResult,
    RunResult,
    TargetInfo,
    property_rows,
    validate_results,
    write_latencies_ns,
)


def verdict(m: ModeResult) -> Verdict:
    return m.valid


def test_add_example_folds_checker_results() -> None:
    m = ModeResult(mode="sync")
    h_ok, ok = judged(SYNC_OK)
    h_lost, lost = judged(SYNC_LOST)
    m.add_example("a", ok, steps=3, duration_s=0.5, history=h_ok, history_path="sync/a.ndjson")
    assert verdict(m) == "unknown"  # writes-resume-after-heal had no evidence
    rec = m.add_example("b", lost, steps=["x", "y"], duration_s=0.25, history=h_lost)
    assert (rec.id, rec.steps, rec.valid, rec.violated) == ("b", 2, False, ["acked-writes-survive"])
    assert (m.examples, m.steps, m.duration_s) == (2, 5, 0.75)
    assert m.valid is False
    p = m.properties["acked-writes-survive"]
    assert (p.valid, p.examples_with_evidence, p.examples_violated) == (False, 2, 1)
    assert p.first_violation is not None and p.first_violation.example == "b"
    assert (
        p.first_violation.explanation == lost["properties"]["acked-writes-survive"]["explanation"]
    )
    assert m.properties["no-holes"].valid is True
    assert m.properties["writes-resume-after-heal"].valid == "unknown"
    assert m.faults_fired == {"failover": 1, "kill": 1}
    st = m.stats
    assert (st.attempted, st.acknowledged, st.rejected, st.indeterminate, st.lost) == (
        5,
        3,
        1,
        1,
        1,
    )
    assert st.max_lag_ms == 300
    # Pooled over both examples' acknowledged writes: 2 ms, 4 ms (SYNC_OK) and 2 ms.
    assert st.write_latency.summary() == {"count": 3, "p50": 2.0, "p99": 4.0, "max": 4.0}
    assert [r.history for r in m.example_records] == ["sync/a.ndjson", None]


def test_one_example_pooled_alone_gives_the_checkers_figures() -> None:
    h, c = judged(SYNC_OK)
    m = ModeResult(mode="sync")
    m.add_example("a", c, steps=1, duration_s=0.0, history=h)
    s = m.stats.write_latency.summary()
    assert {k: s[k] for k in ("p50", "p99", "max")} == c["stats"]["write_latency_ms"]


def test_write_latencies_are_the_acknowledged_client_writes() -> None:
    h = parse_text(
        """
        0..2 p0 append l a
        1..5 p1 append l b -> fail NOREPLICAS
        3..4 observer lag n1 5
        6..9 p0 append l c
        7..8 p1 lrange l -> ok [a c]
        """
    )
    assert write_latencies_ns(h) == [2_000_000, 3_000_000]


def test_an_example_without_a_check_is_recorded_with_its_error() -> None:
    m = ModeResult(mode="none")
    rec = m.add_example(3, None, steps=4, duration_s=1.0, error="server unreachable")
    assert (rec.id, rec.valid, rec.error) == ("3", "unknown", "server unreachable")
    assert m.properties == {} and m.valid == "unknown" and m.examples == 1


def test_record_failure_renders_the_program_and_marks_the_mode(run_dir: Path) -> None:
    result, _ = build_run(run_dir)
    f = result.modes["sync"].failure
    assert f is not None
    assert f.violated == ["acked-writes-survive"]
    assert f.program.splitlines()[:2] == [
        "# ackbound: acked-writes-survive violated in mode sync on target bundled (seed 42)",
        "# replay: ackbound replay RUN",
    ]
    assert f.steps[0] == {"rule": "write", "args": {"workload": "list", "key": 0}}
    assert result.modes["sync"].valid is False
    assert result.valid is False and result.exit_code == 1
    assert result.argv == ["ackbound", "run", "--target", "bundled", "--requirepass", "***"]


def test_a_failure_the_checker_did_not_see_still_counts() -> None:
    result = RunResult.begin(argv=[], target=TargetInfo(name="bundled"))
    h, c = judged(SYNC_OK)
    result.mode("sync").add_example("a", c, steps=1, duration_s=0.1, history=h)
    result.record_failure(
        "sync",
        example="a",
        steps=[],
        check=c,
        shrunk=False,
        violated=["loss-window-bounded"],
        error="oracle: write acknowledged while the lag exceeded L",
    )
    m = result.modes["sync"]
    rows = {r.name: r for r in property_rows(m)}
    assert rows["loss-window-bounded"].valid is False
    assert rows["loss-window-bounded"].explanation.startswith("oracle:")
    assert m.valid is False
    result.finish()
    assert result.valid is False
    assert validate_results(result.to_json()) == []


@pytest.mark.parametrize(
    ("complete", "error", "examples", "valid", "code"),
    [
        (True, None, True, True, 0),
        (False, None, True, "unknown", 2),  # interrupted: never claims valid
        (True, "cluster died", True, "unknown", 2),
        (True, "valkey-server not found", False, "unknown", 3),  # could not run
    ],
)
def test_finish(
    complete: bool, error: str | None, examples: bool, valid: object, code: int
) -> None:
    result = RunResult.begin(argv=[], target=TargetInfo(name="bundled"))
    if examples:
        h, c = judged(SYNC_OK)
        for prop in c["properties"].values():  # make the mode valid
            prop["valid"] = True
        result.mode("sync").add_example("a", c, steps=1, duration_s=0.1, history=h)
    result.finish(complete=complete, error=error)
    assert (result.valid, result.exit_code, result.complete) == (valid, code, complete)
    assert result.finished is not None and result.duration_s >= 0
    assert validate_results(result.to_json()) == []


def test_finish_never_turns_a_violation_into_unknown(run_dir: Path) -> None:
    result, _ = build_run(run_dir)
    result.finish(complete=False)
    assert (result.valid, result.exit_code) == (False, 1)
    result.finish(complete=False, exit_code=130)
    assert result.exit_code == 130


def test_unknown_mode_is_refused() -> None:
    result = RunResult.begin(argv=[], target=TargetInfo(name="bundled"))
    with pytest.raises(ValueError, match="unknown mode 'fast'"):
        result.mode("fast")


def test_json_round_trip(run_dir: Path) -> None:
    result, _ = build_run(run_dir)
    doc = json.loads(json.dumps(result.to_json()))
    again = RunResult.from_json(doc)
    assert again.to_json() == doc
