"""What an observer outside the cluster can be sure of.

The exact model (``models._exact``) sees every internal step: each entry a replica applies,
each acknowledgement. A harness watching a real server sees none of that. It sees its own
client operations (invoked at one time, completed later) and the faults it applied, each of
which took effect at some instant inside the interval the harness recorded for it. This
module is the sound abstraction of the exact model over those observations: every
conclusion it draws holds in *every* behaviour of the exact model consistent with what was
observed. Its tests check exactly that against ``models._exact``.

Three kinds of conclusion matter to the checker and to the stateful run:

Reachability.
    A replica is *surely unreachable* from the moment the fault that cut it off completed
    until the moment the fault that restores it began (a node down, or either direction of
    its link to the primary cut). Outside those windows it is *possibly reachable*. A
    replica that was surely unreachable for the whole of a write's life cannot have
    received it, so cannot have acknowledged it. Nor can a replica that no longer
    replicates from the node that applied it: one promoted, or re-pointed at another node,
    from the end of that effect (until it is pointed back, or that node is promoted).

Durability lag lower bounds.
    When every eligible replica (one in an AZ other than the primary's) of the primary has
    been surely unreachable since time ``I`` (the *isolation* start), a write ``w0``
    invoked after ``I`` cannot have been acknowledged by an eligible replica, so at any
    later time ``t`` of the same isolation the lag is at least ``t - completion(w0)``
    (a write is applied no later than it is acknowledged). In async mode a write invoked
    when that bound exceeds the lag limit plus the tolerance must be rejected.

Holders.
    Which nodes surely hold an acknowledged write: the primary that acknowledged it; in
    sync mode "at least K of the eligible replicas that could have acknowledged it" (a
    clause: we do not know which ones); a replica the controller saw caught up after the
    write completed. Data loss on a node removes it; a failover to the most up-to-date
    candidate keeps the write if some candidate surely holds it. A write whose holders
    include the final primary *must survive*.

Faults arrive as *effects* (see docs/history.md): a node goes down or up, a directed link is
cut or healed, a node loses its data, a node is promoted, a node is re-pointed, a node is
seen caught up. Times are integer nanoseconds on the harness's one clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from models._exact import Mode

__all__ = [
    "CLIENT",
    "Clause",
    "Down",
    "Effect",
    "Fast",
    "HealLink",
    "Holders",
    "Knowledge",
    "LinkCut",
    "LoseData",
    "Mode",
    "Promote",
    "Replicate",
    "Slow",
    "Synced",
    "TimedEffect",
    "Up",
    "effect_from_json",
    "initial_knowledge",
    "promote_candidates",
]

CLIENT: Final = "client"
"""The pseudo-node that stands for every client (a link from ``client`` reaches a node)."""


# -- effects ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Down:
    """The node stops serving and replicating (killed, paused); its data is kept."""

    node: str


@dataclass(frozen=True, kw_only=True)
class Up:
    """The node serves and replicates again."""

    node: str


@dataclass(frozen=True, kw_only=True)
class LinkCut:
    """Traffic from ``src`` to ``dst`` is dropped (``src`` may be :data:`CLIENT`)."""

    src: str
    dst: str


@dataclass(frozen=True, kw_only=True)
class HealLink:
    """Traffic from ``src`` to ``dst`` passes again."""

    src: str
    dst: str


@dataclass(frozen=True, kw_only=True)
class Slow:
    """The link is throttled; nothing is lost, so reachability is unchanged."""

    src: str
    dst: str


@dataclass(frozen=True, kw_only=True)
class Fast:
    """The link is no longer throttled."""

    src: str
    dst: str


@dataclass(frozen=True, kw_only=True)
class LoseData:
    """The node's data is gone (wiped, or restarted without a durable log)."""

    node: str


@dataclass(frozen=True, kw_only=True)
class Promote:
    """Failover: ``node`` becomes the primary; the term increases.

    ``by_offset`` says the controller picked the candidate with the highest replication
    offset; otherwise it was named. ``candidates`` are the replicas the controller could
    reach when it chose (``None``: not recorded, assume every possibly reachable replica).
    """

    node: str
    by_offset: bool
    candidates: frozenset[str] | None = None


@dataclass(frozen=True, kw_only=True)
class Replicate:
    """``node`` is (re)pointed at ``source`` as a replica."""

    node: str
    source: str


@dataclass(frozen=True, kw_only=True)
class Synced:
    """The controller saw ``node`` caught up with the primary (equal offsets)."""

    node: str


Effect = Down | Up | LinkCut | HealLink | Slow | Fast | LoseData | Promote | Replicate | Synced


