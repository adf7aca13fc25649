"""A cluster the chosen modes cannot work on is refused before anything starts: otherwise
every write would be refused and the run would blame the server for a setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _targets import two_node_external

from harness._errors import AckboundError
from harness.run import RunConfig, parse_faults
from harness.run._runner import check_topology
from harness.targets import load_target, parse_target


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["--mode", "sync", "--sync-replicas", "5"],
            "sync mode with --sync-replicas 5 needs 5 replicas outside the primary's AZ, and 3 "
            "nodes in 3 AZs have 2: every write would be refused; lower --sync-replicas, add "
            "--nodes (and --azs), or leave sync out of --mode",
        ),
        (
            ["--mode", "sync", "--azs", "1"],
            "sync mode with --sync-replicas 1 needs 1 replica outside the primary's AZ, and 3 "
            "nodes in 1 AZ have 0: every write would be refused; use --azs 2 or more, or leave "
            "sync out of --mode",
        ),
        (
            ["--mode", "none,async", "--azs", "1"],
            "async mode measures the lag against replicas outside the primary's AZ, and 3 nodes "
            "in 1 AZ have none: every write would be refused once the lag passed the limit; use "
            "--azs 2 or more, or leave async out of --mode",
        ),
        (["--azs", "4"], "azs=4: use 1..3 AZs for 3 nodes"),
    ],
)
def test_the_cli_refuses_a_cluster_its_modes_cannot_work_on(
    tmp_path: Path, flags: list[str], expected: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--budget", "3", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stderr.strip()) == (3, f"ackbound: error: {expected}")
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


def _config(modes: tuple[str, ...], **kw: object) -> RunConfig:
    return RunConfig(target="t", modes=modes, faults=parse_faults("default"), **kw)  # type: ignore[arg-type]


def test_what_the_modes_can_work_on_passes() -> None:
    bundled = load_target("bundled")
    check_topology(bundled, _config(("none", "sync", "async")))
    check_topology(bundled, _config(("sync",), nodes=5, azs=2, sync_replicas=2))
    check_topology(bundled, _config(("none",), azs=1))  # no AZ promise in mode none


def test_an_external_cluster_is_judged_by_its_own_nodes() -> None:
    same_az = parse_target(
        {
            "name": "one-az",
            "kind": "external",
            "external": {
                "primary": "a",
                "nodes": [
                    {"name": "a", "host": "127.0.0.1", "port": 7001, "az": "z1"},
                    {"name": "b", "host": "127.0.0.1", "port": 7002, "az": "z1"},
                ],
            },
            "replication": {
                "replicaof": [["REPLICAOF", "{primary_host}", "{primary_port}"]],
                "promote": [["REPLICAOF", "NO", "ONE"]],
            },
            "modes": {"none": {"write": "plain"}, "sync": {"write": "wait"}},
        },
        "one-az.toml",
    )
    check_topology(same_az, _config(("none",)))
    with pytest.raises(AckboundError) as exc:
        check_topology(same_az, _config(("sync",)))
    assert str(exc.value) == (
        "sync mode with --sync-replicas 1 needs 1 replica outside the primary's AZ, and the "
        "nodes of one-az.toml have 0: every write would be refused; add nodes in other AZs to "
        "one-az.toml, or leave sync out of --mode"
    )


_NO_HOOKS = two_node_external("no-hooks", more='[external.hooks]\npromote = "true"\n')


def test_a_fault_named_that_the_target_cannot_do_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    """It was accepted, never fired, and the run reported verdicts as if it had."""
    (tmp_path / "t.toml").write_text(_NO_HOOKS)
    faults = ["--faults", "partition,failover,wipe-restart", "--budget", "3"]
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--target", "t.toml", "--mode", "sync", *faults],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stderr) == (
        3,
        "ackbound: error: --faults: target 'no-hooks' cannot do partition (needs partition), "
        "wipe-restart (needs kill, restart, wipe); add the hooks to its [external.hooks], or "
        "leave them out of --faults\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.toml"]


def test_the_default_faults_are_those_the_target_can_do_and_the_rest_are_named_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default set ran faults the target could not do: every example broke, and the run
    ended as if interrupted."""
    import harness.run
    from harness.cli import main

    (tmp_path / "t.toml").write_text(_NO_HOOKS)
    configs: list[RunConfig] = []

    def interrupted(config: RunConfig, **kw: object) -> None:
        configs.append(config)
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.run, "run_conformance", interrupted)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--quiet", "--target", "t.toml", "--mode", "sync"]) == 130
    assert configs[0].faults == ("failover", "heal")
    assert capsys.readouterr().err.splitlines()[0] == (
        "ackbound: target 'no-hooks' cannot do the faults kill, restart, wipe-restart, pause, "
        "resume, partition, slow-link, az-outage (no hook for them); the run uses failover, heal"
    )
    # A process target can do every fault: nothing is dropped, nothing said.
    configs.clear()
    assert main(["run", "--quiet", "--mode", "none", "--report-dir", "b"]) == 130
    assert configs[0].faults == parse_faults("default")
    assert "cannot do" not in capsys.readouterr().err


