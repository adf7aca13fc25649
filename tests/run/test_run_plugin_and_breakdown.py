"""The pytest plugin end to end, and a run that cannot drive its cluster."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest


def test_the_pytest_plugin_turns_the_run_into_items(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--ackbound-target",
            "bundled",
            "--ackbound-mode",
            "none",
            "--ackbound-budget",
            "6",
            "--ackbound-seed",
            "3",
            "--ackbound-report-dir",
            str(tmp_path / "run"),
            f"--junitxml={junit}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode in (0, 1), out.stdout + out.stderr
    cases = ET.parse(junit).getroot().iter("testcase")
    names = sorted(c.get("name", "") for c in cases)
    assert names == [
        f"ackbound[bundled-none-{p}]"
        for p in sorted(
            [
                "no-holes",
                "no-loss-without-failure",
                "no-phantom-writes",
                "rejected-writes-not-applied",
                "writes-resume-after-heal",
            ]
        )
    ]
    assert (tmp_path / "run" / "results.json").is_file()


def test_a_run_that_stopped_early_fails_its_items_not_passes_them(tmp_path: Path) -> None:
    """A target whose failover command does not exist: every example breaks, the run ends
    with exit 3 — and under pytest that was passes and skips."""
    (tmp_path / "bad.toml").write_text(
        'name = "badpromote"\nextends = "bundled"\n[replication]\npromote = [["NOSUCHCMD"]]\n'
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf",
         "--ackbound-target", "bad.toml", "--ackbound-mode", "none", "--ackbound-budget", "15",
         "--ackbound-seed", "3", "--ackbound-report-dir", str(tmp_path / "run")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    assert "5 failed" in out.stdout
    assert "the conformance run stopped early: the cluster broke in 3 examples" in out.stdout


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["--ackbound-target", "nosuch"], "ERROR: ackbound: target 'nosuch' is not a built-in"),
        (["--ackbound-mode", "bogus"], "ERROR: ackbound: --ackbound-mode 'bogus': use none, sync, async"),
        (["--ackbound-faults", "kill,meteor"], "ERROR: ackbound: --ackbound-faults: 'meteor' is not a fault"),
        (["--ackbound-faults", "none,kill"], "ERROR: ackbound: --ackbound-faults: 'none' stands alone"),
        (["--ackbound-backend", "foo"], "ERROR: ackbound: --ackbound-backend: invalid choice: 'foo'"),
        (["--ackbound-budget", "-1"], "ERROR: ackbound: --ackbound-budget: '-1.0' must be a non-negative"),
        (["--ackbound-report-dir", "afile"], "ERROR: ackbound: --ackbound-report-dir afile is a file"),
        (["--ackbound-report-dir", "old"], "ERROR: ackbound: --ackbound-report-dir old already holds a run (results.json); pass a new directory"),
        (["-n", "2"], "ERROR: ackbound: the ackbound items must run on one pytest-xdist worker; add --dist loadgroup"),
        (["-d", "--tx", "2*popen"], "ERROR: ackbound: the ackbound items must run on one pytest-xdist worker; add --dist loadgroup"),
    ],
)  # fmt: skip
def test_a_bad_plugin_option_is_a_usage_error_not_a_failure_per_item(
    tmp_path: Path, option: list[str], expected: str
) -> None:
    (tmp_path / "afile").write_text("x")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "results.json").write_text("{}")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "--ackbound-target", "bundled", *option],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 4, out.stdout + out.stderr  # pytest's usage error
    assert out.stderr.strip().startswith(expected), out.stdout + out.stderr
    assert not (tmp_path / "ackbound-runs").exists()


def test_a_cluster_the_harness_cannot_drive_ends_the_run_with_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.run._example as example
    from harness.run import RunConfig, run_conformance
    from harness.targets import load_target

    def broken_judge(self: object) -> dict[str, object]:
        raise OSError("the history disk vanished")

    monkeypatch.setattr(example.Example, "judge", broken_judge)
    config = RunConfig(target="bundled", modes=("none",), budget_s=60, seed=1)
    result = run_conformance(config, run_dir=tmp_path / "run", target=load_target("bundled"))
    assert result.exit_code == 3
    assert result.modes["none"].examples == 3
    assert result.error is not None
    assert "broke in 3 examples in a row" in result.error
    assert "the history disk vanished" in result.error


def test_every_mode_s_error_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.run._runner as runner
    from harness.run import RunConfig, run_conformance
    from harness.targets import load_target

    def erring(run: runner.ModeRun, seed: int, database_dir: Path) -> tuple[str, bool]:
        return f"RuntimeError: search of {run.setup.mode} broke", False

    monkeypatch.setattr(runner, "run_mode", erring)
    config = RunConfig(target="bundled", modes=("none", "sync"), budget_s=10, seed=1)
    result = run_conformance(config, run_dir=tmp_path / "run", target=load_target("bundled"))
    assert result.error == (
        "mode none: RuntimeError: search of none broke; "
        "mode sync: RuntimeError: search of sync broke"
    )
    assert result.complete is False


def test_a_bug_of_the_harness_is_recorded_and_exits_3_not_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An exception the harness did not expect: no "complete" results.json, and not the
    exit code of a violated promise."""
    import json

    import harness.run._runner as runner
    from harness.cli import main

    def broken(run: runner.ModeRun, seed: int, database_dir: Path) -> tuple[str, bool]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(runner, "run_mode", broken)
    run_dir = tmp_path / "run"
    args = ["run", "--mode", "none", "--budget", "10", "--quiet", "--report-dir", str(run_dir)]
    assert main(args) == 3
    assert capsys.readouterr().err.splitlines()[-1] == (
        "ackbound: error: internal error (RuntimeError: a bug); this is a bug in ackbound: "
        "please report it with the traceback above"
    )
    doc = json.loads((run_dir / "results.json").read_text())
    assert (doc["complete"], doc["exit_code"]) == (False, 3)
    assert doc["error"] == "the harness failed: RuntimeError: a bug"