@dataclass(frozen=True, kw_only=True)
class TimedEffect:
    """An effect that took place at some instant in ``[start, end]``."""

    start: int
    end: int
    effect: Effect


def _pair(value: object, key: str) -> tuple[str, str]:
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], str)
    ):
        return value[0], value[1]
    raise ValueError(f'effect {key!r} takes a pair of node names, e.g. ["n1", "n2"]')


def _name(value: object, key: str) -> str:
    if isinstance(value, str) and value:
        return value
    raise ValueError(f"effect {key!r} takes a node name")


def _behind(node: str, candidates: object) -> bool:
    """Whether the recorded offsets show another candidate ahead of the promoted ``node``:
    then the failover was not to the most up-to-date replica, whatever it says it was."""
    if not isinstance(candidates, Mapping):
        return False
    offsets = {str(c): o for c, o in candidates.items()}
    mine = offsets.get(node)
    if type(mine) is not int or not all(type(o) is int for o in offsets.values()):
        return False
    return any(o > mine for o in offsets.values())


def effect_from_json(obj: Mapping[str, object]) -> Effect:
    """Decode one effect object of a nemesis op (docs/history.md); raises ``ValueError``."""
    if "promote" in obj:
        cands = obj.get("candidates")
        candidates: frozenset[str] | None = None
        if isinstance(cands, (Mapping, list)):
            candidates = frozenset(str(c) for c in cands)
        elif cands is not None:
            raise ValueError("effect 'promote' candidates must be an object {node: offset}")
        by = obj.get("by", "offset")
        if by not in ("offset", "named"):
            raise ValueError('effect \'promote\' has by = "offset" or "named"')
        node = _name(obj["promote"], "promote")
        return Promote(
            node=node,
            by_offset=by == "offset" and not _behind(node, cands),
            candidates=candidates,
        )
    if "replicate" in obj:
        return Replicate(
            node=_name(obj["replicate"], "replicate"), source=_name(obj.get("from"), "from")
        )
    if len(obj) != 1:
        raise ValueError(f"unknown effect {dict(obj)!r}; see docs/history.md")
    ((key, value),) = obj.items()
    if key == "down":
        return Down(node=_name(value, key))
    if key == "up":
        return Up(node=_name(value, key))
    if key == "lose-data":
        return LoseData(node=_name(value, key))
    if key == "synced":
        return Synced(node=_name(value, key))
    if key in ("cut", "heal-link", "slow", "fast"):
        src, dst = _pair(value, key)
        if key == "cut":
            return LinkCut(src=src, dst=dst)
        if key == "heal-link":
            return HealLink(src=src, dst=dst)
        if key == "slow":
            return Slow(src=src, dst=dst)
        return Fast(src=src, dst=dst)
    raise ValueError(f"unknown effect {key!r}; see docs/history.md")


