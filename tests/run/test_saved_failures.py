"""Regression use: a run saves the failure it reports beside its run directory
(``.ackbound-db``), and later runs against the same target, mode and bug try it first.

Hypothesis's own example database never held anything: the run's seed turns it off."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.run import RunConfig
from harness.run._config import DEFAULT_FAULTS
from harness.run._runner import mode_setup
from harness.targets import load_target

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
    text = saved.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["steps"] == first["failure"]["steps"]  # type: ignore[index]
    assert doc["key"] == _key()

    # Another seed: the saved failure is the run's first example (the bug shows in most
    # runs of it, not all: the run then finds it again by exploring).
    code, again = _run(tmp_path, "b", *bug, "--seed", "99")
    assert code == 1
    tried = again["example_records"][0]  # type: ignore[index]
    assert (tried["id"], tried["steps"]) == ("none-0001", len(doc["steps"]))

    # The bug fixed (the same steps saved for the target without it): tried, judged, gone.
    # (As saved by the first run: the second may have removed it, when its try of the
    # saved steps passed and exploring found the bug again.)
    fixed = _store(tmp_path, "none")
    fixed.mkdir(parents=True)
    (fixed / saved.name).write_text(text, encoding="utf-8")
    code, _mode = _run(tmp_path, "c", "--budget", "6", "--seed", "5")
    assert code in (0, 2)
    assert list(fixed.glob("failure-*.json")) == []


def _key(faults: tuple[str, ...] = DEFAULT_FAULTS) -> dict[str, object]:
    """The setup a ``_run`` of the bundled target's mode none saves its failures under."""
    config = RunConfig(target="bundled", modes=("none",), faults=faults)
    setup = mode_setup(load_target("bundled"), "none", config)
    nodes = [["n1", "az1"], ["n2", "az2"], ["n3", "az3"]]
    return {"backend": "local", "image": None, "nodes": nodes, "faults": sorted(faults),
            **setup.mode_params()}  # fmt: skip


def _save(store: Path, name: str, key: object, steps: object) -> Path:
    store.mkdir(parents=True, exist_ok=True)
    path = store / f"failure-{name}.json"
    path.write_text(json.dumps({"key": key, "steps": steps}))
    return path


@pytest.mark.slow
def test_saved_failures_of_another_setup_are_kept_and_unrunnable_ones_dropped(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path, "none")
    # Saved with every fault: its kill is no rule of a run with partition and heal only
    # (the file was deleted as "not a rule").
    kill = [{"rule": "kill", "args": {"node": "primary"}}, {"rule": "wait", "args": {"ms": 1}}]
    other = _save(store, "other", _key(), kill)
    mine = _key(("heal", "partition"))
    _save(store, "stale", mine, [RULE_OF_NO_MACHINE])
    # A role this cluster does not have: the run stopped (exit 3) at every try.
    role = {"rule": "partition", "args": {"node": "replica-9", "direction": "both"}}
    _save(store, "no-such-node", mine, [role])
    (store / "failure-garbled.json").write_text("{not json")
    code, mode = _run(
        tmp_path, "a", "--budget", "8", "--seed", "5", "--examples", "2",
        "--faults", "partition,heal",
    )  # fmt: skip
    assert code in (0, 2), mode
    assert mode["examples"] >= 1
    assert sorted(p.name for p in store.iterdir()) == [other.name]


def test_a_failure_found_before_an_interruption_is_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI job's timeout during the shrink lost it: only a finished shrink saved."""
    import harness.run._shrink as shrink
    from harness.run import run_conformance

    def interrupted(*args: object, **kw: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(shrink, "shrink_steps", interrupted)
    config = RunConfig(
        target="bundled", modes=("none",), budget_s=20, seed=3, bug="phantom-value", canon=False
    )
    run_dir = tmp_path / "runs" / "a"
    with pytest.raises(KeyboardInterrupt):  # (after the reports are written, as Ctrl-C does)
        run_conformance(config, run_dir=run_dir, target=load_target("bundled"))
    doc = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert doc["exit_code"] == 130
    [saved] = _store(tmp_path, "phantom-value").glob("failure-*.json")
    failure = doc["modes"]["none"]["failure"]
    assert json.loads(saved.read_text())["steps"] == failure["steps"]
