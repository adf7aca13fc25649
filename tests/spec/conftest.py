"""Fixtures of the spec tests: TLC (a failure when absent, unless ACKBOUND_ALLOW_SKIP=1)
and one TLC run per configuration, shared by every test that needs its result."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _deps import missing

from harness.spec import ConfigCheck, Manifest, Tlc, TlcNotFound, check_config, find_tlc
from harness.spec import load_manifest as _load_manifest


@pytest.fixture(scope="session")
def manifest() -> Manifest:
    return _load_manifest()


@pytest.fixture(scope="session")
def tlc() -> Tlc:
    try:
        return find_tlc()
    except TlcNotFound as exc:
        missing("TLC", str(exc))


@pytest.fixture(scope="session")
def tlc_check(tlc: Tlc, manifest: Manifest) -> Callable[[str], ConfigCheck]:
    """``tlc_check(name)``: the result of ``ackbound spec check --config name`` (cached)."""
    cache: dict[str, ConfigCheck] = {}

    def get(name: str) -> ConfigCheck:
        if name not in cache:
            cache[name] = check_config(tlc, manifest, manifest.get(name), workers=2)
        return cache[name]

    return get
