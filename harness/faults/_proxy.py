"""The fault proxy: a TCP proxy on loopback that the harness controls per direction.

Every replication link (one listener per directed replica→primary pair) and every client link
(one listener per node) goes through a :class:`Link`. Each link has two directions —
``"up"`` (from the side that connected to the listener towards the server) and ``"down"``
(back) — and each direction has a :class:`Policy`: pass, blocked, a fixed extra latency,
a bandwidth limit. A link can also reset every connection it carries.

Theory of operation. Each proxied connection runs two pumps, one per direction. A pump is a
reader task and a writer task joined by a queue of ``(arrival time, bytes)`` chunks:

- the reader stops reading while the direction is blocked or the queue holds more than
  ``_QUEUE_LIMIT`` bytes, so backpressure reaches the sender through TCP just as a congested
  or partitioned network would;
- the writer sends chunks strictly in order, each no earlier than its arrival time plus the
  direction's latency, in slices paced by the bandwidth limit, and re-checks the policy
  before every slice.

"Blocked" holds bytes rather than discarding them: TCP guarantees the endpoints an ordered,
lossless byte stream, so a partition looks to them like silence (until their own timeouts
give up on the connection), never like missing or reordered bytes. The proxy never alters,
drops or reorders a byte it has accepted; the only way it ends a stream early is a reset,
which both endpoints see as a reset.

Policy changes are made on the proxy's event loop and :meth:`Link.set` returns only once they
are in force, so a fault recorded as done is done.

The proxy runs in a background thread with its own asyncio loop, so the harness (and
Hypothesis rules, which are synchronous) can drive it with plain method calls.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

__all__ = ["PASS", "Direction", "FaultProxy", "Link", "LinkStats", "Policy"]

Direction = Literal["up", "down"]
_CHUNK: Final = 64 * 1024
_QUEUE_LIMIT: Final = 1024 * 1024
_SLICE_S: Final = 0.02  # bandwidth pacing granularity
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Policy:
    """What one direction of a link does to the bytes it carries."""

    blocked: bool = False
    latency_ms: float = 0.0
    bandwidth: int | None = None  # bytes per second; None = unlimited

    def __post_init__(self) -> None:
        if not 0 <= self.latency_ms < float("inf"):  # (NaN fails too)
            raise ValueError(f"Policy.latency_ms={self.latency_ms}: must be finite and ≥ 0")
        if self.bandwidth is not None and self.bandwidth < 1:
            raise ValueError(f"Policy.bandwidth={self.bandwidth}: must be ≥ 1 byte/s or None")


PASS: Final = Policy()


@dataclass(frozen=True, kw_only=True)
class LinkStats:
    connections: int  # open right now
    accepted: int  # ever
    bytes_up: int
    bytes_down: int


class _DirectionState:
    """The policy of one direction of a link, shared by all its connections."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.changed = asyncio.Event()
        self.bytes = 0
        self.next_free = 0.0  # when the bandwidth limit lets the next slice go, on any connection

    def set(self, policy: Policy) -> None:
        self.policy = policy
        # Wake every pump waiting on the old policy; they re-check and wait on a fresh event.
        old, self.changed = self.changed, asyncio.Event()
        old.set()


_EOF: Final = b""  # queued when the sender closed its side (FIN)
_RESET: Final = bytearray()  # queued when the sender reset the connection (RST)


