"""A replay sets the cluster up as the run did: the same faults, its own directory, and the
same refusal of a cluster its mode cannot work on."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness._errors import AckboundError
from harness.report import validate_results
from harness.run import RunConfig, parse_faults, replay_program
from harness.run._config import DEFAULT_FAULTS
from harness.run._runner import _replay_options, mode_setup
from harness.targets import load_target


def test_the_run_records_the_faults_it_enabled() -> None:
    config = RunConfig(target="bundled", modes=("async",), faults=parse_faults("partition,heal"))
    setup = mode_setup(load_target("bundled"), "async", config)
    assert _replay_options(config, setup)["faults"] == ["partition", "heal"]
    none = RunConfig(target="bundled", modes=("async",), faults=parse_faults("none"))
    assert _replay_options(none, setup)["faults"] == []


@pytest.mark.parametrize(
    ("faults", "enabled"),
    [(["partition", "heal"], ("partition", "heal")), ([], ()), (None, DEFAULT_FAULTS)],
)
def test_a_replay_enables_the_faults_it_is_given(
    tmp_path: Path, faults: list[str] | None, enabled: tuple[str, ...]
) -> None:
    """It enabled every fault whatever the run had (and for none, all of them)."""
    state = replay_program(mode="none", faults=faults, run_dir=str(tmp_path))
    try:
        assert state.run.config.faults == enabled
    finally:
        state.close()


def test_a_closed_replay_leaves_no_client_writing(tmp_path: Path) -> None:
    """Its steady writer wrote on for minutes after close(), to the closed cluster's proxy
    port, and once another run's proxy listened there, into that run's cluster."""
    state = replay_program(mode="none", run_dir=str(tmp_path))
    prefix = f"ackbound-{state.ex.id}-"
    assert [t.name for t in threading.enumerate() if t.name.startswith(prefix)]
    state.close()
    assert [t.name for t in threading.enumerate() if t.name.startswith(prefix)] == []
    history = state.record.history
    size = history.stat().st_size
    time.sleep(0.3)
    assert history.stat().st_size == size


@pytest.mark.parametrize("faults", [["kill", "meteor"], "kill"])
def test_a_replay_refuses_what_is_not_a_list_of_faults(tmp_path: Path, faults: object) -> None:
    with pytest.raises(AckboundError, match=r"^replay option faults=.*: give a list of fault"):
        replay_program(mode="none", faults=faults, run_dir=str(tmp_path))  # type: ignore[arg-type]
    assert not (tmp_path / "replay").exists()


def test_replays_started_in_one_second_each_get_a_directory(tmp_path: Path) -> None:
    """They shared one, and each overwrote the history the other cited."""
    states = [replay_program(mode="none", run_dir=str(tmp_path)) for _ in range(3)]
    try:
        dirs = {s.run.directory.parent for s in states}
        assert len(dirs) == 3 and all(d.parent == tmp_path / "replay" for d in dirs)
    finally:
        for s in states:
            s.close()


def test_a_replay_refuses_a_cluster_its_mode_cannot_work_on(tmp_path: Path) -> None:
    """A results.json edited to sync_replicas 5 on three nodes was blamed on the server."""
    with pytest.raises(AckboundError) as info:
        replay_program(mode="sync", sync_replicas=5, run_dir=str(tmp_path))
    assert str(info.value).startswith(
        "sync mode with --sync-replicas 5 needs 5 replicas outside the primary's AZ"
    )
    assert not (tmp_path / "replay").exists()


@pytest.mark.slow
def test_a_failure_found_with_some_faults_replays_with_them(tmp_path: Path) -> None:
    """Found with partition and heal only, the isolation healed without a failover; replayed
    with every fault, it ended in a failover that replaced the buggy primary, and the
    replay said the failure was gone (exit 0)."""
    run_dir = tmp_path / "run"
    run = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--bug", "never-resumes-writes", "--mode",
         "async", "--faults", "partition,heal", "--budget", "10", "--shrink-budget", "0",
         "--no-canon", "--steps", "1", "--seed", "3", "--report-dir", str(run_dir), "--quiet"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    doc = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert validate_results(doc) == []
    assert doc["modes"]["async"]["failure"]["options"]["faults"] == ["partition", "heal"]
    assert 'faults=["partition", "heal"]' in (run_dir / "program.txt").read_text("utf-8")
    replay = subprocess.run(
        [sys.executable, "-m", "harness", "replay", str(run_dir), "--times", "2"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert "async: failed 2 of 2 replays" in replay.stdout, replay.stdout + replay.stderr
    assert replay.returncode == 1
