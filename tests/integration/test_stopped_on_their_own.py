"""A node that stops though no fault stopped it (a crash, or a tool outside ackbound killing
it) is named, never blamed on the server's durability: the controller reports it, a reset
refuses to go on as if nothing happened, and the next reset starts the node again.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from harness._errors import AckboundError
from harness.cluster import Cluster, ClusterError

from ._util import poll


def _pid(cluster: Cluster, node: str) -> int:
    """The node's process id, as the server itself reports it (INFO server)."""
    client = cluster.client(node, timeout_s=2.0)
    try:
        info = client.execute("INFO", "server")
    finally:
        client.close()
    text = info.decode() if isinstance(info, bytes) else str(info)
    for line in text.splitlines():
        if line.startswith("process_id:"):
            return int(line.split(":", 1)[1])
    raise AssertionError(f"no process_id in INFO server of {node}: {text[:200]!r}")


def _kill_behind_its_back(cluster: Cluster, node: str) -> None:
    """SIGKILL the node's process, and wait until it has exited (a zombie, or reaped)."""
    pid = _pid(cluster, node)
    os.kill(pid, signal.SIGKILL)

    def exited() -> bool:
        # A zombie whose other threads are gone too: before that (a multi-threaded server
        # such as redis) the kernel does not yet report its exit to its parent.
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            threads = len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            return True
        return stat.rsplit(")", 1)[1].split()[0] == "Z" and threads <= 1

    poll(exited, f"{node} (pid {pid}) exited")


def test_a_node_killed_outside_ackbound_is_named_and_started_again(cluster: Cluster) -> None:
    _kill_behind_its_back(cluster, "n2")
    gone = poll(cluster.stopped_on_their_own, "n2 found stopped")
    assert len(gone) == 1, gone
    assert gone[0].startswith("node n2 stopped though no fault stopped it: ")
    assert "killed by SIGKILL" in gone[0]
    assert str(Path("nodes") / "n2" / "log") in gone[0]
    assert cluster.node("n2").status == "down"
    assert cluster.stopped_on_their_own() == []  # said once

    _kill_behind_its_back(cluster, "n3")
    with pytest.raises(ClusterError, match=r"^node n3 stopped though no fault stopped it: "):
        cluster.reset(mode="none", params={})
    cluster.reset(mode="none", params={})  # both are started again
    assert [n.status for n in cluster.nodes] == ["up", "up", "up"]


def test_a_replay_whose_replicas_die_outside_ackbound_is_not_judged(tmp_path: Path) -> None:
    """Without its replicas a sync primary accepts no write after the heal: judged, that
    would read as writes-resume-after-heal violated, a false alarm."""
    from harness.run import replay_program

    state = replay_program(target="bundled", mode="sync", run_dir=str(tmp_path))
    state.writes(workload="list", key=0, count=2)
    for node in ("n2", "n3"):
        _kill_behind_its_back(state.run.cluster, node)
    state.writes(workload="list", key=0, count=2)
    with pytest.raises(AckboundError) as info:
        state.teardown()
    message = str(info.value)
    assert "the replay could not run its steps" in message
    assert (
        "node n2 stopped though no fault stopped it: its process was killed by SIGKILL" in message
    )
    assert "node n3 stopped" in message
