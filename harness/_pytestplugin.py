"""pytest plugin: ``pytest --ackbound-target T`` runs the conformance run as pytest items.

Registered through the ``pytest11`` entry point. It imports nothing heavy at collection
time: the harness is imported only when an ackbound item runs.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ackbound", "ackbound durability conformance")
    group.addoption(
        "--ackbound-target",
        metavar="TARGET",
        help="run ackbound's conformance run against TARGET (bundled, valkey, redis or a file)",
    )
    group.addoption(
        "--ackbound-mode",
        default="all",
        metavar="MODE",
        help="durability mode(s): none, sync, async or all (default all)",
    )
    group.addoption("--ackbound-budget", type=float, default=None, metavar="SECONDS")
    group.addoption("--ackbound-seed", type=int, default=None, metavar="N")
    group.addoption("--ackbound-faults", default=None, metavar="LIST")
    group.addoption("--ackbound-backend", default="local", metavar="local|docker")
    group.addoption("--ackbound-report-dir", default=None, metavar="DIR")


# First, before pytest-xdist's own hook: under --dist loadgroup that one appends each item's
# xdist_group to its id, which is what keeps the ackbound items on one worker.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: Any, items: list[Any]) -> None:
    if not config.getoption("--ackbound-target", default=None):
        return
    from harness.run._pytest import make_items

    items.extend(make_items(session, config))


@pytest.hookimpl(trylast=True)
def pytest_configure(config: Any) -> None:
    if not config.getoption("--ackbound-target", default=None) or hasattr(config, "workerinput"):
        return  # (a pytest-xdist worker: the controller has checked)
    from harness.run._pytest import check_distribution

    check_distribution(config)
