"""A run directory given as a relative path (``ackbound run --report-dir runs/x``) works for
servers that the local backend starts in their own data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from _deps import need_target

from harness.cluster import history_header, start_cluster
from harness.history import HistoryWriter
from harness.targets import load_target


@pytest.mark.parametrize("name", ["valkey", "redis"])
def test_a_relative_run_dir_starts_every_node(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_target(name)
    monkeypatch.chdir(tmp_path)
    target = load_target(name)
    with (
        HistoryWriter(None, history_header(target, "none")) as history,
        start_cluster(target, mode="none", run_dir="runs/rel", history=history) as cluster,
    ):
        assert [n.status for n in cluster.nodes] == ["up", "up", "up"]
    assert (tmp_path / "runs" / "rel" / "nodes" / "n1" / "log").exists()
