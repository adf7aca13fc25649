"""Data for the report tests: small hand-written histories, judged by the real checker,
folded into RunResults the way the conformance run folds them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.checker import Params, check
from harness.history import History, dump_history, parse_text
from harness.report import (
    ExampleRecord,
    FirstViolation,
    ModeResult,
    PropertySummary,
    RunResult,
    TargetInfo,
    Topology,
)
from models import Mode

MS = 1_000_000

# sync: w1 acknowledged, the primary killed, failover to n2 which lacks it (lost);
# a clean rejection and a timeout too.
SYNC_LOST = """
mode sync
params K=1 timeout=500 tolerance=100 recovery=2000
nodes n1@a n2@b n3@c
0..2   p0 append l w1
1..3   p1 append l w2 -> fail NOREPLICAS Not enough good replicas
2..5   p2 append l w3 -> info timeout
3      nemesis kill n1
4      nemesis failover n2
5..6   observer lag n2 300
10..11 p0 lrange l -> ok [] final
"""

# sync, nothing goes wrong.
SYNC_OK = """
mode sync
params K=1 timeout=500 tolerance=100 recovery=2000
nodes n1@a n2@b n3@c
0..2 p0 append l w1
3..7 p0 append l w2
10..11 p0 lrange l -> ok [w1 w2] final
"""

# async: a replica partitioned and healed while lag is observed.
ASYNC_OK = """
mode async
params L=1000 tolerance=100 recovery=2000
nodes n1@a n2@b n3@c
0..1   p0 append l w1
2..3   p0 append l w2
2..3   observer lag n2 40
5      nemesis partition n2
6..7   observer lag n3 200
8      nemesis heal
9..10  p0 append l w3
20..21 p0 lrange l -> ok [w1 w2 w3] final
"""

# none: one write per workload, all read back.
NONE_OK = """
mode none
nodes n1@a n2@b
0..1   p0 set r w1
2..3   p1 add s w2
4..5   p0 incr c 4
10..11 p0 get r -> ok w1 final
12..13 p0 smembers s -> ok {w2} final
14..15 p0 count c -> ok 4 final
"""

STEPS = [
    {"rule": "write", "args": {"workload": "list", "key": 0}},
    {"rule": "kill", "args": {"node": "primary"}},
]


def params_of(h: History) -> Params:
    """The checker's parameters from a text history's ``params`` line (ms)."""
    hp = h.header.params
    assert h.header.mode is not None
    return Params(
        mode=Mode(h.header.mode),
        sync_replicas=int(hp.get("sync_replicas", 1)),
        sync_timeout=round(hp.get("sync_timeout_ms", 1000) * MS),
        lag_limit=round(hp.get("lag_limit_ms", 10_000) * MS),
        tolerance=round(hp.get("tolerance_ms", 250) * MS),
        recovery=round(hp.get("recovery_ms", 10_000) * MS),
    )


def judged(text: str) -> tuple[History, dict[str, Any]]:
    h = parse_text(text)
    return h, check(h, params_of(h))


def build_run(run_dir: Path) -> tuple[RunResult, dict[str, History]]:
    """sync (one passing and one failing example, with its failure), async and none."""
    result = RunResult.begin(
        argv=["ackbound", "run", "--target", "bundled", "--requirepass", "hunter2"],
        target=TargetInfo(name="bundled", backend="local", bug="sync-ack-before-replication"),
        topology=Topology.of([("n1", "a"), ("n2", "b"), ("n3", "c")]),
        seed=42,
        budget_s=60,
    )
    histories: dict[str, History] = {}
    for mode, texts in (("sync", [SYNC_OK, SYNC_LOST]), ("async", [ASYNC_OK]), ("none", [NONE_OK])):
        m = result.mode(mode)
        for i, text in enumerate(texts):
            h, c = judged(text)
            path = f"{mode}/example-{i}.ndjson"
            (run_dir / mode).mkdir(parents=True, exist_ok=True)
            with (run_dir / path).open("w", encoding="utf-8") as fh:
                dump_history(h, fh)
            histories[path] = h
            m.add_example(
                f"{mode}-{i}", c, steps=2 + i, duration_s=0.25, history=h, history_path=path
            )
            if c["valid"] is False:
                result.record_failure(
                    mode,
                    example=f"{mode}-{i}",
                    steps=STEPS,
                    check=c,
                    shrunk=True,
                    history=path,
                    run_dir="RUN",
                )
    result.finish(finished=None)
    return result, histories


def tiny_run() -> RunResult:
    """A hand-built result with fixed times and figures, for exact-output tests."""
    result = RunResult(
        version="0.1.0",
        started="2024-05-01T12:00:00.000Z",
        argv=["ackbound", "run", "--mode", "sync"],
        target=TargetInfo(name="bundled", backend="local"),
        topology=Topology.of([("n1", "a"), ("n2", "b")]),
        seed=7,
        budget_s=10.0,
    )
    m = ModeResult(
        mode="sync",
        params={"sync_replicas": 1, "sync_timeout_s": 0.5},
        examples=3,
        steps=12,
        duration_s=1.5,
        faults_fired={"kill": 2},
    )
    m.properties["acked-writes-survive"] = PropertySummary(
        valid=False,
        summary="every acknowledged write survives",
        examples_with_evidence=3,
        examples_violated=1,
        first_violation=FirstViolation(
            example="sync-2", witnesses=[], witness_count=1, explanation="w1 was lost"
        ),
    )
    m.properties["no-holes"] = PropertySummary(
        valid=True, summary="no holes", examples_with_evidence=2
    )
    m.properties["writes-resume-after-heal"] = PropertySummary(summary="writes resume")
    m.stats.attempted = 10
    m.stats.acknowledged = 8
    m.stats.rejected = 1
    m.stats.indeterminate = 1
    m.stats.lost = 1
    m.stats.loss_window_s = 0.25
    m.stats.max_lag_ms = 120
    m.stats.write_latency.add([1_500_000, 2_000_000, 40_000_000])
    for i, violated in enumerate(([], [], ["acked-writes-survive"])):
        m.example_records.append(
            ExampleRecord(
                id=f"sync-{i}",
                steps=4,
                valid=not violated,
                violated=violated,
                duration_s=0.5,
                history=f"sync/example-{i}.ndjson",
            )
        )
    m.valid = False
    result.modes["sync"] = m
    result.finish(finished="2024-05-01T12:00:10.000Z")
    return result