def test_ctrl_c_while_shrinking_keeps_the_failure_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failing example is recorded (and replayable) even when Ctrl-C stops its shrink."""
    import json

    import harness.run._shrink as shrink
    from harness.run import RunConfig, run_conformance
    from harness.targets import load_target

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(shrink, "shrink_steps", interrupted)
    config = RunConfig(
        target="bundled", modes=("async",), budget_s=30, seed=3, bug="async-never-rejects"
    )
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_conformance(config, run_dir=run_dir, target=load_target("bundled"))
    doc = json.loads((run_dir / "results.json").read_text())
    # Violated, and what the command exits with after Ctrl-C: 130.
    assert (doc["complete"], doc["valid"], doc["exit_code"]) == (False, False, 130)
    failure = doc["modes"]["async"]["failure"]
    assert failure is not None and failure["steps"] and failure["shrunk"] is False
    assert failure["shrink"] == "interrupted"
    assert "# shrinking was interrupted" in failure["program"]
    assert (run_dir / "program.txt").is_file() and (run_dir / "async" / "history.ndjson").is_file()


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            {"fault": "slow_link", "node": "primary", "hold_ms": 100, "then": "heal"},
            r"^the replay could not run its steps \(",
        ),
        (
            {"fault": "slow-link", "node": "primary", "hold_ms": 100, "then": "fail-over"},
            r"^then='fail-over': use heal, failover or stay$",
        ),
        (
            {"fault": "slow-link", "node": "leader", "hold_ms": 100, "then": "heal"},
            r"^node='leader' is not a role of this cluster; use primary, replicas or replica-1\.\.2$",
        ),
    ],
)
def test_a_mistyped_step_in_a_replayed_program_is_an_error_not_a_silent_pass(
    tmp_path: Path, step: dict[str, object], expected: str
) -> None:
    """The printed program, edited by hand: a step the harness cannot take must not let the
    replay end quietly as if the example had passed."""
    from harness._errors import AckboundError
    from harness.run import replay_program

    state = replay_program(target="bundled", mode="async", run_dir=str(tmp_path))
    with pytest.raises(AckboundError, match=expected):
        try:
            state.isolate(**step)
        finally:
            state.teardown()


def test_under_xdist_loadgroup_one_worker_runs_the_conformance_run(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2",
         "--dist", "loadgroup", "--ackbound-target", "bundled", "--ackbound-mode", "none",
         "--ackbound-budget", "3", "--ackbound-seed", "3"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode in (0, 1), out.stdout + out.stderr
    runs = list((tmp_path / "ackbound-runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "results.json").is_file(), runs


def test_a_run_that_could_not_start_fails_each_item_once_with_its_reason(
    tmp_path: Path,
) -> None:
    """The first item showed the reason twice, joined by 'During handling of the above
    exception, another exception occurred'."""
    import socket

    with socket.socket() as s1, socket.socket() as s2:
        s1.bind(("127.0.0.1", 0))
        s2.bind(("127.0.0.1", 0))
        a, b = s1.getsockname()[1], s2.getsockname()[1]  # nothing listens once closed
    (tmp_path / "gone.toml").write_text(
        f'name = "gone"\nextends = "bundled"\nkind = "external"\n[external]\nprimary = "a"\n'
        f'nodes = [{{name = "a", host = "127.0.0.1", port = {a}, az = "z1"}},\n'
        f'  {{name = "b", host = "127.0.0.1", port = {b}, az = "z2"}}]\n'
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "--ackbound-target", "gone.toml", "--ackbound-mode", "none", "--ackbound-budget", "5"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    assert "During handling of the above exception" not in out.stdout
    items = out.stdout.splitlines()[0].count("F")
    assert items >= 5, out.stdout
    said = f"ackbound could not run: node a (127.0.0.1:{a}, target gone) refused the connection"
    assert out.stdout.count(said) == items, out.stdout  # once in each item's section
