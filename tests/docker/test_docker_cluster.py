"""The docker backend: the same 3-node valkey cluster as containers on the host network,
every fault applied through the engine (kill, start, pause, remove) and the fault proxy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _holder import holding_a_cluster

from harness.cluster import Cluster, history_header, start_cluster
from harness.cluster._docker import LABEL_RUN, reap_orphans
from harness.history import HistoryWriter
from harness.targets import load_target

pytestmark = pytest.mark.docker


def _poll(check: Any, what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def _write(cluster: Cluster, value: str, node: str | None = None) -> str:
    client = cluster.client(node, timeout_s=1.0)
    try:
        return cluster.perform(client, "list", "write", "l", value)[0]
    finally:
        client.close()


def _read(cluster: Cluster, node: str) -> Any:
    client = cluster.client(node, timeout_s=2.0)
    try:
        typ, value, error = cluster.perform(client, "list", "read", "l", None)
        assert typ == "ok", error
        return value
    finally:
        client.close()


def test_docker_cluster_takes_every_fault_and_heals(
    tmp_path: Path, valkey_image: str, docker_client: Any
) -> None:
    target = load_target("valkey")
    with (
        HistoryWriter(tmp_path / "history.ndjson", history_header(target, "sync")) as history,
        start_cluster(
            target,
            backend="docker",
            image=valkey_image,
            mode="sync",
            params={"sync_replicas": 1, "sync_timeout_ms": 300},
            run_dir=tmp_path,
            history=history,
        ) as cluster,
    ):
        containers = {
            c.labels["ackbound.node"]: c
            for c in docker_client.containers.list(filters={"label": LABEL_RUN})
        }
        assert sorted(containers) == ["n1", "n2", "n3"]
        for c in containers.values():
            assert c.attrs["HostConfig"]["NetworkMode"] == "host"
        assert [(n.name, n.az, n.role) for n in cluster.nodes] == [
            ("n1", "az1", "primary"),
            ("n2", "az2", "replica"),
            ("n3", "az3", "replica"),
        ]
        assert _write(cluster, "w1") == "ok"

        # pause = docker pause
        assert cluster.apply("pause", node="n3") == [{"down": "n3"}]
        containers["n3"].reload()
        assert containers["n3"].status == "paused"
        assert cluster.apply("resume", node="n3") == [{"up": "n3"}]

        # kill n3; partition n2, the only replica left: sync writes are not acknowledged
        assert cluster.apply("kill", node="n3") == [{"down": "n3"}]
        containers["n3"].reload()
        assert containers["n3"].status == "exited"
        cluster.apply("partition", node="n2")
        assert _write(cluster, "cut") == "info"
        cluster.heal()
        cluster.wait_recovered(10)
        assert _write(cluster, "w2") == "ok"

        # slow-link: n2 lags behind while n3 keeps up
        cluster.configure("none")
        assert cluster.apply("slow-link", src="n1", dst="n2", bandwidth=1000) == [
            {"slow": ["n1", "n2"]}
        ]
        for i in range(4):
            assert _write(cluster, f"big{i}" + "z" * 1000) == "ok"
        _poll(lambda: cluster.offsets()["n3"] == cluster.offsets()["n1"], "n3 to keep up")
        assert cluster.offsets()["n2"] < cluster.offsets()["n1"]

        # kill the primary and fail over: the most up-to-date replica (n3) wins
        cluster.apply("kill", node="n1")
        promote = cluster.apply("failover")[0]
        assert promote["promote"] == "n3"
        assert promote["candidates"]["n3"] == max(promote["candidates"].values())
        assert promote["candidates"]["n3"] > promote["candidates"]["n2"]

        # az-outage removes the container and its volume
        assert cluster.apply("az-outage", az="az2") == [{"down": "n2"}, {"lose-data": "n2"}]
        assert not docker_client.containers.list(all=True, filters={"name": containers["n2"].name})
        effects = cluster.heal()
        assert {"replicate": "n1", "from": "n3"} in effects and {
            "replicate": "n2",
            "from": "n3",
        } in effects
        assert cluster.apply("wipe-restart", node="n1") == [
            {"down": "n1"},
            {"lose-data": "n1"},
            {"up": "n1"},
            {"replicate": "n1", "from": "n3"},
        ]
        synced = cluster.wait_recovered(10)
        assert sorted(e["synced"] for e in synced) == ["n1", "n2"]
        expected = ["w1", "cut", "w2"] + [f"big{i}" + "z" * 1000 for i in range(4)]
        for node in ("n1", "n2", "n3"):
            assert _read(cluster, node) == expected

        started = time.monotonic()
        cluster.reset()
        assert time.monotonic() - started < 5
        assert cluster.primary == "n1" and _read(cluster, "n2") == []

        # containers removed or stopped behind ackbound's back are named, not written off
        # as faults of the server; the next reset starts them again
        now = {
            c.labels["ackbound.node"]: c
            for c in docker_client.containers.list(filters={"label": LABEL_RUN})
        }
        now["n2"].remove(force=True)
        now["n3"].kill()
        gone = cluster.stopped_on_their_own()
        assert [line.split(": ", 1)[0] for line in gone] == [
            "node n2 stopped though no fault stopped it",
            "node n3 stopped though no fault stopped it",
        ]
        assert f"its container {now['n2'].name} is gone: something outside ackbound " in gone[0]
        assert f"its container {now['n3'].name} exited with code 137" in gone[1]
        cluster.reset()
        assert [n.status for n in cluster.nodes] == ["up", "up", "up"]
        assert _write(cluster, "back") == "ok"
    assert not docker_client.containers.list(all=True, filters={"label": LABEL_RUN})


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_no_stray_containers_after_ctrl_c_or_a_killed_harness(
    tmp_path: Path, valkey_image: str, docker_client: Any, sig: signal.Signals
) -> None:
    with holding_a_cluster(tmp_path, valkey_image) as proc:
        owner = {"label": f"ackbound.owner-pid={proc.pid}"}
        assert len(docker_client.containers.list(filters=owner)) == 3
        proc.send_signal(sig)
        proc.wait(30)
    if sig == signal.SIGINT:
        # Ctrl-C: KeyboardInterrupt unwinds the with-block, which removes everything.
        assert proc.returncode != 0
    else:
        # SIGKILL leaves no chance to clean up; the next backend reaps the orphans.
        assert len(docker_client.containers.list(all=True, filters=owner)) == 3
        assert reap_orphans(docker_client) == 3
    assert not docker_client.containers.list(
        all=True, filters={"label": f"ackbound.owner-pid={proc.pid}"}
    )
    assert not docker_client.volumes.list(filters={"label": f"ackbound.owner-pid={proc.pid}"})
    assert os.path.isdir(tmp_path / "nodes" / "n1")


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        # (A name that is no image reference at all, "Bad Image", is refused before the run
        # starts: tests/cli/test_output_paths.py.)
        (
            "ackbound-nosuch:local",
            "docker image 'ackbound-nosuch:local' is not present; it is built locally, never "
            "pulled: ackbound builds only ackbound-bundled:local, ackbound-valkey:local",
        ),
    ],
)
def test_an_image_that_cannot_be_used_is_one_line_and_recorded(
    docker_client: Any, tmp_path: Path, image: str, expected: str
) -> None:
    """The name does not reach a registry: it is one of ours, built locally."""
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--backend", "docker", "--image", image,
         "--mode", "sync", "--budget", "3", "--quiet", "--report-dir", "run"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (3, f"ackbound: error: {expected}\n")
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["exit_code"], results["complete"], results["error"]) == (3, False, expected)
