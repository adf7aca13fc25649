"""A cluster the chosen modes cannot work on is refused before anything starts: otherwise
every write would be refused and the run would blame the server for a setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
