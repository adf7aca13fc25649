"""Durability on the primary: admitting writes, holding replies, measuring lag.

A replica is *eligible* iff it is online and its AZ differs from the primary's. What each
mode does with a write command (EXEC of a transaction holding a write counts as one)::

    mode    before applying                                after applying
    ------  ---------------------------------------------  --------------------------------
    none    -                                              reply
    sync    fewer than K eligible replicas connected:      hold the reply until K eligible
            reply -NOSYNCREPLICAS, do not apply            replicas acked the write's offset;
                                                           after sync-timeout-ms reply
                                                           -SYNCTIMEOUT (the write stays)
    async   durability lag > L: reply -CLUSTERDOWN,        reply
            do not apply

Durability lag = now - apply time of the oldest write no eligible replica has acknowledged
(monotonic clock), or 0. It is kept in every mode, so a live switch to async starts from the
truth; its cost is one entry per batch of commands read together, not per write (the server
notes the batch's end offset with the time its first write was applied, see
``Server.flush_stream``), and writes noted within the same millisecond share one entry (so the
table stays small). Both can only overstate the lag, by under a millisecond plus one batch.

WAIT is Valkey's: it counts every online replica, in any AZ.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from harness.resp import error, integer

if TYPE_CHECKING:
    from harness.server._replication import ReplicaPeer
    from harness.server._server import Client, Server

__all__ = ["E_NOSYNCREPLICAS", "Durability", "Waiter"]

E_NOSYNCREPLICAS: Final = error("NOSYNCREPLICAS Not enough synchronous replicas to write.")


@dataclass(eq=False)
class Waiter:
    """A client whose reply is held until replicas acknowledge ``offset``."""

    client: Client
    offset: int
    needed: int
    kind: str
    """``sync`` (eligible replicas, reply held) or ``wait`` (WAIT: any replica, count)."""
    reply: bytes
    timer: asyncio.TimerHandle | None = None


class Durability:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.unacked: deque[list[float]] = deque()
        """[offset, apply time] of writes no eligible replica acknowledged, oldest first."""
        self.waiters: list[Waiter] = []
        self.buffer_exceeded = 0
        self.sync_timeouts = 0
        self.sync_rejections = 0
        self.tripped = False
        """never-resumes-writes: set by the first rejection."""
        self.last_eligible_ack = time.monotonic()
        self.inherited: deque[list[float]] = deque()
        """[end offset, apply time] of what this node applied as a replica, oldest first.

        Should it be promoted, none of it is known to be on any of its own replicas yet:
        by the semantics its durability lag then counts from the oldest of these entries,
        and it rejects writes (async) until its replicas acknowledge them."""

    def note_replicated(self, offset: int, now: float) -> None:
        """A replica applied the stream up to ``offset`` at ``now``."""
        inherited = self.inherited
        if inherited and now - inherited[-1][1] < 0.001:
            inherited[-1][0] = offset
        else:
            inherited.append([offset, now])
        if len(inherited) > 10_000:
            # Merge the two oldest entries, keeping the older time: the lag may only be
            # overestimated, never underestimated.
            first = inherited.popleft()
            inherited[0][1] = min(inherited[0][1], first[1])

    def on_promoted(self) -> None:
        """This node became the primary: what it inherited is unacknowledged until its new
        replicas acknowledge it."""
        self.unacked = self.inherited
        self.inherited = deque()

    # -- who counts ----------------------------------------------------------------------

    def eligible(self, peer: ReplicaPeer) -> bool:
        if not peer.online:
            return False
        return peer.az != self.server.config.az or self.server.bug("sync-counts-same-az-replica")

    def eligible_peers(self) -> list[ReplicaPeer]:
        return [p for p in self.server.replicas if self.eligible(p)]

    def acked_offset(self) -> int:
        """The highest offset some eligible replica acknowledged."""
        return max((p.ack_offset for p in self.eligible_peers()), default=0)

    # -- lag -------------------------------------------------------------------------------

    def true_lag_ms(self, now: float | None = None) -> int:
        if self.unacked:
            oldest = self.unacked[0][1]
        elif self.server.pending_write_time is not None:
            oldest = self.server.pending_write_time  # this batch's writes, not noted yet
        else:
            return 0
        now = time.monotonic() if now is None else now
        return max(0, int((now - oldest) * 1000))

    def enforced_lag_ms(self, now: float) -> int:
        if self.server.bug("async-lag-from-last-ack"):
            if self.eligible_peers():
                self.last_eligible_ack = max(p.last_ack for p in self.eligible_peers())
            return max(0, int((now - self.last_eligible_ack) * 1000))
        return self.true_lag_ms(now)

    def reported_lag_ms(self) -> int:
        """The lag INFO durability reports: the true lag (async-lag-from-last-ack only
        *enforces* the wrong one), a third of it under lag-underreported."""
        lag = self.true_lag_ms(time.monotonic())
        if self.server.bug("lag-underreported"):
            return lag // 3
        return lag

    def note_write(self, offset: int, now: float) -> None:
        unacked = self.unacked
        if unacked and now - unacked[-1][1] < 0.001:
            unacked[-1][0] = offset
        else:
            unacked.append([offset, now])

    # -- admission -------------------------------------------------------------------------

    def admit(self) -> bytes | None:
        """The rejection for a write about to be applied, or None to go ahead."""
        srv = self.server
        mode = srv.config.durability
        if mode == "sync":
            if len(self.eligible_peers()) < srv.config.sync_replicas:
                self.sync_rejections += 1
                return E_NOSYNCREPLICAS
        elif mode == "async":
            now = time.monotonic()
            lag = self.enforced_lag_ms(now)
            limit = srv.config.lag_limit_ms
            if self.tripped or (lag > limit and not srv.bug("async-never-rejects")):
                if srv.bug("never-resumes-writes"):
                    self.tripped = True
                self.buffer_exceeded += 1
                return error(
                    f"CLUSTERDOWN Write rejected: durability lag {lag} ms exceeds the limit of "
                    f"{limit} ms; retry when replication catches up."
                )
        return None

    def after_write(self, client: Client, reply: bytes) -> bytes | None:
        """The reply to send now, or None when it is held (sync mode)."""
        srv = self.server
        if srv.config.durability != "sync" or srv.bug("sync-ack-before-replication"):
            return reply
        if reply[:1] == b"-":
            return reply
        return self._hold(client, srv.history.offset, srv.config.sync_replicas, "sync", reply)

    def wait(
        self, client: Client, needed: int, timeout_ms: int, *, block: bool = True
    ) -> bytes | None:
        """WAIT numreplicas timeout (``block`` false: the count now, never held)."""
        offset = client.woff
        count = self._count(offset, "wait")
        if count >= needed or needed <= 0 or not block:
            return integer(count)
        waiter = Waiter(client=client, offset=offset, needed=needed, kind="wait", reply=b"")
        self._block(waiter, timeout_ms)
        return None

    def _hold(
        self, client: Client, offset: int, needed: int, kind: str, reply: bytes
    ) -> bytes | None:
        if self._count(offset, kind) >= needed:
            return reply
        waiter = Waiter(client=client, offset=offset, needed=needed, kind=kind, reply=reply)
        self._block(waiter, self.server.config.sync_timeout_ms)
        return None

    def _block(self, waiter: Waiter, timeout_ms: int) -> None:
        if timeout_ms > 0:
            loop = asyncio.get_running_loop()
            waiter.timer = loop.call_later(timeout_ms / 1000, self._timeout, waiter)
        self.waiters.append(waiter)
        waiter.client.block()
        return None

    def _count(self, offset: int, kind: str) -> int:
        peers = self.eligible_peers() if kind == "sync" else self.server.replicas
        return sum(1 for p in peers if p.online and p.ack_offset >= offset)

    def _timeout(self, waiter: Waiter) -> None:
        if waiter not in self.waiters:
            return
        if waiter.kind == "sync":
            self.sync_timeouts += 1
            needed = waiter.needed
            reply = error(
                f"SYNCTIMEOUT Timed out waiting for {needed} synchronous replica(s); the write "
                "was applied locally and may or may not be durable."
            )
        else:
            reply = integer(self._count(waiter.offset, "wait"))
        self._release(waiter, reply)

    def _release(self, waiter: Waiter, reply: bytes) -> None:
        self.waiters.remove(waiter)
        if waiter.timer is not None:
            waiter.timer.cancel()
        waiter.client.unblock(reply)

    # -- events ----------------------------------------------------------------------------

    def on_ack(self, peer: ReplicaPeer) -> None:
        if self.eligible(peer):
            self.last_eligible_ack = peer.last_ack
            acked = self.acked_offset()
            unacked = self.unacked
            while unacked and unacked[0][0] <= acked:
                unacked.popleft()
        for waiter in list(self.waiters):
            if self._count(waiter.offset, waiter.kind) >= waiter.needed:
                reply = waiter.reply if waiter.kind == "sync" else integer(waiter.needed)
                if waiter.kind == "wait":
                    reply = integer(self._count(waiter.offset, "wait"))
                self._release(waiter, reply)

    def on_mode_change(self) -> None:
        """A live switch away from sync releases held replies (the new mode promises less)."""
        if self.server.config.durability != "sync":
            for waiter in [w for w in self.waiters if w.kind == "sync"]:
                self._release(waiter, waiter.reply)
        self.tripped = False

    def on_client_gone(self, client: Client) -> None:
        for waiter in [w for w in self.waiters if w.client is client]:
            self.waiters.remove(waiter)
            if waiter.timer is not None:
                waiter.timer.cancel()

    def abort_all(self, reason: str) -> None:
        """Demotion: held replies get an indeterminate error, WAITs their current count."""
        for waiter in list(self.waiters):
            if waiter.kind == "sync":
                self._release(waiter, error(reason))
            else:
                self._release(waiter, integer(self._count(waiter.offset, "wait")))
        self.unacked.clear()