class _Pump:
    """One direction of one connection: reader task → queue → writer task.

    The end of the stream (a FIN, or a reset) is queued behind the bytes before it, and
    passes the direction's policy as they do: it is not delivered through a partition, nor
    ahead of the bytes a latency still holds.
    """

    def __init__(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        state: _DirectionState,
        reset: Callable[[], None],
    ) -> None:
        self.src = src
        self.dst = dst
        self.state = state
        self.reset = reset  # resets the whole connection, both ways
        self.queue: collections.deque[tuple[float, bytes | bytearray]] = collections.deque()
        self.queued = 0
        self.item_ready = asyncio.Event()
        self.drained = asyncio.Event()
        # The pump the other way: told when this one's destination is gone (see write_loop).
        self.back: _Pump | None = None
        self.finished = False  # the end of the stream (FIN or reset) went through
        self.tasks: list[asyncio.Task[None]] = []  # the connection's, which a reset cancels

    def push_reset(self) -> None:
        """The far end of this pump's source is gone: a reset goes this way, behind the
        bytes queued before it and through this direction's policy, as one read would (after
        a FIN that already went, on its own, once the direction passes)."""
        if self.finished:
            self.tasks.append(asyncio.ensure_future(self._reset_when_due()))
            return
        self.queue.append((time.monotonic(), _RESET))
        self.item_ready.set()

    async def _reset_when_due(self) -> None:
        await self._until_due(time.monotonic())
        self.reset()

    async def read_loop(self) -> None:
        while True:
            while self.state.policy.blocked or self.queued >= _QUEUE_LIMIT:
                if self.state.policy.blocked:
                    await self.state.changed.wait()
                else:
                    self.drained.clear()
                    await self.drained.wait()
            item: bytes | bytearray
            try:
                item = await self.src.read(_CHUNK) or _EOF
            except ConnectionError:
                item = _RESET
            self.queue.append((time.monotonic(), item))
            self.queued += len(item)
            self.item_ready.set()
            if not item:
                return

    async def _until_due(self, arrival: float) -> None:
        """Wait until the direction passes what arrived at ``arrival`` (not blocked, and
        its latency served)."""
        while True:
            policy, changed = self.state.policy, self.state.changed
            if policy.blocked:
                await changed.wait()
                continue
            wait = arrival + policy.latency_ms / 1000.0 - time.monotonic()
            if wait <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), wait)

    async def write_loop(self) -> None:
        """Deliver the queue. If the destination is gone (the write fails), what is left of
        this direction is lost with it, and its sender learns of it only as a reset sent
        the other way, through that direction's policy: a partition holds it like any byte
        (resetting both ends at once would carry news of a node's death across a cut)."""
        try:
            await self._deliver()
        except (ConnectionError, OSError):
            if self.back is None:
                raise
            self.back.push_reset()

    async def _deliver(self) -> None:
        state = self.state
        while True:
            while not self.queue:
                self.item_ready.clear()
                await self.item_ready.wait()
            arrival, data = self.queue[0]
            if not data:
                await self._until_due(arrival)
                self.queue.popleft()
                self.finished = True
                # (a reset pushed behind a FIN follows it at once)
                if data is _RESET or any(d is _RESET for _a, d in self.queue):
                    self.reset()
                elif self.dst.can_write_eof():
                    self.dst.write_eof()
                return
            view = memoryview(data)
            while view:
                policy = self.state.policy
                changed = self.state.changed
                if policy.blocked:
                    await changed.wait()
                    continue
                due = arrival + policy.latency_ms / 1000.0
                now = time.monotonic()
                if policy.bandwidth is not None:
                    due = max(due, state.next_free)
                if due > now:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), due - now)
                    continue
                if policy.bandwidth is None:
                    part = view
                else:
                    part = view[: max(1, int(policy.bandwidth * _SLICE_S))]
                    state.next_free = max(now, state.next_free) + len(part) / policy.bandwidth
                self.dst.write(part)
                await self.dst.drain()
                self.state.bytes += len(part)
                view = view[len(part) :]
            self.queue.popleft()
            self.queued -= len(data)
            self.drained.set()


class _Conn:
    def __init__(self, down_writer: asyncio.StreamWriter) -> None:
        self.client = down_writer
        self.server: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []
        # The task that accepted the connection: while it still waits at a partition or
        # connects upstream, a reset must stop it there (nothing may reach the server).
        self.handler = asyncio.current_task()

    def abort(self) -> None:
        for w in (self.client, self.server):
            if w is None:
                continue
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            w.transport.abort()
        for t in self.tasks:
            t.cancel()
        if self.handler is not None and self.handler is not asyncio.current_task():
            self.handler.cancel()


