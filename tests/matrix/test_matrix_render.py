"""The matrix's data and page, from synthetic cells: records, verdict texts, the comparison CI
runs, and the rendered docs/matrix.md — all asserted exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness._errors import AckboundError
from harness.cli import main
from harness.cli._matrix import (
    MATRIX_SCHEMA,
    SHORT_CELLS,
    STANDARD_FAULTS,
    Cell,
    _parse_rows,
    cell_record,
    compare_sections,
    render_markdown,
    verdict_text,
)

PROGRAM = (
    "from harness.run import replay_program\n"
    'state = replay_program(target="valkey", mode="async", seed=1)\n'
    'state.episode(fault="slow-link", node="replicas", hold_ms=2500, then="failover")\n'
    "state.teardown()\n"
)


def _results(
    mode: str, props: dict[str, Any], *, failure: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A results.json with the fields the matrix reads (docs/results.md)."""
    valid: Any = True
    if any(v is False for v in props.values()):
        valid = False
    elif any(v == "unknown" for v in props.values()):
        valid = "unknown"
    return {
        "exit_code": {True: 0, False: 1, "unknown": 2}[valid],
        "error": None,
        "modes": {
            mode: {
                "valid": valid,
                "examples": 12,
                "params": {"lag_limit_s": 1.0, "tolerance_s": 1.0, "sync_timeout_s": 1.0},
                "properties": {
                    name: {
                        "valid": v,
                        "first_violation": (
                            {"explanation": f"{name}: VIOLATED — 1 witness(es)"}
                            if v is False
                            else None
                        ),
                    }
                    for name, v in props.items()
                },
                "stats": {
                    "acknowledged": 900,
                    "lost": 7,
                    "rejected": 40,
                    "loss_window_s": 2.5216,
                    "max_lag_ms": None,
                    "write_latency_ms": {"count": 900, "p50": 1.234, "p99": 25.5, "max": 80.0},
                },
                "failure": failure,
            }
        },
    }


FAILURE = {
    "example": "async-0029",
    "steps": [{"rule": "episode", "args": {}}, {"rule": "heal", "args": {}}],
    "program": PROGRAM,
    "shrunk": True,
    "flaky": False,
    "violated": ["loss-window-bounded"],
}


def _cell(target: str, backend: str, mode: str) -> Cell:
    return Cell(target=target, backend=backend, mode=mode, seed=1, budget_s=120)


def _doc() -> dict[str, Any]:
    run_dir = Path("ackbound-runs/matrix")
    cells = {}
    for cell, results in [
        (
            _cell("bundled", "local", "sync"),
            _results("sync", {"acked-writes-survive": True, "no-holes": True}),
        ),
        (
            _cell("valkey", "docker", "async"),
            _results(
                "async",
                {
                    "loss-window-bounded": False,
                    "lag-metric-not-underreported": "unknown",
                    "no-holes": True,
                },
                failure=FAILURE,
            ),
        ),
        (
            _cell("redis", "local", "async"),
            _results(
                "async", {"loss-window-bounded": True, "lag-metric-not-underreported": "unknown"}
            ),
        ),
    ]:
        rec = cell_record(cell, "ackbound " + " ".join(cell.run_args(run_dir)), results)
        rec["duration_s"] = 131.0
        cells[cell.id] = rec
    section = {
        "command": "ackbound matrix --out docs/matrix.md --run-dir ackbound-runs/matrix",
        "version": "0.1.0",
        "started": "2026-01-02T03:04:05.000Z",
        "duration_s": 2400.0,
        "machine": "Linux x86_64, 2 CPUs",
        "versions": {"python": "3.11.7", "commit": "abc123", "valkey": "9.1.2"},
        "run_dir": "ackbound-runs/matrix",
        "cells": cells,
    }
    short_cell = dict(cells["valkey/docker/async/1"], examples_asked=29, duration_s=80.0)
    short_cell["why_stable"] = "the counterexample is example 29 of seed 1"
    short = dict(section, command="ackbound matrix --short", duration_s=90.0)
    short["cells"] = {"valkey/docker/async/1": short_cell}
    return {"schema": MATRIX_SCHEMA, "full": section, "short": short}


