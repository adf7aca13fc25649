"""Helpers shared by the cluster tests (polling with a deadline, history checks)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from harness.cluster import Cluster
from harness.history import NEMESIS, load_history

T = TypeVar("T")


def poll(check: Callable[[], T | None], what: str, timeout: float = 10.0, every: float = 0.02) -> T:
    """Call ``check`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def write(
    cluster: Cluster,
    value: str,
    *,
    key: str = "l",
    node: str | None = None,
    workload: str = "list",
    timeout_s: float = 1.0,
) -> tuple[str, Any, str | None]:
    client = cluster.client(node, timeout_s=timeout_s)
    try:
        return cluster.perform(client, workload, "write", key, value)
    finally:
        client.close()


def read(
    cluster: Cluster, node: str | None = None, *, key: str = "l", workload: str = "list"
) -> Any:
    client = cluster.client(node, timeout_s=2.0)
    try:
        typ, value, error = cluster.perform(client, workload, "read", key, None)
    finally:
        client.close()
    assert typ == "ok", f"read of {key} on {node or cluster.primary} failed: {error}"
    return value


def nemesis_pairs(path: Path) -> list[tuple[str, str, dict[str, Any] | None, str | None]]:
    """(f, completion type, completion value, error) of every nemesis op, checking pairing."""
    ops = [op for op in load_history(path).ops if op.process == NEMESIS]
    out: list[tuple[str, str, dict[str, Any] | None, str | None]] = []
    assert len(ops) % 2 == 0, f"unpaired nemesis ops in {path}"
    for inv, done in zip(ops[::2], ops[1::2], strict=True):
        assert inv.type == "invoke" and done.type in ("ok", "fail", "info"), (inv, done)
        assert inv.f == done.f and done.time >= inv.time
        assert isinstance(done.value, dict) and isinstance(done.value.get("effects"), list)
        out.append((done.f, done.type, done.value, done.error))
    return out


def pids_with_cwd_under(root: Path) -> list[int]:
    """Processes whose working directory is under ``root`` (where local nodes run)."""
    found = []
    root_s = str(root.resolve())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == root_s or cwd.startswith(root_s + os.sep):
            found.append(int(entry))
    return found


# A process that reserves the ports on its command line, prints 1 or 0 for each, and holds
# them until its stdin closes.
CLAIM = (
    "import sys\n"
    "from harness.cluster._ports import PortLease\n"
    "lease = PortLease()\n"
    "print(' '.join(str(int(lease.claim(int(p)))) for p in sys.argv[1:]), flush=True)\n"
    "sys.stdin.read()\n"
)


def claimable_elsewhere(ports: list[int]) -> list[bool]:
    """Whether another process could reserve each of ``ports``."""
    out = subprocess.run(
        [sys.executable, "-c", CLAIM, *map(str, ports)],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return [flag == "1" for flag in out.split()]