# -- knowledge ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Knowledge:
    """What is surely true of the cluster after the effects observed so far.

    A replica acknowledges a write only if the write reached it (the primary → replica
    direction passed after the write was applied) and its acknowledgement came back
    (replica → primary passed after that). So every direction of every link is tracked on
    its own: ``blocked[(a, b)]`` is since when nothing can have gone from ``a`` to ``b``
    (``a`` or ``b`` down, or that direction cut); absent, it may pass now. Links are
    tracked between every pair of nodes, so a deposed primary still serving clients after a
    failover (split brain) is judged by its own links.

    ``epoch`` counts lineages: it grows at each promotion, and when a primary that lost its
    data serves again without a failover (its replicas then copy its empty state). After
    that, the writes of earlier epochs are only as safe as their holders say.
    """

    azs: Mapping[str, str]
    primary: str
    epoch: int = 0
    down: frozenset[str] = frozenset()
    cuts: frozenset[tuple[str, str]] = frozenset()
    slow: frozenset[tuple[str, str]] = frozenset()
    blocked: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # (p, r) -> since when replica r surely does not replicate from p: r was promoted, or
    # re-pointed at another node (absent: r may replicate from p, as far as we know).
    unfollowed: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # The primary lost its data and has not been replaced or come back yet.
    primary_data_lost: bool = False
    # When the primary changed or lost its data: (time, epoch) pairs, oldest first.
    failures: tuple[tuple[int, int], ...] = ()

    # -- queries --------------------------------------------------------------------------
    def eligible(self, primary: str | None = None) -> tuple[str, ...]:
        """Replicas in an AZ other than ``primary``'s (default: the current primary)."""
        p = self.primary if primary is None else primary
        az = self.azs.get(p)
        return tuple(sorted(n for n, a in self.azs.items() if n != p and a != az))

    def passes(self, src: str, dst: str) -> bool:
        """Whether traffic from ``src`` may reach ``dst`` now (both up, not cut)."""
        return src not in self.down and dst not in self.down and (src, dst) not in self.cuts

    def blocked_since(self, node: str, primary: str | None = None) -> int | None:
        """Since when ``node`` surely cannot acknowledge a write of ``primary`` applied
        from then on (default: the current primary).

        Either direction suffices: a write applied after the inbound direction closed never
        reaches the node; one applied after the outbound direction closed is never
        acknowledged. So does the node's no longer replicating from ``primary`` (it was
        promoted, or re-pointed at another node). ``None``: the node may acknowledge new
        writes now.
        """
        p = self.primary if primary is None else primary
        times = [
            t
            for t in (
                self.blocked.get((p, node)),
                self.blocked.get((node, p)),
                self.unfollowed.get((p, node)),
            )
            if t is not None
        ]
        return min(times) if times else None

    def may_have_acked(self, node: str, start: int, primary: str | None = None) -> bool:
        """Whether ``node`` may have acknowledged, by now, a write ``primary`` applied at
        ``start``."""
        since = self.blocked_since(node, primary)
        return since is None or since > start

    def isolation_start(self, primary: str | None = None) -> int | None:
        """Since when no eligible replica of ``primary`` can acknowledge a new write.

        ``None`` when some eligible replica may acknowledge writes now. With no eligible
        replica at all the primary is isolated from the start of time (``-1``).
        """
        latest = -1
        for r in self.eligible(primary):
            since = self.blocked_since(r, primary)
            if since is None:
                return None
            latest = max(latest, since)
        return latest

    def possible_ackers(self, primary: str, start: int) -> frozenset[str]:
        """Eligible replicas of ``primary`` that may have acknowledged, by now, a write
        ``primary`` applied no earlier than ``start``."""
        return frozenset(
            r for r in self.eligible(primary) if self.may_have_acked(r, start, primary)
        )

    def reachable_by_controller(self, node: str) -> bool:
        """Whether the controller (on the clients' side) may reach ``node`` now."""
        return self.passes(CLIENT, node) and self.passes(node, CLIENT)

    # -- transitions ----------------------------------------------------------------------
    def _recompute_reachability(self, at: int) -> Knowledge:
        """Refresh the blocked directions after down nodes or cuts changed at ``at``."""
        blocked = dict(self.blocked)
        names = list(self.azs)
        for a in names:
            for b in names:
                if a == b:
                    continue
                if self.passes(a, b):
                    blocked.pop((a, b), None)
                elif (a, b) not in blocked:
                    blocked[(a, b)] = at
        return replace(self, blocked=blocked)

    def _new_epoch(self, at: int, **changes: object) -> Knowledge:
        return replace(
            self,
            epoch=self.epoch + 1,
            failures=(*self.failures, (at, self.epoch + 1)),
            **changes,  # type: ignore[arg-type]
        )

    def observe(self, te: TimedEffect) -> Knowledge:
        """The knowledge after one more effect.

        An effect that restores reachability counts from its start (it may have taken
        effect at once); one that removes it counts from its end (it is sure only then).
        """
        e = te.effect
        if isinstance(e, Down):
            return replace(self, down=self.down | {e.node})._recompute_reachability(te.end)
        if isinstance(e, Up):
            k = replace(self, down=self.down - {e.node})._recompute_reachability(te.start)
            if e.node == self.primary and self.primary_data_lost:
                # The primary is back without its data and no failover replaced it: a new
                # lineage starts from its empty state.
                return k._new_epoch(te.end, primary_data_lost=False)
            return k
        if isinstance(e, LinkCut):
            return replace(self, cuts=self.cuts | {(e.src, e.dst)})._recompute_reachability(te.end)
        if isinstance(e, HealLink):
            return replace(self, cuts=self.cuts - {(e.src, e.dst)})._recompute_reachability(
                te.start
            )
        if isinstance(e, Slow):
            return replace(self, slow=self.slow | {(e.src, e.dst)})
        if isinstance(e, Fast):
            return replace(self, slow=self.slow - {(e.src, e.dst)})
        if isinstance(e, LoseData):
            if e.node != self.primary:
                return self
            if self.primary in self.down:
                # Dead and empty: the epoch ends at the failover that replaces it, or when
                # it serves again empty.
                return replace(self, primary_data_lost=True)
            return self._new_epoch(te.end)
        if isinstance(e, Promote):
            # A primary replicates from nobody: from its promotion on it acknowledges no
            # other node's writes (a deposed primary's, say). Every other node may follow it
            # from the start of the promotion (a failover re-points the replicas, whether or
            # not a `replicate` effect says so).
            k = self._repoint(e.node, None, te.end, followed=e.node)
            return k._new_epoch(te.end, primary=e.node, primary_data_lost=False)
        if isinstance(e, Replicate):
            # Pointed at its source, the node may acknowledge the source's writes at once
            # (even ones applied before, once it syncs); from the end of the re-pointing
            # on, no other node's.
            return self._repoint(e.node, e.source, te.end)
        # Synced changes what is held, not what is reachable.
        return self

    def _repoint(
        self, node: str, source: str | None, at: int, *, followed: str | None = None
    ) -> Knowledge:
        """``node`` surely replicates from no node but ``source`` (``None``: from none) from
        ``at`` on, and may replicate from ``source`` at once; every node may now replicate
        from ``followed``."""
        unfollowed = {
            pr: t for pr, t in self.unfollowed.items() if pr != (source, node) and pr[0] != followed
        }
        for p in self.azs:
            if p != node and p != source:
                unfollowed.setdefault((p, node), at)
        return replace(self, unfollowed=unfollowed)


