"""Fixtures for the docker backend: locally imported images, no registry needed.

The images are the ones ``ackbound images build`` makes (harness/cluster/_images.py), shared
with the conformance matrix: ``ackbound-valkey:local`` (the valkey binary the valkey target
finds plus the libraries ``ldd`` lists) and ``ackbound-bundled:local`` (this machine's Python
and the bundled server). Each is rebuilt only when its content changes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# This folder is deliberately not a package (it would shadow the Docker SDK, ``docker``);
# make tests/ importable for the shared helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _deps import need_docker, need_valkey

from harness.cluster._docker import LABEL_RUN
from harness.cluster._images import ensure_image


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return need_docker()


@pytest.fixture(scope="session")
def valkey_image(docker_client: Any) -> str:
    need_valkey()
    return ensure_image(docker_client, "valkey").tag


@pytest.fixture(scope="session")
def bundled_image(docker_client: Any) -> str:
    return ensure_image(docker_client, "bundled").tag


@pytest.fixture(autouse=True)
def no_stray_containers(docker_client: Any) -> Iterator[None]:
    """Every docker test leaves no ackbound container or volume behind."""
    yield
    left = [c.name for c in docker_client.containers.list(all=True, filters={"label": LABEL_RUN})]
    volumes = [v.name for v in docker_client.volumes.list(filters={"label": LABEL_RUN})]
    assert not left and not volumes, f"stray containers {left} / volumes {volumes}"