def test_cell_record_keeps_what_the_page_shows() -> None:
    cell = _cell("valkey", "docker", "async")
    results = _results(
        "async",
        {"loss-window-bounded": False, "lag-metric-not-underreported": "unknown"},
        failure=FAILURE,
    )
    assert cell_record(cell, "ackbound run ...", results) == {
        "target": "valkey",
        "backend": "docker",
        "mode": "async",
        "seed": 1,
        "budget_s": 120,
        "examples_asked": None,
        "command": "ackbound run ...",
        "verdict": False,
        "violated": ["loss-window-bounded"],
        "unknown": ["lag-metric-not-underreported"],
        "exit_code": 1,
        "examples": 12,
        "acknowledged": 900,
        "lost": 7,
        "rejected": 40,
        "loss_window_s": 2.5216,
        "write_p50_ms": 1.234,
        "write_p99_ms": 25.5,
        "max_lag_ms": None,
        "lag_limit_s": 1.0,
        "tolerance_s": 1.0,
        "duration_s": None,
        "failure": {
            "example": "async-0029",
            "violated": ["loss-window-bounded"],
            "steps": 2,
            "shrunk": True,
            "flaky": False,
            "program": PROGRAM,
            "explanation": "loss-window-bounded: VIOLATED — 1 witness(es)",
        },
        "error": None,
    }


def test_a_cell_without_results_could_not_run() -> None:
    rec = cell_record(_cell("redis", "local", "none"), "ackbound run ...", None)
    assert (rec["verdict"], rec["exit_code"], verdict_text(rec)) == ("error", 3, "could not run")


@pytest.mark.parametrize(
    ("exit_code", "error", "props", "verdict"),
    [
        (3, "the cluster broke in 3 examples in a row", {"no-holes": True}, "error"),
        (130, "interrupted (Ctrl-C)", {"no-holes": "unknown"}, "error"),
        (1, "interrupted (Ctrl-C)", {"no-holes": False}, False),  # a violation found stands
    ],
)
def test_a_run_that_stopped_early_is_no_verdict_on_its_cell(
    exit_code: int, error: str, props: dict[str, Any], verdict: Any
) -> None:
    results = {**_results("none", props), "exit_code": exit_code, "error": error}
    rec = cell_record(_cell("bundled", "local", "none"), "ackbound run ...", results)
    assert (rec["verdict"], rec["error"]) == (verdict, error)


def test_a_cell_runs_exactly_this_command() -> None:
    cell = Cell(target="valkey", backend="docker", mode="async", seed=1, budget_s=120, examples=29)
    assert cell.run_args(Path("runs")) == [
        "run", "--target", "valkey", "--backend", "docker", "--image", "ackbound-valkey:local",
        "--mode", "async", "--faults", ",".join(STANDARD_FAULTS), "--lag-limit", "2",
        "--seed", "1", "--budget", "120", "--examples", "29", "--shrink-budget", "30",
        "--report-dir", "runs/valkey-docker-async-1/run",
    ]  # fmt: skip
    bundled = Cell(target="bundled", backend="docker", mode="none", seed=7, budget_s=2.5)
    assert bundled.run_args(Path("r"))[:8] == [
        "run", "--target", "bundled", "--backend", "docker", "--mode", "none", "--faults",
    ]  # fmt: skip
    assert "--budget" in bundled.run_args(Path("r")) and "2.5" in bundled.run_args(Path("r"))


def test_verdict_texts() -> None:
    recs = _doc()["full"]["cells"]
    assert [verdict_text(r) for r in recs.values()] == [
        "valid",
        "violated: loss-window-bounded",
        "unknown: lag-metric-not-underreported",
    ]


