"""Loopback ports a cluster holds for its whole life, against every other ackbound run.

A node's port is only bound while its process runs. Once a run kills a node, the port is free
as far as the kernel knows, yet the run still points at it: its proxy links forward there until
the node restarts (on the same port, or on a standby's). Were another run's new node to take
that port, the first run's clients would write into the second run's cluster, and each run
would read values that none of its own clients wrote.

So every port a cluster uses — its nodes', its standbys', its proxy listeners' — is reserved
for as long as the cluster lives, by a :class:`PortLease`. A lease is a byte-range lock on one
shared file per user (byte *p* for port *p*): the kernel drops it when the process ends, so a
crashed run never leaves a port reserved. Within one process, a set of reserved ports does the
same between leases (record locks belong to the process, not to the lease).

Only ackbound processes of the same user honour a lease; another program can still take a
free port, which the controller already reports (a node that cannot bind its port).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Final

from harness.cluster._backend import ClusterError

__all__ = ["PortLease", "free_ports", "lock_path"]

_HOST: Final = "127.0.0.1"
# Ports drawn at most per wanted port before giving up: every draw the kernel offers is free;
# only one reserved by another run is drawn again.
_DRAWS_PER_PORT: Final = 64

_guard = threading.Lock()
_reserved: set[int] = set()  # ports some lease of this process holds
_file: tuple[int, int] | None = None  # (pid, fd) of the lock file, opened once per process


def lock_path() -> Path:
    """The file whose byte *p* is locked while a run holds port *p* (one per user)."""
    return Path(tempfile.gettempdir()) / f"ackbound-ports-{os.getuid()}.lock"


def _fd() -> int:
    """The lock file, open for this process's life: closing any descriptor of it would drop
    every lock the process holds on it. Under ``_guard``."""
    global _file
    if _file is None or _file[0] != os.getpid():  # a forked child holds none of the locks
        if _file is not None:
            _reserved.clear()
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        _file = (os.getpid(), os.open(lock_path(), flags, 0o600))
    return _file[1]


def _lock(port: int) -> bool:
    """Reserve ``port`` for this process unless a lease anywhere holds it. Under ``_guard``."""
    if port in _reserved:
        return False
    try:
        fcntl.lockf(_fd(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
    except (BlockingIOError, PermissionError):
        return False
    _reserved.add(port)
    return True


def _unlock(port: int) -> None:
    """Under ``_guard``."""
    if port in _reserved:
        _reserved.discard(port)
        with contextlib.suppress(OSError):
            fcntl.lockf(_fd(), fcntl.LOCK_UN, 1, port)


class PortLease:
    """The ports one cluster holds; :meth:`release` (at the cluster's close) frees them all."""

    def __init__(self) -> None:
        self.ports: list[int] = []

    def claim(self, port: int) -> bool:
        """Reserve ``port``, one this process has bound already (a listener's); False when
        another run (or another lease of this process) holds it."""
        with _guard:
            if not _lock(port):
                return False
        self.ports.append(port)
        return True

    def take(self, count: int) -> list[int]:
        """``count`` loopback ports that are free now and that no run holds, reserved."""
        return _draw(count, self)

    def release(self) -> None:
        with _guard:
            for port in self.ports:
                _unlock(port)
        self.ports.clear()

    def __enter__(self) -> PortLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def free_ports(count: int) -> list[int]:
    """``count`` loopback ports free now and held by no run, not reserved (for a server that a
    test starts by itself)."""
    return _draw(count, None)


def _draw(count: int, lease: PortLease | None) -> list[int]:
    socks: list[socket.socket] = []
    got: list[int] = []
    try:
        # Every socket stays bound until the end, so the kernel offers each port once.
        for _ in range(count * _DRAWS_PER_PORT):
            if len(got) == count:
                return got
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((_HOST, 0))
            port: int = s.getsockname()[1]
            if lease.claim(port) if lease is not None else _unheld(port):
                got.append(port)
        if len(got) == count:
            return got
    finally:
        for s in socks:
            s.close()
    if lease is not None:
        with _guard:
            for port in got:
                _unlock(port)
                lease.ports.remove(port)
    raise ClusterError(
        f"found {len(got)} of {count} free loopback ports that no other ackbound run holds; "
        f"stop other runs or free ports (the reservations are in {lock_path()})"
    )


def _unheld(port: int) -> bool:
    """No run holds ``port`` right now (tested by taking it and giving it back)."""
    with _guard:
        if not _lock(port):
            return False
        _unlock(port)
        return True
