"""An external target: a cluster someone else runs, operated through hook commands.

The "operator" here is tests/integration/_ext_ops.py, driving three valkey-server processes
the test starts itself — standing in for a cloud CLI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _deps import need_valkey

from harness.cluster import ClusterError, history_header, start_cluster
from harness.cluster._cluster import _free_ports
from harness.faults import FaultError
from harness.history import HistoryWriter
from harness.targets import load_target

from . import _ext_ops
from ._util import claimable_elsewhere, poll, read, write

OPS = Path(_ext_ops.__file__)


@pytest.fixture
def operated(tmp_path: Path) -> Iterator[Path]:
    """Three valkey nodes (n1 primary) and an external target file describing them."""
    binary = need_valkey()
    ports = _free_ports(3)
    state_path = tmp_path / "state.json"
    nodes = {
        f"n{i + 1}": {"port": ports[i], "dir": str(tmp_path / "ext" / f"n{i + 1}")}
        for i in range(3)
    }
    state = {"binary": binary, "nodes": nodes}
    state_path.write_text(json.dumps(state))
    try:
        _ext_ops.start(state, "n1", None)
        _ext_ops.start(state, "n2", ports[0])
        _ext_ops.start(state, "n3", ports[0])
        hook = f"{sys.executable} {OPS} {state_path}"
        target = tmp_path / "managed.toml"
        target.write_text(
            f"""
name = "managed"
kind = "external"
tolerance_s = 1
[external]
primary = "n1"
hook_timeout_s = 20
nodes = [
{"".join(f'  {{name = "{n}", host = "127.0.0.1", port = {v["port"]}, az = "az{i + 1}"}},{chr(10)}' for i, (n, v) in enumerate(nodes.items()))}]
[external.hooks]
kill = "{hook} kill {{name}}"
restart = "{hook} restart {{name}}"
wipe-restart = "{hook} wipe-restart {{name}}"
promote = "{hook} promote {{name}}"
[replication]
replicaof = [["REPLICAOF", "{{primary_host}}", "{{primary_port}}"]]
promote = [["REPLICAOF", "NO", "ONE"]]
[modes.none]
write = "plain"
[modes.sync]
write = "wait"
"""
        )
        yield target
    finally:
        for n in nodes.values():
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(Path(n["dir"], "pid").read_text()), signal.SIGKILL)


def test_an_external_cluster_is_operated_through_its_hooks(operated: Path, tmp_path: Path) -> None:
    target = load_target(str(operated))
    assert target.capabilities() == frozenset({"kill", "restart", "wipe", "promote", "replicaof"})
    run_dir = tmp_path / "run"
    with (
        HistoryWriter(None, history_header(target, "sync")) as history,
        start_cluster(
            target,
            mode="sync",
            params={"sync_replicas": 2, "sync_timeout_ms": 500},
            run_dir=run_dir,
            history=history,
        ) as cluster,
    ):
        assert [(n.name, n.role) for n in cluster.nodes] == [
            ("n1", "primary"),
            ("n2", "replica"),
            ("n3", "replica"),
        ]
        assert write(cluster, "e1")[0] == "ok"
        with pytest.raises(FaultError, match="needs partition, which target 'managed' cannot do"):
            cluster.apply("partition", node="n2")

        assert cluster.apply("kill", node="n1") == [{"down": "n1"}]
        effects = cluster.apply("failover")
        assert effects[0]["promote"] in ("n2", "n3") and set(effects[0]["candidates"]) == {
            "n2",
            "n3",
        }
        new_primary = cluster.primary
        typ, _, error = write(cluster, "e2")  # one replica is left: WAIT 2 cannot succeed
        assert typ == "info" and error == "WAIT: 1 of 2 replica(s) acknowledged within 500 ms"
        cluster.configure("none")
        assert write(cluster, "e3")[0] == "ok"

        effects = cluster.heal()
        assert effects == [{"lose-data": "n1"}, {"up": "n1"}]
        synced = cluster.wait_recovered(10)
        assert sorted(e["synced"] for e in synced) == sorted({"n1", "n2", "n3"} - {new_primary})
        poll(lambda: read(cluster, "n1") == ["e1", "e2", "e3"], "n1 to resync from the new primary")

        effects = cluster.apply("wipe-restart", node="n1")
        assert effects == [{"down": "n1"}, {"lose-data": "n1"}, {"up": "n1"}]
        cluster.wait_recovered(10)
        assert read(cluster, "n1") == ["e1", "e2", "e3"]
    # The harness owns nothing of an external cluster: closing leaves it running.
    assert (
        _ext_ops.role(
            json.loads((tmp_path / "state.json").read_text())["nodes"][new_primary]["port"]
        )
        == "master"
    )


def test_the_ports_of_external_nodes_on_this_machine_are_held_for_the_run(
    operated: Path, tmp_path: Path
) -> None:
    """A killed node's port is free to the kernel: no other run may start a node there."""
    target = load_target(str(operated))
    ports = [n.port for n in target.external.nodes] if target.external else []
    with (
        HistoryWriter(None, history_header(target, "none")) as history,
        start_cluster(target, mode="none", run_dir=tmp_path / "a", history=history) as cluster,
    ):
        assert cluster.apply("kill", node="n2") == [{"down": "n2"}]
        assert claimable_elsewhere(ports) == [False, False, False]
        with pytest.raises(ClusterError) as info:
            start_cluster(target, mode="none", run_dir=tmp_path / "b", history=history)
        assert str(info.value) == (
            f"node n1 of target 'managed' (127.0.0.1:{ports[0]}) is in use by another "
            "ackbound run on this machine; let that run finish first (two runs against one "
            "cluster would read each other's writes as phantoms)"
        )
    assert claimable_elsewhere(ports) == [True, True, True]


def test_a_broken_external_run_points_at_the_nodes_own_logs(
    operated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It pointed at RUN/nodes, which is empty for a cluster ackbound does not run."""
    import harness.run._example as example
    from harness.run import RunConfig, run_conformance

    def broken_judge(self: object) -> dict[str, object]:
        raise OSError("the history disk vanished")

    monkeypatch.setattr(example.Example, "judge", broken_judge)
    config = RunConfig(target=str(operated), modes=("none",), budget_s=60, seed=1, faults=())
    result = run_conformance(config, run_dir=tmp_path / "run", target=load_target(str(operated)))
    assert result.exit_code == 3
    assert result.error is not None and "broke in 3 examples in a row" in result.error
    assert result.error.endswith(
        f"see the nodes' own logs (ackbound does not run them: {operated})"
    ), result.error
