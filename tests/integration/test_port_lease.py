"""Two runs on one machine never share a port: every port a cluster uses — its nodes', a
killed node's, a standby's, its proxy listeners' — stays reserved against every other run until
the cluster closes, so no other run's node or proxy can take it while one of its nodes is down
(and then read the first run's writes as values no client of its own wrote)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _deps import need_target

import harness.cluster._ports as _ports
from harness.cluster import Cluster, ClusterError, history_header, start_cluster
from harness.cluster._ports import PortLease, free_ports
from harness.history import HistoryWriter
from harness.targets import load_target

from ._util import CLAIM, claimable_elsewhere


def _ephemeral() -> tuple[int, int]:
    """The ports the kernel hands out by itself (to port 0 and outgoing connections)."""
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(low), int(high)


def _in_use(cluster: Cluster) -> set[int]:
    """Every port the cluster points at now: its nodes' and its proxy listeners'."""
    nodes = {n.spec.port for n in cluster._nodes.values()}
    return nodes | {link.port for link in cluster.proxy.links.values()}


def test_a_held_port_is_refused_to_every_other_lease_until_released() -> None:
    with PortLease() as lease:
        (port,) = lease.take(1)
        assert PortLease().claim(port) is False  # another lease of this process
        assert claimable_elsewhere([port]) == [False]  # another process
        assert port not in free_ports(20)
    assert claimable_elsewhere([port]) == [True]
    with PortLease() as again:
        assert again.claim(port) is True


def test_a_run_that_dies_leaves_no_port_held() -> None:
    (port,) = free_ports(1)
    holder = subprocess.Popen(
        [sys.executable, "-c", CLAIM, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().split() == ["1"]
        assert PortLease().claim(port) is False
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    with PortLease() as lease:
        assert lease.claim(port) is True


def test_a_port_another_run_holds_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port free only because its node is down is skipped."""
    with PortLease() as other:
        (held,) = other.take(1)  # held, and bound by nobody: like a killed node's port
        (spare,) = free_ports(1)
        offered = iter([held, spare])

        class Offering(random.Random):
            def randint(self, a: int, b: int) -> int:
                return next(offered)

        monkeypatch.setattr(_ports, "_pick", Offering())
        with PortLease() as lease:
            assert lease.take(1) == [spare]


def test_ports_are_drawn_outside_the_kernels_ephemeral_range() -> None:
    """Where no socket bound to port 0 and no outgoing connection can take them."""
    low, high = _ephemeral()
    with PortLease() as lease:
        ports = lease.take(200)
    assert len(set(ports)) == 200
    assert not [p for p in ports if low <= p <= high or p < 10_000]


def test_a_reservations_file_that_cannot_be_opened_is_one_line_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "gone" / "ackbound-ports-0.lock"
    monkeypatch.setattr(_ports, "lock_path", lambda: missing)
    monkeypatch.setattr(_ports, "_file", None)  # as in a process that has not opened it yet
    monkeypatch.setattr(_ports, "_reserved", set())
    with pytest.raises(ClusterError) as info:
        PortLease().take(1)
    assert str(info.value) == (
        f"cannot open {missing}, where runs reserve their ports (No such file or directory); "
        "make it writable, or set TMPDIR to a directory you can write to"
    )


@pytest.fixture(params=["bundled", "valkey"])
def own(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    need_target(request.param)
    target = load_target(request.param)
    with (
        HistoryWriter(None, history_header(target, "none")) as history,
        start_cluster(target, mode="none", run_dir=tmp_path, history=history) as cluster,
    ):
        yield cluster


def test_every_port_a_cluster_used_stays_held_while_a_node_is_down_and_after(own: Cluster) -> None:
    before = _in_use(own)
    assert own.apply("kill", node="n2") == [{"down": "n2"}]
    down = _in_use(own)  # n2's port, free to the kernel now, still a proxy link's upstream
    low, high = _ephemeral()
    assert not [n.spec.port for n in own._nodes.values() if low <= n.spec.port <= high]
    assert before <= down
    assert claimable_elsewhere(sorted(down)) == [False] * len(down)
    own.apply("restart", node="n2")
    after = _in_use(own)  # the bundled server restarts on a standby's port
    used = sorted(before | after)
    assert claimable_elsewhere(used) == [False] * len(used)
    assert set(used) <= set(own._ports.ports)
    own.close()
    assert claimable_elsewhere(used) == [True] * len(used)


def test_a_closed_cluster_sends_nothing(own: Cluster) -> None:
    """Its ports may be another run's by now: a client left over refuses every op."""
    client = own.client()
    assert own.perform(client, "list", "write", "l", "w1")[0] == "ok"
    own.close()
    for call in (
        lambda: own.perform(client, "list", "write", "l", "w2"),
        lambda: own.client(),
        lambda: own.observe_lag(),
    ):
        with pytest.raises(ClusterError, match=r"^this cluster is closed; start a new one$"):
            call()
    client.close()
