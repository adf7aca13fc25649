"""Fixtures for cluster tests: one live cluster per target per module, reset between tests.

Each test gets the cluster back in its initial state (``Cluster.reset``) with a fresh history
file; after the test the history must load and every nemesis op must be paired with a
completion that carries its effects.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _deps import need_target

from harness.cluster import Cluster, history_header, start_cluster
from harness.history import HistoryWriter
from harness.targets import load_target

from ._util import nemesis_pairs

TARGETS = ("bundled", "valkey", "redis")


@pytest.fixture(scope="module", params=TARGETS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    need_target(request.param)
    target = load_target(request.param)
    run_dir = tmp_path_factory.mktemp(f"run-{request.param}")
    with (
        HistoryWriter(run_dir / "boot.ndjson", history_header(target, "none")) as boot,
        start_cluster(target, mode="none", run_dir=run_dir, history=boot) as cluster,
    ):
        yield cluster


@pytest.fixture
def cluster(live: Cluster, tmp_path: Path) -> Iterator[Cluster]:
    path = tmp_path / "history.ndjson"
    with HistoryWriter(path, history_header(live.target, "none")) as history:
        live.auto_failover = False
        live.reset(history=history, mode="none", params={})
        yield live
    nemesis_pairs(path)