def test_the_pytest_plugin_names_the_faults_it_leaves_out_too(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text(_NO_HOOKS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
         "--ackbound-target", "t.toml", "--ackbound-mode", "sync"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "ackbound: target 'no-hooks' cannot do the faults kill, restart, wipe-restart, pause, "
        "resume, partition, slow-link, az-outage (no hook for them); the run uses failover, heal"
    ) in done.stdout


def test_a_budget_of_zero_is_refused_before_a_cluster_starts(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--budget", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 3
    assert done.stderr.strip().startswith(
        "ackbound run: error: argument --budget: '0' leaves no time for a single example; pass "
        "seconds > 0 (default 60)"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (",", "--faults ',' names no fault; use none for a run without faults, or a "
         "comma-separated list (see ackbound faults list)"),
        ("", "--faults '' names no fault; use none for a run without faults, or a "
         "comma-separated list (see ackbound faults list)"),
        ("none,kill", "--faults: 'none' stands alone; pass it by itself, or list the faults "
         "without it"),
        ("kill,default", "--faults: 'default' stands alone; pass it by itself, or list the "
         "faults without it"),
    ],
)  # fmt: skip
def test_a_fault_list_that_says_nothing_clear_is_refused(text: str, expected: str) -> None:
    """',' ran with no faults at all, and 'none,kill' was told 'none' is not a fault."""
    with pytest.raises(AckboundError) as err:
        parse_faults(text)
    assert str(err.value) == expected
    assert parse_faults("none") == () and parse_faults(" kill , pause ") == ("kill", "pause")


def test_an_empty_mode_is_refused_not_taken_for_all(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--mode", "", "--budget", "5", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 3
    assert done.stderr.strip() == (
        "ackbound: error: --mode '': use none, sync, async, all, or a comma-separated list of them"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("target", "asked", "said"),
    [
        ("valkey", 0.2, "ackbound: target 'valkey' sets lag limits in steps of 1 s, at least 1 s, "
         "so async mode runs, and is judged, with a lag limit of 1 s, not the 0.2 s of "
         "--lag-limit"),
        ("redis", 2.5, "ackbound: target 'redis' sets lag limits in steps of 1 s, at least 1 s, "
         "so async mode runs, and is judged, with a lag limit of 3 s, not the 2.5 s of "
         "--lag-limit"),
        ("bundled", 0, "ackbound: target 'bundled' sets lag limits to the millisecond, at least "
         "0.001 s, so async mode runs, and is judged, with a lag limit of 0.001 s, not the 0 s "
         "of --lag-limit"),
        ("bundled", 0.0004, "ackbound: target 'bundled' sets lag limits to the millisecond, at "
         "least 0.001 s, so async mode runs, and is judged, with a lag limit of 0.001 s, not "
         "the 0.0004 s of --lag-limit"),
    ],
)  # fmt: skip
def test_a_lag_limit_the_target_cannot_enforce_is_named_with_the_one_used(
    target: str, asked: float, said: str
) -> None:
    """--lag-limit 0 (or 0.2 s on stock Valkey) ran with another limit without a word."""
    from harness.run._runner import lag_limit_note, mode_setup

    t = load_target(target)
    config = _config(("none", "async"), lag_limit_s=asked)
    assert lag_limit_note(t, config) == said
    used = mode_setup(t, "async", config).lag_limit_ms
    assert f"of {used / 1000:g} s" in said


@pytest.mark.parametrize(
    ("target", "modes", "asked"),
    [("valkey", ("async",), 2.0), ("bundled", ("async",), 0.25), ("valkey", ("sync",), 0.2),
     ("bundled", ("async",), None), ("bundled", ("async",), 1.001)],  # 1000.9999… ms
)  # fmt: skip
def test_a_lag_limit_the_target_enforces_as_asked_says_nothing(
    target: str, modes: tuple[str, ...], asked: float | None
) -> None:
    from harness.run._runner import lag_limit_note

    assert lag_limit_note(load_target(target), _config(modes, lag_limit_s=asked)) is None


def test_the_cli_names_a_lag_limit_it_cannot_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import harness.run
    from harness.cli import main

    def interrupted(config: RunConfig, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.run, "run_conformance", interrupted)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--quiet", "--mode", "async", "--lag-limit", "0"]) == 130
    assert capsys.readouterr().err.splitlines()[0] == (
        "ackbound: target 'bundled' sets lag limits to the millisecond, at least 0.001 s, so "
        "async mode runs, and is judged, with a lag limit of 0.001 s, not the 0 s of "
        "--lag-limit"
    )
