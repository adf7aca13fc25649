"""Regression use: a run saves the failure it reports beside its run directory
(``.ackbound-db``), and later runs against the same target, mode and bug try it first.

Hypothesis's own example database never held anything: the run's seed turns it off."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RULE_OF_NO_MACHINE = {"rule": "meteor", "args": {}}


def _run(tmp_path: Path, name: str, *flags: str) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--mode", "none", "--no-canon", "--quiet",
         "--report-dir", f"runs/{name}", *flags],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode in (0, 1, 2), done.stdout + done.stderr
    doc = json.loads((tmp_path / "runs" / name / "results.json").read_text(encoding="utf-8"))
    return done.returncode, doc["modes"]["none"]


def _store(tmp_path: Path, bug: str) -> Path:
    return tmp_path / "runs" / ".ackbound-db" / f"bundled-none-{bug}"


@pytest.mark.slow
def test_a_failure_is_saved_and_tried_first_by_the_next_run_until_it_passes(
    tmp_path: Path,
) -> None:
    bug = ["--bug", "phantom-value", "--budget", "20", "--shrink-budget", "10"]
    code, first = _run(tmp_path, "a", *bug, "--seed", "3")
    assert code == 1
    [saved] = _store(tmp_path, "phantom-value").glob("failure-*.json")
    doc = json.loads(saved.read_text(encoding="utf-8"))
    assert doc["steps"] == first["failure"]["steps"]  # type: ignore[index]
    assert doc["key"]["faults"][-1] == "heal"

    # Another seed: the saved failure is the run's first example (the bug shows in most
    # runs of it, not all: the run then finds it again by exploring).
    code, again = _run(tmp_path, "b", *bug, "--seed", "99")
    assert code == 1
    tried = again["example_records"][0]  # type: ignore[index]
    assert (tried["id"], tried["steps"]) == ("none-0001", len(doc["steps"]))

    # The bug fixed (the same steps saved for the target without it): tried, judged, gone.
    fixed = _store(tmp_path, "none")
    fixed.mkdir(parents=True)
    (fixed / saved.name).write_text(saved.read_text(encoding="utf-8"), encoding="utf-8")
    code, _mode = _run(tmp_path, "c", "--budget", "6", "--seed", "5")
    assert code in (0, 2)
    assert list(fixed.glob("failure-*.json")) == []


@pytest.mark.slow
def test_saved_failures_of_another_setup_are_kept_and_stale_ones_dropped(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path, "none")
    store.mkdir(parents=True)
    other = store / "failure-other.json"
    other.write_text(
        json.dumps({"key": {"faults": ["kill"]}, "steps": [{"rule": "wait", "args": {"ms": 1}}]})
    )
    stale = store / "failure-stale.json"
    stale.write_text(json.dumps({"key": {}, "steps": [RULE_OF_NO_MACHINE]}))
    garbled = store / "failure-garbled.json"
    garbled.write_text("{not json")
    code, mode = _run(tmp_path, "a", "--budget", "6", "--seed", "5", "--examples", "2")
    assert code in (0, 2)
    assert mode["examples"] >= 1
    assert sorted(p.name for p in store.iterdir()) == ["failure-other.json"]
