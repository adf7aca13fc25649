"""Two runs on one machine never share a port: every port a cluster uses — its nodes', a
killed node's, a standby's, its proxy listeners' — stays reserved against every other run until
the cluster closes, so no other run's node or proxy can take it while one of its nodes is down
(and then read the first run's writes as values no client of its own wrote)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from _deps import need_target

import harness.cluster._ports as _ports
from harness.cluster import Cluster, history_header, start_cluster
from harness.cluster._ports import PortLease, free_ports
from harness.history import HistoryWriter
from harness.targets import load_target

_CLAIM = (
    "import sys\n"
    "from harness.cluster._ports import PortLease\n"
    "lease = PortLease()\n"
    "print(' '.join(str(int(lease.claim(int(p)))) for p in sys.argv[1:]), flush=True)\n"
    "sys.stdin.read()\n"  # hold the lease until told to go
)


def _claims_elsewhere(ports: list[int]) -> list[bool]:
    """Whether another process could reserve each of ``ports``."""
    out = subprocess.run(
        [sys.executable, "-c", _CLAIM, *map(str, ports)],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return [flag == "1" for flag in out.split()]


def _in_use(cluster: Cluster) -> set[int]:
    """Every port the cluster points at now: its nodes' and its proxy listeners'."""
    nodes = {n.spec.port for n in cluster._nodes.values()}
    return nodes | {link.port for link in cluster.proxy.links.values()}


def test_a_held_port_is_refused_to_every_other_lease_until_released() -> None:
    with PortLease() as lease:
        (port,) = lease.take(1)
        assert PortLease().claim(port) is False  # another lease of this process
        assert _claims_elsewhere([port]) == [False]  # another process
        assert port not in free_ports(20)
    assert _claims_elsewhere([port]) == [True]
    with PortLease() as again:
        assert again.claim(port) is True


def test_a_run_that_dies_leaves_no_port_held() -> None:
    (port,) = free_ports(1)
    holder = subprocess.Popen(
        [sys.executable, "-c", _CLAIM, str(port)],
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
    """The kernel may offer a port that is free only because its node is down: skip it."""
    with PortLease() as other:
        (held,) = other.take(1)  # held, and bound by nobody: like a killed node's port
        (spare,) = free_ports(1)
        offered = iter([held, spare])

        class Offering(socket.socket):
            def bind(self, address: Any) -> None:
                super().bind((address[0], next(offered)))

        fake = SimpleNamespace(
            socket=Offering, AF_INET=socket.AF_INET, SOCK_STREAM=socket.SOCK_STREAM
        )
        monkeypatch.setattr(_ports, "socket", fake)
        with PortLease() as lease:
            assert lease.take(1) == [spare]


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
    assert before <= down
    assert _claims_elsewhere(sorted(down)) == [False] * len(down)
    own.apply("restart", node="n2")
    after = _in_use(own)  # the bundled server restarts on a standby's port
    used = sorted(before | after)
    assert _claims_elsewhere(used) == [False] * len(used)
    assert set(used) <= set(own._ports.ports)
    own.close()
    assert _claims_elsewhere(used) == [True] * len(used)
