"""The locally built images: what they hold, that a rebuild is a no-op, and that the bundled
target runs on the docker backend from its [docker] section."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cluster import history_header, start_cluster
from harness.cluster._images import (
    DIGEST_LABEL,
    IMAGES,
    bundled_rootfs,
    ensure_image,
    shared_libraries,
)
from harness.history import HistoryWriter
from harness.targets import load_target

pytestmark = pytest.mark.docker


def test_bundled_rootfs_holds_the_interpreter_and_the_server_only() -> None:
    fs = bundled_rootfs()
    paths = set(fs.files) | set(fs.blobs)
    executable = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    assert str(executable).lstrip("/") in paths
    assert fs.symlinks["usr/local/bin/python3"] == str(executable)
    stdlib = Path(__import__("os").__file__).resolve().parent
    rel = str(stdlib).lstrip("/")
    assert f"{rel}/asyncio/base_events.py" in paths
    for pruned in ("test", "idlelib", "tkinter", "ensurepip", "lib2to3", "site-packages"):
        assert not any(p.startswith(f"{rel}/{pruned}/") for p in paths), pruned
    harness_files = sorted(p for p in paths if p.startswith("opt/ackbound/harness/"))
    assert {p.split("/")[3] for p in harness_files} == {
        "__init__.py",
        "__pycache__",
        "resp",
        "server",
    }
    assert "opt/ackbound/harness/server/__main__.py" in paths
    assert any(p.startswith("opt/ackbound/harness/server/__pycache__/") for p in paths)
    for lib in shared_libraries(executable):
        assert lib.lstrip("/") in paths
    assert fs.env["PYTHONPATH"] == "/opt/ackbound"


def test_a_second_build_is_a_no_op_and_the_label_is_the_content(
    docker_client: Any, bundled_image: str, valkey_image: str
) -> None:
    assert (bundled_image, valkey_image) == (IMAGES["bundled"], IMAGES["valkey"])
    for name in ("bundled", "valkey"):
        again = ensure_image(docker_client, name)
        assert not again.built
        assert docker_client.images.get(again.tag).labels[DIGEST_LABEL] == again.digest


def test_the_bundled_image_runs_the_server_with_its_fast_path(
    docker_client: Any, bundled_image: str
) -> None:
    out = docker_client.containers.run(
        bundled_image,
        [
            "python3",
            "-c",
            "import harness.server._server, harness.resp as r; print(r.HAVE_HIREDIS)",
        ],
        network_mode="host",
        remove=True,
    )
    from harness.resp import HAVE_HIREDIS

    assert out.decode().strip() == str(HAVE_HIREDIS)


def test_the_bundled_target_runs_on_the_docker_backend(
    tmp_path: Path, bundled_image: str, docker_client: Any
) -> None:
    target = load_target("bundled")
    assert target.docker is not None and target.docker.image == bundled_image
    with (
        HistoryWriter(tmp_path / "history.ndjson", history_header(target, "sync")) as history,
        start_cluster(
            target,
            backend="docker",
            mode="sync",
            params={"sync_replicas": 1, "sync_timeout_ms": 500},
            run_dir=tmp_path,
            history=history,
        ) as cluster,
    ):
        client = cluster.client(None, timeout_s=2.0)
        try:
            assert cluster.perform(client, "register", "write", "r", "v1")[0] == "ok"
        finally:
            client.close()
        assert cluster.apply("kill", node="n2") == [{"down": "n2"}]
        cluster.heal()
        cluster.wait_recovered(10)
        for node in ("n1", "n2", "n3"):
            reader = cluster.client(node, timeout_s=2.0)
            try:
                got = cluster.perform(reader, "register", "read", "r", None)
            finally:
                reader.close()
            # n2 came back empty (no persistence) and resynced from the primary
            assert (got[0], got[1]) == ("ok", "v1"), (node, got)


def test_a_stale_image_of_ours_is_rebuilt_before_a_cluster_starts(
    tmp_path: Path, valkey_image: str, docker_client: Any
) -> None:
    """An image built from other files (an older ackbound's server, another binary) was run
    as it was: the run then tested a stale copy."""
    import io
    import tarfile

    empty = io.BytesIO()
    tarfile.open(fileobj=empty, mode="w").close()
    repository, _, version = valkey_image.rpartition(":")
    docker_client.api.import_image_from_data(
        empty.getvalue(), repository=repository, tag=version,
        changes=[f"LABEL {DIGEST_LABEL}=stale"],
    )  # fmt: skip
    assert docker_client.images.get(valkey_image).labels[DIGEST_LABEL] == "stale"
    target = load_target("valkey")
    with (
        HistoryWriter(None, history_header(target, "none")) as history,
        start_cluster(target, backend="docker", image=valkey_image, mode="none",
                      run_dir=tmp_path, history=history) as cluster,
    ):  # fmt: skip
        assert cluster.primary == "n1"
    current = ensure_image(docker_client, "valkey")
    assert not current.built  # the cluster's start rebuilt it
    assert docker_client.images.get(valkey_image).labels[DIGEST_LABEL] == current.digest
