"""Loopback ports a cluster holds for its whole life, against every other ackbound run.

A node's port is only bound while its process runs. Once a run kills a node, the port is free
as far as the kernel knows, yet the run still points at it: its proxy links forward there until
the node restarts (on the same port, or on a standby's). Were anything else to listen there
meanwhile — another run's node, or any server a test starts — the run's clients would write
into it and read back values that none of them wrote.

Two rules keep such a port to its run:

- **Outside the kernel's ephemeral range.** Node ports are drawn at random from the ports the
  kernel never hands out by itself (below or above ``ip_local_port_range``), so no socket
  bound to port 0 and no outgoing connection takes a down node's port.
- **Reserved against other runs.** Every port a cluster uses — its nodes', its standbys',
  its proxy listeners', an external target's nodes' on this machine — is reserved for as long
  as the cluster lives, by a :class:`PortLease`: a byte-range lock on one file per user (byte
  *p* for port *p*), which the kernel drops when the process ends, so a crashed run never
  leaves a port reserved. Within one process, a set of reserved ports does the same between
  leases (record locks belong to the process, not to the lease).

Only ackbound processes of the same user honour a lease; another program that binds a port of
its own choosing can still take one, which the controller reports (a node that cannot bind
its port).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import random
import socket
import tempfile
import threading
from pathlib import Path
from typing import Final

from harness.cluster._backend import ClusterError

__all__ = ["PortLease", "free_ports", "lock_path", "loopback"]

_HOST: Final = "127.0.0.1"
# Ports tried at most per wanted port before giving up (one in use, or held, is skipped).
_DRAWS_PER_PORT: Final = 64
_LOWEST: Final = 10_000  # below: ports other services commonly listen on
# Where the kernel takes ports for port 0 and outgoing connections when it does not say
# (Linux's /proc/sys/net/ipv4/ip_local_port_range; the BSDs' and macOS's default).
_EPHEMERAL_DEFAULT: Final = (49_152, 65_535)
_pick = random.Random()  # seeded from the OS: runs given one seed still draw apart

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
        path = lock_path()
        try:
            _file = (os.getpid(), os.open(path, flags, 0o600))
        except OSError as exc:
            raise ClusterError(
                f"cannot open {path}, where runs reserve their ports ({exc.strerror}); make it "
                "writable, or set TMPDIR to a directory you can write to"
            ) from None
    return _file[1]


def _lock(port: int) -> bool:
    """Reserve ``port`` for this process unless a lease anywhere holds it. Under ``_guard``."""
    if port in _reserved:
        return False
    fd = _fd()
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
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
        """Reserve ``port`` (a listener's, an external node's, or one just drawn); False
        when another run (or another lease of this process) holds it."""
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


def loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback (where a lease means anything)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def free_ports(count: int) -> list[int]:
    """``count`` loopback ports free now and held by no run, not reserved (for a server that a
    test starts by itself)."""
    with PortLease() as lease:
        return lease.take(count)


def _draw(count: int, lease: PortLease) -> list[int]:
    socks: list[socket.socket] = []
    got: list[int] = []
    ranges = _explicit_ranges()
    try:
        for _ in range(count * _DRAWS_PER_PORT):
            if len(got) == count:
                return got
            low, high = _pick.choices(ranges, weights=[h - lo + 1 for lo, h in ranges])[0]
            port = _pick.randint(low, high)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((_HOST, port))  # free now; kept bound until the end: drawn once
            except OSError:
                s.close()
                continue
            socks.append(s)
            if lease.claim(port):
                got.append(port)
        if len(got) == count:
            return got
    finally:
        for s in socks:
            s.close()
    with _guard:
        for port in got:
            _unlock(port)
            lease.ports.remove(port)
    raise ClusterError(
        f"found {len(got)} of {count} free loopback ports outside the ephemeral range that no "
        f"other ackbound run holds, in {count * _DRAWS_PER_PORT} tries; stop other runs or "
        f"free ports (the reservations are in {lock_path()})"
    )


def _explicit_ranges() -> list[tuple[int, int]]:
    """The port ranges the kernel never hands out by itself: below and above its ephemeral
    range (from ``_LOWEST`` up)."""
    low, high = _EPHEMERAL_DEFAULT
    with contextlib.suppress(OSError, ValueError):
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        low, high = (int(part) for part in text.split())
    ranges = [(lo, hi) for lo, hi in ((_LOWEST, low - 1), (high + 1, 65_535)) if hi - lo >= 1023]
    # A machine whose ephemeral range covers nearly everything: draw from it all (the lease
    # still keeps ackbound runs apart).
    return ranges or [(1024, 65_535)]