class Link:
    """One proxied link: a listener on loopback forwarding to one upstream address.

    Create links with :meth:`FaultProxy.add_link`; every method is safe to call from any
    thread and returns once its change is in force.
    """

    def __init__(
        self, proxy: FaultProxy, name: str, upstream: tuple[str, int], up: Policy, down: Policy
    ) -> None:
        self.proxy = proxy
        self.name = name
        self.upstream = upstream
        self._up = _DirectionState(up)
        self._down = _DirectionState(down)
        self._conns: set[_Conn] = set()
        self._accepted = 0
        self._server: asyncio.Server | None = None
        self.host = proxy.host
        self.port = 0

    def __repr__(self) -> str:
        return (
            f"Link({self.name!r}, {self.host}:{self.port} -> {self.upstream[0]}:{self.upstream[1]})"
        )

    # -- control (any thread) --------------------------------------------------------------
    def set(self, direction: Direction, policy: Policy) -> None:
        """Give one direction a new policy (``"up"``: towards upstream, ``"down"``: back)."""
        state = self._up if direction == "up" else self._down
        self.proxy._call(self._set(state, policy))

    def policy(self, direction: Direction) -> Policy:
        return (self._up if direction == "up" else self._down).policy

    def retarget(self, upstream: tuple[str, int]) -> None:
        """Send *new* connections to another upstream address."""
        self.upstream = upstream

    def reset(self) -> int:
        """Reset (RST) every connection the link carries now; returns how many."""
        return self.proxy._call(self._reset())

    def stats(self) -> LinkStats:
        return LinkStats(
            connections=len(self._conns),
            accepted=self._accepted,
            bytes_up=self._up.bytes,
            bytes_down=self._down.bytes,
        )

    # -- on the loop -----------------------------------------------------------------------
    async def _set(self, state: _DirectionState, policy: Policy) -> None:
        state.set(policy)

    async def _reset(self) -> int:
        conns = list(self._conns)
        for c in conns:
            c.abort()
        self._conns.clear()
        return len(conns)

    async def _start(self, port: int) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, port, backlog=1024, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._reset()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self._accepted += 1
        conn = _Conn(c_writer)
        self._conns.add(conn)
        _nodelay(c_writer)
        try:
            # A partition is silence to a new connection too: nothing reaches the server
            # (not even the connection) until both directions pass again.
            try:
                while blocked := [s for s in (self._up, self._down) if s.policy.blocked]:
                    await blocked[0].changed.wait()
            except asyncio.CancelledError:  # reset or shutdown while waiting: end quietly
                conn.abort()
                return
            try:
                s_reader, s_writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.upstream), 5.0
                )
            except (OSError, TimeoutError):
                conn.abort()  # upstream down: the client sees its connection reset
                return
            except asyncio.CancelledError:  # reset or shutdown while connecting
                conn.abort()
                return
            conn.server = s_writer
            _nodelay(s_writer)
            up = _Pump(c_reader, s_writer, self._up, conn.abort)
            down = _Pump(s_reader, c_writer, self._down, conn.abort)
            up.back, down.back = down, up
            conn.tasks = [
                asyncio.ensure_future(coro)
                for coro in (up.read_loop(), up.write_loop(), down.read_loop(), down.write_loop())
            ]
            up.tasks = down.tasks = conn.tasks
            try:
                await asyncio.gather(*conn.tasks)
            except Exception:
                conn.abort()
            except asyncio.CancelledError:
                # Reset or shutdown: end quietly (asyncio's stream callback would log a
                # cancelled handler task as an error).
                conn.abort()
            else:
                for t in conn.tasks:  # a reset still waiting to go after a FIN
                    t.cancel()
                for w in (c_writer, s_writer):
                    w.close()
        finally:
            self._conns.discard(conn)


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _cancel_all() -> None:
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class FaultProxy:
    """Hosts :class:`Link` listeners on an asyncio loop in a background thread.

    Use as a context manager, or call :meth:`close`; closing resets every connection and
    frees every port.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.links: dict[str, Link] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ackbound-fault-proxy", daemon=True
        )
        self._thread.start()
        self._closed = False

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("the fault proxy is closed; start a new cluster")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def add_link(
        self,
        name: str,
        upstream: tuple[str, int],
        *,
        port: int = 0,
        up: Policy = PASS,
        down: Policy = PASS,
    ) -> Link:
        """Listen on ``port`` (0: any free port) and forward to ``upstream``."""
        if name in self.links:
            raise ValueError(f"the fault proxy already has a link named {name!r}")
        link = Link(self, name, upstream, up, down)
        self._call(link._start(port))
        self.links[name] = link
        return link

    def remove_link(self, name: str) -> None:
        link = self.links.pop(name)
        self._call(link._close())

    def close(self) -> None:
        if self._closed:
            return
        for name in list(self.links):
            self.remove_link(name)
        with contextlib.suppress(Exception):
            self._call(_cancel_all(), timeout=5.0)
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