def test_compare_sections_lists_every_change_in_cell_order() -> None:
    doc = _doc()
    want = doc["full"]
    assert compare_sections(want, want) == []
    got = json.loads(json.dumps(want))
    got["cells"]["valkey/docker/async/1"].update(verdict="unknown", violated=[])
    del got["cells"]["bundled/local/sync/1"]
    got["cells"]["redis/local/none/1"] = dict(got["cells"]["redis/local/async/1"], verdict=True)
    cmd = want["cells"]["valkey/docker/async/1"]["command"]
    assert compare_sections(want, got) == [
        "bundled/local/sync/1: in the committed matrix (valid) but not run",
        "valkey/docker/async/1: was violated: loss-window-bounded, now unknown: "
        f"lag-metric-not-underreported (reproduce: {cmd})",
        "redis/local/none/1: not in the committed matrix (now valid)",
    ]


def test_rows_are_named_by_target_or_target_and_backend() -> None:
    assert _parse_rows("valkey,bundled/docker") == [
        ("bundled", "docker"),
        ("valkey", "local"),
        ("valkey", "docker"),
    ]
    with pytest.raises(AckboundError, match=r"--targets 'redis/docker' is not a row of the matrix"):
        _parse_rows("redis/docker")


def test_the_short_cells_are_cells_of_the_full_matrix() -> None:
    for cell in SHORT_CELLS:
        assert cell.faults == STANDARD_FAULTS and cell.examples is not None, cell.id
        assert cell.why, f"{cell.id}: say in Cell.why why its verdict is stable"


def test_render_only_writes_the_page_from_the_json(tmp_path: Path) -> None:
    data = tmp_path / "matrix.json"
    data.write_text(json.dumps(_doc()), encoding="utf-8")
    page = tmp_path / "matrix.md"
    assert main(["matrix", "--render", str(data), "--out", str(page)]) == 0
    assert page.read_text(encoding="utf-8") == render_markdown(_doc())
    assert main(["matrix", "--render", str(tmp_path / "nope.json"), "--out", str(page)]) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--targets", "redis/docker"], "--targets 'redis/docker' is not a row of the matrix"),
        (["--seeds", "x"], "--seeds 'x': give a comma-separated list of whole numbers"),
        (["--short", "--check", "nope.json"], "--check nope.json: no such file"),
        (["--modes", "fast"], "--modes 'fast': use none, sync, async, all"),
        # empty values used to mean "every row" / "every mode"
        (["--targets", ""], "--targets is empty; name rows (bundled, valkey, redis, or"),
        (["--short", "--targets", ","], "--targets is empty; name rows"),
        (["--modes", ""], "--modes '': use none, sync, async, all"),
        (["--short", "--modes", ""], "--modes '': use none, sync, async, all"),
        (["--seeds", ""], "--seeds '': give a comma-separated list of whole numbers"),
        (["--out", "m.json"], "--out m.json is the page (Markdown), and its data goes beside it"),
        (["--render", "m.md", "--out", "m.md"], "--out m.md is the matrix.json --render reads"),
    ],
)
def test_bad_flags_are_one_line_and_exit_3(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["matrix", *args]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"ackbound: error: {message}") and err.count("\n") == 1, err
    assert not (tmp_path / "ackbound-runs").exists()


def _cell_without(key: str) -> dict[str, Any]:
    doc = _doc()
    del next(iter(doc["full"]["cells"].values()))[key]
    return doc


def _cell_list(key: str, value: list[Any]) -> dict[str, Any]:
    doc = _doc()
    next(iter(doc["full"]["cells"].values()))[key] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([1], "schema None is not 'ackbound-matrix/1'"),
        ({"schema": "ackbound-matrix/1", "full": "x"}, "full must be an object"),
        ({**_doc(), "short": {**_doc()["full"], "cells": [1]}}, "short.cells has the wrong type (list)"),
        (_cell_without("backend"), "full.cells['bundled/local/sync/1'] has no 'backend'"),
        (_cell_list("violated", [1]), "full.cells['bundled/local/sync/1'].violated must list property names (strings)"),
    ],
)  # fmt: skip
def test_a_matrix_json_of_the_wrong_shape_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: Any, problem: str
) -> None:
    data = tmp_path / "matrix.json"
    data.write_text(json.dumps(doc), encoding="utf-8")
    page = tmp_path / "matrix.md"
    assert main(["matrix", "--render", str(data), "--out", str(page)]) == 3
    assert capsys.readouterr().err == (
        f"ackbound: error: {data}: {problem}; regenerate it with ackbound matrix\n"
    )
    assert not page.exists()


