"""A node's port, found free, can be taken by another socket before the node binds it: the
cluster then boots again on fresh ports, and only when that keeps happening says so, in one
line naming the node, its port and its log."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _deps import need_target

import harness.cluster._cluster as _cluster
from harness.cluster import ClusterError, history_header, start_cluster
from harness.cluster._ports import PortLease
from harness.history import HistoryWriter
from harness.targets import load_target

from ._util import pids_with_cwd_under


@contextmanager
def _taken_port() -> Iterator[int]:
    """A loopback port that a listening socket holds."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        yield squatter.getsockname()[1]


def _handing_out(taken: int, times: int, monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Make the first ``times`` picks of a cluster's ports give node n2 the ``taken`` port;
    returns every pick made."""
    real: Callable[[int, PortLease | None], list[int]] = _cluster._free_ports
    picks: list[list[int]] = []

    def picked(count: int, lease: PortLease | None = None) -> list[int]:
        ports = real(count, lease)
        if count > 1 and len(picks) < times:
            ports[1] = taken
        picks.append(ports)
        return ports

    monkeypatch.setattr(_cluster, "_free_ports", picked)
    return picks


@pytest.mark.parametrize("name", ["bundled", "valkey"])
def test_a_port_taken_before_its_node_binds_it_boots_again_on_fresh_ports(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_target(name)
    target = load_target(name)
    with _taken_port() as taken:
        picks = _handing_out(taken, 1, monkeypatch)
        with (
            HistoryWriter(None, history_header(target, "none")) as history,
            start_cluster(target, mode="none", run_dir=tmp_path, history=history) as cluster,
        ):
            assert [n.status for n in cluster.nodes] == ["up", "up", "up"]
        boots = [p for p in picks if len(p) > 1]
        assert len(boots) == 2 and taken in boots[0] and taken not in boots[1]


def test_a_port_taken_at_every_boot_is_one_line_naming_the_node_and_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_target("bundled")
    target = load_target("bundled")
    with _taken_port() as taken:
        picks = _handing_out(taken, 99, monkeypatch)
        with (
            HistoryWriter(None, history_header(target, "none")) as history,
            pytest.raises(ClusterError) as info,
        ):
            start_cluster(target, mode="none", run_dir=tmp_path, history=history)
    message = str(info.value)
    assert "\n" not in message
    assert f"node n2 (bundled, port {taken}) exited during startup" in message
    assert "address already in use" in message.lower()
    assert str(tmp_path / "nodes" / "n2" / "log") in message
    assert len([p for p in picks if len(p) > 1]) == _cluster._BOOT_ATTEMPTS
    assert not pids_with_cwd_under(tmp_path)  # every attempt tore its nodes down