def initial_knowledge(azs: Mapping[str, str], primary: str) -> Knowledge:
    """Knowledge at the start of a run: every node up, every link passing."""
    if primary not in azs:
        raise ValueError(f"primary {primary!r} is not one of the nodes {sorted(azs)}")
    return Knowledge(azs=dict(azs), primary=primary)


# -- holders ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Clause:
    """At least ``k`` of ``among`` hold the write (we do not know which)."""

    k: int
    among: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class Holders:
    """Which nodes surely hold one acknowledged write (or a group of writes alike)."""

    certain: frozenset[str]
    clauses: tuple[Clause, ...] = ()

    @staticmethod
    def at_ack(
        *, primary: str | None, mode: Mode, sync_replicas: int, ackers: Iterable[str] = ()
    ) -> Holders:
        """Holders right after an acknowledgement by ``primary``.

        In sync mode the acknowledgement means ``sync_replicas`` eligible replicas had it;
        ``ackers`` are the eligible replicas that could have been among them.
        """
        certain = frozenset() if primary is None else frozenset({primary})
        clauses: tuple[Clause, ...] = ()
        if mode is Mode.SYNC and sync_replicas > 0:
            among = frozenset(ackers)
            if len(among) <= sync_replicas:
                certain = certain | among
            else:
                clauses = (Clause(k=sync_replicas, among=among),)
        return Holders(certain=certain, clauses=clauses)

    def some_holder_in(self, nodes: frozenset[str]) -> bool:
        """Whether at least one node of ``nodes`` surely holds the write."""
        if self.certain & nodes:
            return True
        return any(c.k > len(c.among - nodes) for c in self.clauses)

    def without(self, node: str) -> Holders:
        """Holders after ``node`` lost its data."""
        clauses = tuple(
            Clause(k=c.k - 1, among=c.among - {node}) if node in c.among else c
            for c in self.clauses
        )
        return Holders(certain=self.certain - {node}, clauses=tuple(c for c in clauses if c.k > 0))

    def after_promote(self, e: Promote, candidates: frozenset[str]) -> Holders:
        """Holders after failover to ``e.node`` chosen among ``candidates``.

        The promoted node keeps the write if it surely held it, or — when it was the most
        up-to-date candidate — if any candidate surely held it. Candidates keep their data
        (their logs are prefixes of the promoted node's); every other node will resync in
        full from the new primary, so only what it is later seen to catch up on counts.
        """
        keeps = e.node in self.certain or (e.by_offset and self.some_holder_in(candidates))
        if not keeps:
            return Holders(certain=frozenset())
        stay = candidates | {e.node}
        clauses = tuple(
            Clause(k=c.k - len(c.among - stay), among=c.among & stay) for c in self.clauses
        )
        return Holders(
            certain=(self.certain & stay) | {e.node},
            clauses=tuple(c for c in clauses if c.k > 0),
        )

    def after_synced(self, node: str, primary: str) -> Holders:
        """Holders after ``node`` was seen caught up with ``primary``."""
        if primary in self.certain:
            return Holders(certain=self.certain | {node}, clauses=self.clauses)
        return self


def promote_candidates(k: Knowledge, e: Promote) -> frozenset[str]:
    """The candidates of a promotion: as recorded, else every replica the controller may
    have reached (up, and not cut off from the clients' side)."""
    if e.candidates is not None:
        return e.candidates | {e.node}
    return frozenset(
        n for n in k.azs if n != k.primary and n not in k.down and k.reachable_by_controller(n)
    ) | {e.node}