def test_the_page() -> None:
    assert render_markdown(_doc()) == EXPECTED_PAGE


EXPECTED_PAGE = """\
# The conformance matrix

<!-- Generated by `ackbound matrix` from docs/matrix.json; do not edit by hand. -->

Every built-in target, on every backend it runs on here, in every mode, under the standard fault set (`kill`, `restart`, `wipe-restart`, `pause`, `resume`, `partition`, `slow-link`, `failover`, `az-outage`, `heal`) with a fixed seed. Each cell is one `ackbound run` in a directory of its own; its command, given under each table, reproduces it (build the docker images first with `ackbound images build`). Servers are not deterministic: the same seed tries the same steps, but timing can still change what a short search meets.

Produced by `ackbound matrix --out docs/matrix.md --run-dir ackbound-runs/matrix` (ackbound 0.1.0), started 2026-01-02T03:04:05.000Z, 3 cells in 40 min on Linux x86_64, 2 CPUs; python 3.11.7, commit abc123, valkey 9.1.2.

A verdict is **valid** (every property held, each with evidence), **violated** (a property failed; the findings below give the counterexample), **unknown** (some property had no evidence either way; never a pass) or *could not run*. The figures are the run's, over all its examples: *loss window* is the largest span of acknowledged writes one failover lost (async mode promises at most the lag limit L plus the target's timing tolerance ε: the *limit* column), *rejected* counts writes refused cleanly (a rejection is never a loss), *acked* the acknowledged writes and *lost* those missing from the final reads — most of them lost to a failure the mode allows (none mode promises nothing across a failover; a restart without persistence empties a node).

## Summary

| target | none | sync | async |
|---|---|---|---|
| bundled (local) | – | valid | – |
| valkey (docker) | – | – | **violated**: loss-window-bounded |
| redis (local) | – | – | unknown: lag-metric-not-underreported |

## Findings

### valkey, async mode: `loss-window-bounded` violated (docker, seed 1)

Stock Valkey has no async durability mode; the target builds one from `min-replicas-to-write 1` with `min-replicas-max-lag L`. That check measures how long ago a replica last *acknowledged* (replicas send `REPLCONF ACK` once a second), in whole seconds — not how old the oldest unreplicated write is. Two consequences follow. Over a slow link the acknowledgements keep arriving on time while the replication stream falls ever further behind, so the primary keeps accepting writes and a failover then loses more than L + ε of them (the bundled server's seeded bug `async-lag-from-last-ack`, as shipped). And once no replica can acknowledge at all, writes go on being accepted until the rounded acknowledgement age passes L, which can be later than L + ε after the first write no replica received. The checker's explanation below says which one this counterexample shows.

What the checker saw (docker, seed 1, example async-0029, 2 steps, shrunk):

```
loss-window-bounded: VIOLATED — 1 witness(es)
```

The counterexample, as the run printed it (program.txt; paste it into Python or `ackbound replay` the cell's run directory):

```python
from harness.run import replay_program
state = replay_program(target="valkey", mode="async", seed=1)
state.episode(fault="slow-link", node="replicas", hold_ms=2500, then="failover")
state.teardown()
```

Reproduce the cell: `ackbound run --target valkey --backend docker --image ackbound-valkey:local --mode async --faults kill,restart,wipe-restart,pause,resume,partition,slow-link,failover,az-outage,heal --lag-limit 2 --seed 1 --budget 120 --shrink-budget 30 --report-dir ackbound-runs/matrix/valkey-docker-async-1/run`

## What "unknown" means here

"unknown" means no example of the cell gave evidence either way: the property was never put to the test. It is never a pass (`ackbound run` exits 2), and the matrix says why each one is unknown:

- `lag-metric-not-underreported` in valkey/docker/async, redis/local/async: the server reports no durability lag at all. Stock Valkey and Redis have no such metric (min-replicas-max-lag reads the age of the last replica acknowledgement, which is not the lag of the semantics), so there is nothing to hold against the truth. It stays unknown however long the run: no evidence is never a pass.

## Cells

### bundled (local)

| mode | seed | verdict | failed property | loss window s | limit s | write p50 ms | write p99 ms | rejected | acked | lost | examples | time s |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
| sync | 1 | valid | – | 2.522 | – | 1.23 | 25.50 | 40 | 900 | 7 | 12 | 131 |

- sync, seed 1: `ackbound run --target bundled --backend local --mode sync --faults kill,restart,wipe-restart,pause,resume,partition,slow-link,failover,az-outage,heal --lag-limit 2 --seed 1 --budget 120 --shrink-budget 30 --report-dir ackbound-runs/matrix/bundled-local-sync-1/run`

### valkey (docker)

| mode | seed | verdict | failed property | loss window s | limit s | write p50 ms | write p99 ms | rejected | acked | lost | examples | time s |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
| async | 1 | **violated** | loss-window-bounded | 2.522 | 2.000 | 1.23 | 25.50 | 40 | 900 | 7 | 12 | 131 |

- async, seed 1: `ackbound run --target valkey --backend docker --image ackbound-valkey:local --mode async --faults kill,restart,wipe-restart,pause,resume,partition,slow-link,failover,az-outage,heal --lag-limit 2 --seed 1 --budget 120 --shrink-budget 30 --report-dir ackbound-runs/matrix/valkey-docker-async-1/run`

### redis (local)

| mode | seed | verdict | failed property | loss window s | limit s | write p50 ms | write p99 ms | rejected | acked | lost | examples | time s |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
| async | 1 | unknown | – | 2.522 | 2.000 | 1.23 | 25.50 | 40 | 900 | 7 | 12 | 131 |

- async, seed 1: `ackbound run --target redis --backend local --mode async --faults kill,restart,wipe-restart,pause,resume,partition,slow-link,failover,az-outage,heal --lag-limit 2 --seed 1 --budget 120 --shrink-budget 30 --report-dir ackbound-runs/matrix/redis-local-async-1/run`

## The short version (CI)

CI runs `ackbound matrix --short --check docs/matrix.json` (tests/matrix/test_matrix.py, `bash ci/matrix.sh`) and fails when any of these verdicts changes: the verdict and the properties it rests on, exactly. Each short cell pins its seed and its number of examples, so Hypothesis draws the same steps every time. That also makes it a run of its own, not a prefix of the full cell (Hypothesis sizes its first examples by the number asked for), so the verdicts it is compared with come from a real `ackbound matrix --short` run (`bash ci/matrix.sh short-update`). A cell is in the short version only if its verdict cannot hinge on timing within that many examples; the reason is given for each. Produced by `ackbound matrix --short` (ackbound 0.1.0), started 2026-01-02T03:04:05.000Z, 1 cell in 2 min on Linux x86_64, 2 CPUs; python 3.11.7, commit abc123, valkey 9.1.2.

| cell | verdict | examples | time s | same cell in the full matrix |
|---|---|---|---|---|
| valkey/docker/async/1 | violated: loss-window-bounded | 12 | 80 | violated: loss-window-bounded |

Why each verdict is stable, and its command:

- valkey/docker/async/1: the counterexample is example 29 of seed 1. `ackbound run --target valkey --backend docker --image ackbound-valkey:local --mode async --faults kill,restart,wipe-restart,pause,resume,partition,slow-link,failover,az-outage,heal --lag-limit 2 --seed 1 --budget 120 --shrink-budget 30 --report-dir ackbound-runs/matrix/valkey-docker-async-1/run`
"""
