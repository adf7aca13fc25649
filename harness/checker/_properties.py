"""The durability properties, one function each, registered by their stable names.

Each property reads the shared :class:`~harness.checker._analysis.Analysis` and returns a
:class:`PropertyResult`: a verdict (``True``, ``False`` or ``"unknown"``), the witnesses
that prove a violation (each citing op indices), and the evidence it judged. A property
with nothing to judge is ``"unknown"``, never ``True``: absence of evidence is not proof.
"""

from __future__ import annotations

import bisect
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import accumulate, compress, count, groupby, islice, repeat
from typing import Any, Literal, NamedTuple, cast

from harness.checker._analysis import (
    _NEVER,
    MS,
    Analysis,
    Propagator,
    _ackers_at,
    _presence_of_node,
    _snaps,
    holders_for,
    invs_sorted,
    item_positions,
    key_workloads,
    snapshot_ends,
)
from models import Holders, LoseData, Mode, Promote, Replicate, Synced, promote_candidates

__all__ = ["PROPERTIES", "Property", "PropertyResult", "Verdict", "applicable"]

Verdict = bool | Literal["unknown"]
MAX_WITNESSES = 20


@dataclass
class PropertyResult:
    valid: Verdict
    witnesses: list[dict[str, Any]] = field(default_factory=list)
    witness_count: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def witness(self, w: dict[str, Any]) -> None:
        self.witness_count += 1
        if len(self.witnesses) < MAX_WITNESSES:
            self.witnesses.append(w)


@dataclass(frozen=True)
class Property:
    name: str
    modes: frozenset[Mode]
    summary: str
    check: Callable[[Analysis], PropertyResult]


def _verdict(violations: int, evidence: int) -> Verdict:
    if violations:
        return False
    return True if evidence else "unknown"


def _wref(a: Analysis, i: int) -> dict[str, Any]:
    """How a witness cites the ``i``-th write."""
    return {
        "ops": a.write_ops(i),
        "key": a.w_key[i],
        "value": a.w_value[i],
        "type": a.w_type[i],
        "invoked_s": a.seconds(a.w_inv[i]),
        "completed_s": a.seconds(a.w_comp[i]),
        "node": a.w_primary[i],
        "epoch": a.w_epoch[i],
    }


def _where_ok(types: list[str], comps: list[int | None]) -> list[int]:
    """Positions of the operations that are ``ok`` and have a completion time."""
    return list(compress(range(len(types)), _ok_mask(types, comps)))


def _ok_mask(types: list[str], comps: list[int | None]) -> list[bool]:
    """Which operations are ``ok``. (An ``ok`` is a completion, so its time is known:
    ``comps`` is looked at only when some time is missing, for an operation never
    completed, and then only the ``ok`` ones.)"""
    ok = list(map(operator.eq, types, repeat("ok")))
    if None not in compress(comps, ok):
        return ok
    return list(map(operator.and_, ok, map(operator.is_not, comps, repeat(None))))


def _where_ok_mask(a: Analysis) -> list[bool]:
    """For each write, whether it was acknowledged (``ok``, with a completion time)."""
    cached: list[bool] | None = a.cache.get("ok_mask")
    if cached is None:
        cached = a.cache["ok_mask"] = _ok_mask(a.w_type, a.w_comp)
    return cached


def _ok_writes(a: Analysis) -> list[int]:
    """Positions of the acknowledged writes (``ok``, with a completion time)."""
    cached: list[int] | None = a.cache.get("ok_writes")
    if cached is None:
        cached = a.cache["ok_writes"] = list(compress(range(len(a.w_type)), _where_ok_mask(a)))
    return cached


def _must_survive(a: Analysis, prop: Propagator, i: int) -> bool:
    """Whether the holders of the acknowledged ``i``-th write surely include the judged
    final node."""
    if a.final_node_used is False or a.w_primary[i] is None:
        return False
    final = a.final_primary if a.final_node_used is None else a.final_node_used
    if final is None:
        return False
    i_loss, i_gain = prop.first_after(i)
    h = prop.run(holders_for(a, i), i_loss, i_gain)
    return final in h.certain


# -- acked-writes-survive -------------------------------------------------------------------


def acked_writes_survive(a: Analysis) -> PropertyResult:
    """sync: every acknowledged write survives any single failure and correct failover."""
    res = PropertyResult(valid="unknown")
    k_needed = a.params.sync_replicas
    prop = Propagator(a)
    judged = unprotected = lost = 0
    prim, inv, comp, present = a.w_primary, a.w_inv, a.w_comp, a.w_present
    for i in _ok_writes(a):
        c = comp[i]
        assert c is not None
        p = prim[i]
        if p is not None:
            ackers = _ackers_at(a, c, p, inv[i])
            if len(ackers) < k_needed:
                unprotected += 1
                res.witness(
                    {
                        "kind": "acked-without-eligible-replica",
                        "write": _wref(a, i),
                        "possible_ackers": sorted(ackers),
                        "needed": k_needed,
                        "eligible": list(a.knowledge_at(c).eligible(p)),
                    }
                )
        if present[i] is None:
            continue
        judged += 1
        if present[i] is False and _must_survive(a, prop, i):
            lost += 1
            res.witness({"kind": "acked-write-lost", "write": _wref(a, i)})
    res.evidence = {"acknowledged_judged": judged, "unprotected_acks": unprotected, "lost": lost}
    res.valid = _verdict(unprotected + lost, judged + unprotected)
    return res


# -- shared: isolation windows and the lag lower bound ----------------------------------------


def _primary_runs(a: Analysis) -> dict[str, tuple[list[int], list[int]]]:
    """For each node, the runs of consecutive writes sent to it as their primary: where
    each run starts and where it ends (positions, ends exclusive), in order. Writes keep
    their primary for long stretches (until a failover), so there are few runs."""
    cached: dict[str, tuple[list[int], list[int]]] | None = a.cache.get("primary_runs")
    if cached is None:
        cached = {}
        at = 0
        for p, run in groupby(a.w_primary):
            end = at + len(list(run))
            if p is not None:
                starts, ends = cached.setdefault(p, ([], []))
                starts.append(at)
                ends.append(end)
            at = end
        a.cache["primary_runs"] = cached
    return cached


def _runs_within(a: Analysis, p: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """The stretches of positions ``lo`` to ``hi`` (exclusive) where every write was sent to
    ``p`` as its primary."""
    starts, ends = _primary_runs(a).get(p, ([], []))
    out: list[tuple[int, int]] = []
    k = bisect.bisect_right(ends, lo)
    while k < len(starts) and starts[k] < hi:
        out.append((max(lo, starts[k]), min(hi, ends[k])))
        k += 1
    return out


def _invoked_in(a: Analysis, ends: list[int], in_snap: dict[int, dict[str, int]]) -> list[int]:
    """Positions of the acknowledged writes that can have completed inside an isolation of
    their own primary: for each snapshot ``s`` and primary ``p`` isolated in it, the writes
    sent to ``p`` invoked no earlier than that isolation started and before ``s`` ended (a
    write completes after its invocation). Grouped by primary, not in order. Needs
    invocations in time order (``ends``: :func:`snapshot_ends`).

    Taking only ``p``'s own writes matters once a failover has deposed a primary: a deposed
    primary no replica follows stays isolated in every later snapshot, and the writes the
    new primary takes meanwhile are none of its business. They are found by the runs of
    writes sent to ``p`` (:func:`_primary_runs`), not by looking at every write."""
    inv = a.w_inv
    spans = sorted(
        (p, bisect.bisect_left(inv, st), ends[s])
        for s, st_of in in_snap.items()
        for p, st in st_of.items()
    )
    ok = _where_ok_mask(a)
    out: list[int] = []
    reach: dict[str, int] = {}
    for p, lo, hi in spans:
        lo = max(lo, reach.get(p, 0))
        if lo < hi:
            for r_lo, r_hi in _runs_within(a, p, lo, hi):
                out.extend(compress(range(r_lo, r_hi), ok[r_lo:r_hi]))
            reach[p] = hi
    return out


def _isolation_scan(a: Analysis) -> tuple[dict[int, tuple[int, int]], list[tuple[int, int]]]:
    """Bound the lag from below during isolation windows.

    An isolation of a primary ``p`` starts when no eligible replica of ``p`` can acknowledge
    a new write of ``p`` any more. A write ``w0`` that ``p`` acknowledged inside the
    isolation is unreplicated for as long as it lasts, so ``p``'s lag is at least
    ``t - completion(w0)`` at any later time ``t`` of the same isolation. Primaries are
    judged by their own links — a deposed primary still serving after a failover too.

    Returns, for every write invocation (by position) covered by an isolation of its own
    primary that lasted until the write completed, the earliest such ``w0`` (by position)
    and the bound; and for each lag observation (by position in ``a.lag_obs``) covered the
    same way, the bound.

    In time order (completions before invocations at equal times), ``w0`` is the first
    write of the isolation to complete: an invocation or observation at or after its
    completion, in the same isolation (and, for a write, the same epoch), is bounded by
    it. Whether a primary is isolated is a function of the knowledge snapshot, tabulated
    first, so the writes of a healthy cluster cost one lookup each.
    """
    cached = a.cache.get("isolation")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    ks = a.knowledge
    starts = a.effect_starts
    iso_memo: dict[tuple[int, str], int | None] = {}

    def iso_at(snap: int, primary: str) -> int | None:
        key = (snap, primary)
        if key not in iso_memo:
            iso_memo[key] = ks[snap].isolation_start(primary)
        return iso_memo[key]

    br = bisect.bisect_right
    prim, epoch, inv, comp = a.w_primary, a.w_epoch, a.w_inv, a.w_comp
    primaries = sorted(p for p in set(prim) if p is not None)
    # (snapshot, primary) -> since when that primary is isolated in that snapshot.
    since = {
        (s, p): st for s in range(len(ks)) for p in primaries if (st := iso_at(s, p)) is not None
    }
    # An isolation is identified by (primary, its start); w0 is the first acknowledged write
    # of each epoch in it (a primary that loses its data while isolated starts a new epoch:
    # what it acknowledges then is unreplicated anew, and bounds the lag from then on).
    first_ack: dict[tuple[str, int, int | None], tuple[int, int]] = {}  # -> (completion, w0)
    invoked: list[tuple[int, tuple[str, int]]] = []  # (write, isolation) at invocation
    if since:
        # The snapshots with an isolated primary, and since when each is isolated.
        in_snap: dict[int, dict[str, int]] = defaultdict(dict)
        for (snap, who), st in since.items():
            in_snap[snap][who] = st
        isolated_in = in_snap.get
        # Acknowledgements inside an isolation of their primary, each isolation's first.
        ends = snapshot_ends(a)
        # (In time order, only those invoked where such an acknowledgement can have been.)
        ok = _ok_writes(a) if ends is None else _invoked_in(a, ends, in_snap)
        comp_snaps = list(map(partial(br, starts), map(comp.__getitem__, ok)))
        for i, s in compress(zip(ok, comp_snaps, strict=True), map(isolated_in, comp_snaps)):
            p = prim[i]
            c = comp[i]
            assert c is not None
            st_of = in_snap[s]
            if p not in st_of:
                continue
            st = st_of[p]
            e = epoch[i]
            if e is None or inv[i] < st:
                continue
            got = first_ack.get((p, st, e))
            if got is None or (c, i) < got:
                first_ack[p, st, e] = (c, i)
        # Invocations inside an isolation of their primary (in time order, a snapshot's
        # span of writes at a time).
        if ends is None:
            snaps = _snaps(a)
            for i in compress(count(), map(isolated_in, snaps)):
                p = prim[i]
                st_of = in_snap[snaps[i]]
                if p not in st_of:
                    continue
                st = st_of[p]
                if epoch[i] is not None and inv[i] >= st:
                    invoked.append((i, (p, st)))
        else:
            for s, st_of in in_snap.items():
                for p, st in st_of.items():
                    lo, hi = max(ends[s - 1] if s else 0, bisect.bisect_left(inv, st)), ends[s]
                    for r_lo, r_hi in _runs_within(a, p, lo, hi):  # p's own writes
                        known = map(operator.is_not, epoch[r_lo:r_hi], repeat(None))
                        at = compress(range(r_lo, r_hi), known)
                        invoked.extend(zip(at, repeat((p, st))))

    def still_isolated(iso: tuple[str, int], until: int) -> bool:
        return iso_at(br(starts, until), iso[0]) == iso[1]

    writes_out: dict[int, tuple[int, int]] = {}
    for i, iso in invoked:
        got = first_ack.get((*iso, epoch[i]))
        if got is None:
            continue
        c0, w0 = got
        c = comp[i]
        # The invocation comes after w0's acknowledgement (or at the same time).
        if inv[i] >= c0 and c is not None and still_isolated(iso, c):
            writes_out[i] = (w0, inv[i] - c0)
    # When a node's data may have been replaced (wiped, or resynced as a replica: re-pointed,
    # or seen caught up with a primary), the unreplicated writes it held are gone, or now in
    # another lineage that its replicas may have acknowledged: its lag no longer counts them.
    resets: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for te in a.effects:
        if isinstance(te.effect, LoseData | Replicate | Synced):
            resets[te.effect.node].append((te.start, te.end))

    def kept_data(who: str, since: int, until: int) -> bool:
        return not any(end > since and start < until for start, end in resets.get(who, ()))

    # Each isolation's first acknowledgements, one per epoch, earliest first.
    acks_in: dict[tuple[str, int], list[int]] = defaultdict(list)
    for (who, st, _e), (c0, _w0) in sorted(first_ack.items(), key=operator.itemgetter(1)):
        acks_in[who, st].append(c0)
    obs_out: list[tuple[int, int]] = []
    for j, (o_inv, o_comp, _ms, node, _idx) in enumerate(a.lag_obs):
        snap = br(starts, o_inv)
        who = node or ks[snap].primary
        st = iso_at(snap, who)
        if st is None or not still_isolated((who, st), o_comp):
            continue
        # The earliest acknowledgement whose data the node kept until the observation.
        for c0 in acks_in.get((who, st), ()):
            if c0 > o_inv:
                break
            if kept_data(who, c0, o_comp):
                obs_out.append((j, o_inv - c0))
                break
    result = (writes_out, obs_out)
    a.cache["isolation"] = result
    return result


# -- loss-window-bounded ----------------------------------------------------------------------


def _epoch_endings(a: Analysis) -> dict[int, tuple[int, Any]]:
    """For each epoch that ended, the index of the effect that ended it and that effect."""
    out: dict[int, tuple[int, Any]] = {}
    for i, te in enumerate(a.effects):
        before, after = a.knowledge[i], a.knowledge[i + 1]
        if after.epoch != before.epoch:
            out[before.epoch] = (i, te.effect)
    return out


def promised_failover(a: Analysis, i: int) -> bool:
    """Whether effect ``i`` (a promotion) is a failover the async promise speaks of.

    The promise bounds what is lost by a failover to the most up-to-date surviving replica:
    chosen by offset, among candidates that include every replica that was not down. A
    named failover, or one that could not consider some live replica (cut off from the
    controller), may lose more, and that is not a broken promise.
    """
    e = a.effects[i].effect
    if not isinstance(e, Promote) or not e.by_offset:
        return False
    k = a.knowledge[i]
    live = {n for n in k.azs if n != k.primary and n not in k.down}
    return live <= promote_candidates(k, e)


def _lost_writes(a: Analysis) -> list[int]:
    """Positions of the acknowledged writes absent from the judged final state."""
    cached: list[int] | None = a.cache.get("lost_writes")
    if cached is None:
        absent = map(operator.is_, a.w_present, repeat(False))
        cached = a.cache["lost_writes"] = list(
            compress(range(len(a.w_present)), map(operator.and_, _where_ok_mask(a), absent))
        )
    return cached


def _lost_in_failures(a: Analysis, prop: Propagator) -> dict[int, list[int]]:
    """Acknowledged writes (positions) lost at the failover that ended their epoch, by epoch.

    Only failovers the promise speaks of count (:func:`promised_failover`). A write the
    promoted node surely kept was lost later, in another failure (or not at the failover
    at all); it is not counted in its own epoch's window. Nor is a write that a replica may
    have held and then lost with its data before the failover (a wiped restart): its loss
    took two failures, and the promise bounds what one loses.
    """
    cached = a.cache.get("lost_in_failures")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    endings = _epoch_endings(a)
    out: dict[int, list[int]] = defaultdict(list)
    a.cache["lost_in_failures"] = out
    final = a.final_primary if a.final_node_used is None else a.final_node_used
    preserved: dict[int, bool] = {}

    def lineage_preserved(j: int, node: str) -> bool:
        """Whether what ``node`` held when promoted at effect ``j`` surely reached the final
        node. If not — another failure came before the cluster caught up with it — a write
        missing at the end may have been lost at that later failure instead, and this
        failover's window cannot be told."""
        if j not in preserved:
            kept = prop.run(Holders(certain=frozenset({node})), j + 1, j + 1)
            preserved[j] = final is not None and final in kept.certain
        return preserved[j]

    wipes = [q for q, te in enumerate(a.effects) if isinstance(te.effect, LoseData)]

    def lost_by_a_wipe(i: int, j: int) -> bool:
        """Whether a replica that may have held write ``i`` lost its data before effect
        ``j`` (judged by what was known just before it lost it)."""
        inv, p = a.w_inv[i], a.w_primary[i]
        for q in wipes[: bisect.bisect_left(wipes, j)]:
            te = a.effects[q]
            node = cast(LoseData, te.effect).node
            if node != p and te.end > inv and a.knowledge[q].may_have_acked(node, inv, p):
                return True
        return False

    for i in _lost_writes(a):
        ep = a.w_epoch[i]
        if ep is None or ep not in endings:
            continue
        j, e = endings[ep]
        if not isinstance(e, Promote) or not promised_failover(a, j):
            continue
        if not lineage_preserved(j, e.node):
            continue
        if lost_by_a_wipe(i, j):
            continue
        i_loss, i_gain = prop.first_after(i)
        h = prop.run(holders_for(a, i), i_loss, i_gain, stop=j + 1)
        if e.node in h.certain:
            continue
        out[ep].append(i)
    return out


def loss_windows(a: Analysis) -> dict[int, tuple[int, int, int]]:
    """Per failover epoch: (window ns, earliest-completed lost write, latest-invoked one),
    the writes by position."""
    prop = Propagator(a)
    comp, inv = a.w_comp, a.w_inv
    out = {}
    for ep, lost in _lost_in_failures(a, prop).items():
        first = min(lost, key=lambda i: comp[i] or 0)
        last = max(lost, key=inv.__getitem__)
        c = comp[first]
        assert c is not None
        out[ep] = (max(0, inv[last] - c), first, last)
    return out


def simple_loss_windows(a: Analysis) -> dict[int, int]:
    """Per epoch ended by a failover: the span of its acknowledged writes missing at the end."""
    endings = _epoch_endings(a)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i in _lost_writes(a):
        ep, c, t = a.w_epoch[i], a.w_comp[i], a.w_inv[i]
        if ep is None or c is None:
            continue
        ending = endings.get(ep)
        if ending is None or not isinstance(ending[1], Promote):
            continue
        first[ep] = min(first.get(ep, c), c)
        last[ep] = max(last.get(ep, t), t)
    return {ep: max(0, last[ep] - first[ep]) for ep in first}


def loss_window_bounded(a: Analysis) -> PropertyResult:
    """async: the acknowledged writes one failure loses span at most the lag limit (+ε)."""
    res = PropertyResult(valid="unknown")
    p = a.params
    bound = p.lag_limit + p.tolerance
    violations = 0
    early, _obs = _isolation_scan(a)
    for i, (w0, lag_lb) in sorted(early.items()):
        if lag_lb > bound and a.w_type[i] == "ok":
            violations += 1
            res.witness(
                {
                    "kind": "acked-while-lag-exceeded",
                    "write": _wref(a, i),
                    "unreplicated_since": _wref(a, w0),
                    "lag_at_least_s": round(lag_lb / 1e9, 6),
                    "limit_s": round(bound / 1e9, 6),
                }
            )
    windows = loss_windows(a)
    for ep, (win, first, last) in sorted(windows.items()):
        if win > bound:
            violations += 1
            res.witness(
                {
                    "kind": "loss-window-exceeded",
                    "epoch": ep,
                    "window_s": round(win / 1e9, 6),
                    "limit_s": round(bound / 1e9, 6),
                    "earliest_lost": _wref(a, first),
                    "latest_lost": _wref(a, last),
                }
            )
    # A write its holders say must survive, lost although a failure came after it: its
    # loss was not bounded by the lag. (Writes after the last failure are the business of
    # no-loss-without-failure.)
    prop = Propagator(a)
    last_failure = max((t for t, _ep in a.knowledge[-1].failures), default=None)
    present = a.w_present
    judged_present = list(compress(present, _where_ok_mask(a)))
    judged = len(judged_present) - judged_present.count(None)
    if last_failure is not None:
        for i in _lost_writes(a):
            if a.w_inv[i] <= last_failure and _must_survive(a, prop, i):
                violations += 1
                res.witness({"kind": "replicated-write-lost", "write": _wref(a, i)})
    res.evidence = {
        "acknowledged_judged": judged,
        "failovers_with_loss": len(windows),
        "max_window_s": round(max((x[0] for x in windows.values()), default=0) / 1e9, 6),
    }
    res.valid = _verdict(violations, judged)
    return res


# -- lag-metric-not-underreported -------------------------------------------------------------


def lag_metric_not_underreported(a: Analysis) -> PropertyResult:
    """async: a reported lag is never below the age of a write that was not yet replicated."""
    res = PropertyResult(valid="unknown")
    eps = a.params.tolerance
    bounds: dict[int, tuple[int, str, int | None]] = {}
    _early, obs = _isolation_scan(a)
    for j, lb in obs:
        bounds[j] = (lb, "isolation", None)
    # Cleanly lost writes: lost at a failover that would have kept them had any candidate
    # held them, and no eligible replica outside the candidates could have received them.
    prop = Propagator(a)
    endings = _epoch_endings(a)
    final = a.final_primary if a.final_node_used is None else a.final_node_used
    clean: dict[int, int] = {}  # epoch -> earliest-completed cleanly lost write
    comp, inv, prim = a.w_comp, a.w_inv, a.w_primary
    if a.final_node_used is not False and final is not None:
        for ep, lost in _lost_in_failures(a, prop).items():
            i, e = endings[ep]
            assert isinstance(e, Promote)
            if not e.by_offset or e.candidates is None:
                continue
            k_before = a.knowledge[i]
            cands = promote_candidates(k_before, e)
            te = a.effects[i]
            kept = prop.run(Holders(certain=frozenset({e.node})), i, i + 1)
            if final not in kept.certain:
                continue
            for w in sorted(lost, key=lambda w: comp[w] or 0):
                p = prim[w]
                if p is None:
                    continue
                outside = [r for r in k_before.eligible(p) if r not in cands]
                if any(k_before.may_have_acked(r, inv[w]) for r in outside):
                    continue
                if any(
                    isinstance(x.effect, LoseData)
                    and x.effect.node in cands
                    and x.end > inv[w]
                    and x.start < te.start
                    for x in a.effects[:i]
                ):
                    continue
                clean[ep] = w
                break
    # Attach the cleanly-lost bound to observations of that epoch's primary before failover.
    for j, (o_inv, _comp, _ms, node, _idx) in enumerate(a.lag_obs):
        k = a.knowledge_at(o_inv)
        w0 = clean.get(k.epoch)
        if w0 is None:
            continue
        c0 = comp[w0]
        if c0 is None or o_inv < c0:
            continue
        if node is not None and node != prim[w0]:
            continue
        lb = o_inv - c0
        if lb > bounds.get(j, (0, "", None))[0]:
            bounds[j] = (lb, "lost-write", w0)
    evidence = violations = 0
    for j, (lb, source, w0i) in sorted(bounds.items()):
        if lb <= 0:
            continue
        evidence += 1
        o_inv, _comp, ms, node, idx = a.lag_obs[j]
        if ms * MS < lb - eps:
            violations += 1
            wit: dict[str, Any] = {
                "kind": "lag-underreported",
                "ops": [idx],
                "node": node,
                "observed_s": a.seconds(o_inv),
                "reported_ms": ms,
                "lag_at_least_ms": round(lb / MS, 3),
                "bound_from": source,
            }
            if w0i is not None:
                wit["lost_write"] = _wref(a, w0i)
            res.witness(wit)
    res.evidence = {"observations": len(a.lag_obs), "observations_with_bound": evidence}
    res.valid = _verdict(violations, evidence)
    return res


# -- no-holes ---------------------------------------------------------------------------------


def _holes(
    a: Analysis, present: list[bool | None]
) -> tuple[dict[int, int], dict[int, int], set[int]]:
    """Per epoch, under one node's presence: the earliest-completed acknowledged write that
    is absent, the latest-invoked write that is present, and the epochs judged (writes by
    position; of several alike, the first)."""
    inv, comp = a.w_inv, a.w_comp
    epoch = cast(list[int], a.w_epoch)  # where it is None, no write is looked at
    known = list(
        map(
            operator.and_,
            map(operator.is_not, epoch, repeat(None)),
            map(operator.is_not, a.w_primary, repeat(None)),
        )
    )
    positions = range(len(present))
    survived = compress(
        positions, map(operator.and_, known, map(operator.is_, present, repeat(True)))
    )
    absent = map(operator.and_, known, map(operator.is_, present, repeat(False)))
    lost = compress(positions, map(operator.and_, absent, _where_ok_mask(a)))
    by_epoch = epoch.__getitem__
    surv_last = {
        ep: max(g, key=inv.__getitem__)
        for ep, g in groupby(sorted(survived, key=by_epoch), key=by_epoch)
    }
    lost_first = {
        ep: min(g, key=comp.__getitem__)  # type: ignore[arg-type]  # completed ones only
        for ep, g in groupby(sorted(lost, key=by_epoch), key=by_epoch)
    }
    return lost_first, surv_last, set(surv_last) | set(lost_first)


def no_holes(a: Analysis) -> PropertyResult:
    """Surviving writes form a prefix of each primary's log, on every node read at the end."""
    res = PropertyResult(valid="unknown")
    n_judged = 0
    violations = 0
    # Nodes read at the end usually agree, and then so does everything below: work it out
    # once per distinct presence column.
    done: list[tuple[list[bool | None], tuple[dict[int, int], dict[int, int], set[int]]]] = []
    comp, inv = a.w_comp, a.w_inv
    for node, state in sorted(a.final_states.items(), key=lambda kv: str(kv[0])):
        present = _presence_of_node(a, state)
        result = next((r for seen, r in done if seen is present or seen == present), None)
        if result is None:
            result = _holes(a, present)
            done.append((present, result))
        lost_first, surv_last, judged = result
        n_judged += len(judged)
        for ep, w1 in sorted(lost_first.items()):
            w2 = surv_last.get(ep)
            c1 = comp[w1]
            if w2 is not None and c1 is not None and c1 < inv[w2]:
                violations += 1
                res.witness(
                    {
                        "kind": "hole",
                        "node": node,
                        "epoch": ep,
                        "lost": _wref(a, w1),
                        "survived": _wref(a, w2),
                    }
                )
    res.evidence = {"epochs_judged": n_judged, "nodes_read": len(a.final_states)}
    res.valid = _verdict(violations, n_judged)
    return res


# -- no-phantom-writes and rejected-writes-not-applied ----------------------------------------


def _read_items(value: Any, workload: str) -> list[Any]:
    if workload in ("list", "set"):
        if isinstance(value, list):
            return value
        # Not a list at all: the value itself is what was read, and no write wrote it so.
        return [] if value is None else [value]
    if workload == "register":
        return [] if value is None else [value]
    return []


def _ok_reads(a: Analysis) -> list[int]:
    """Positions of the successful reads (``ok``, with a completion time)."""
    cached: list[int] | None = a.cache.get("ok_reads")
    if cached is None:
        cached = a.cache["ok_reads"] = _where_ok(a.r_type, a.r_comp)
    return cached


def _reads_by_key(a: Analysis) -> dict[tuple[str, str], list[int]]:
    """(key, workload) -> positions of its successful reads, in order."""
    cached: dict[tuple[str, str], list[int]] | None = a.cache.get("reads_by_key")
    if cached is None:
        cached = defaultdict(list)
        r_key, r_wl = a.r_key, a.r_workload
        for j in _ok_reads(a):
            cached[(r_key[j], r_wl[j])].append(j)
        a.cache["reads_by_key"] = cached
    return cached


def _phantoms(a: Analysis, j: int) -> tuple[list[Any], list[Any]]:
    """The items of (list, set or register) read ``j`` that no write of its key and
    workload had been invoked for by its completion, and those a list holds twice."""
    key, wl, comp = a.r_key[j], a.r_workload[j], a.r_comp[j]
    assert comp is not None
    by_value = a.by_key.get(key, {})
    w_inv, w_workload = a.w_inv, a.w_workload
    bad: list[Any] = []
    twice: list[Any] = []
    seen: set[Any] = set()
    for x in _read_items(a.r_value[j], wl):
        try:
            src = by_value.get(x)
        except TypeError:  # unhashable (a nested list or map): nobody wrote that
            bad.append(x)
            continue
        if src is None or w_inv[src] > comp or w_workload[src] != wl:
            bad.append(x)
        elif wl == "list" and x in seen:
            twice.append(x)  # one write, applied twice
        seen.add(x)
    return bad, twice


def _latest_write(
    a: Analysis, key: str, value: Any, items: list[Any], by_inv: bool
) -> tuple[int | None, bool]:
    """The latest invocation among the writes of ``key`` that the items of read value
    ``value`` are (``None`` if some item is no write's), and whether the items are
    distinct; once per read value object (nodes read alike at the end share theirs)."""
    memo: dict[tuple[int, str], tuple[Any, int | None, bool]] = a.cache.setdefault(
        "latest_write", {}
    )
    hit = memo.get((id(value), key))
    if hit is not None and hit[0] is value:
        return hit[1], hit[2]
    latest: int | None = None
    distinct = False
    positions = item_positions(a, key, value, items)
    if positions is not None and None not in positions:
        found = cast(list[int], positions)
        w_inv = a.w_inv
        # When invocations never go back, the write last in order was invoked last.
        latest = w_inv[max(found)] if by_inv else max(map(w_inv.__getitem__, found))
        distinct = len(set(found)) == len(found)
    memo[(id(value), key)] = (value, latest, distinct)
    return latest, distinct


def _counter_phantoms(
    a: Analysis, reads: list[int], times: list[int], deltas: list[int], pow2: bool
) -> list[tuple[int, list[Any], list[Any]]]:
    """The reads of a counter that no sum of the deltas invoked by their completion
    explains (``times``: when each of ``deltas`` was invoked): not an int, or — deltas that
    are distinct powers of two (``pow2``) — a count with a bit none of them has, or else
    one outside the sums of their negative and of their positive deltas."""
    if pow2:  # prefix ORs: the bits any count may have
        ors = list(accumulate(deltas, operator.or_))

        def explained(n: int, value: int) -> bool:
            return value >= 0 and not value & ~(ors[n - 1] if n else 0)
    else:  # prefix sums of the negative and of the positive deltas
        lows = list(accumulate(min(d, 0) for d in deltas))
        highs = list(accumulate(max(d, 0) for d in deltas))

        def explained(n: int, value: int) -> bool:
            return (lows[n - 1] if n else 0) <= value <= (highs[n - 1] if n else 0)

    out: list[tuple[int, list[Any], list[Any]]] = []
    for j in reads:
        value = a.r_value[j]
        if value is None:
            continue  # an absent counter reads as nothing written yet
        comp = a.r_comp[j]
        assert comp is not None
        if not isinstance(value, int) or not explained(bisect.bisect_right(times, comp), value):
            out.append((j, [value], []))
    return out


def no_phantom_writes(a: Analysis) -> PropertyResult:
    """No read returns a value that no client had written by then.

    Reads are taken key by key, so that the key's writes stay at hand. A read passes at
    once when every item it returned is the value of a write of its key and workload
    invoked no later than the read completed (found with one lookup per item), and a list
    holds no item twice; only a read that does not is examined item by item, for the
    witness.
    """
    res = PropertyResult(valid="unknown")
    kinds = key_workloads(a)
    w_inv, w_value = a.w_inv, a.w_value
    by_inv = invs_sorted(a)  # then the latest write is the one invoked last
    r_val, r_comp, r_final = a.r_value, a.r_comp, a.r_final
    found: list[tuple[int, list[Any], list[Any]]] = []  # (read, phantom items, twice)
    for (key, wl), reads in _reads_by_key(a).items():
        writes = a.by_key.get(key, {})
        if wl == "counter":
            # The key's deltas in invocation order, and when each was invoked.
            if kinds.get(key) == wl and by_inv:  # the key's table is in invocation order
                times = list(map(w_inv.__getitem__, writes.values()))
                deltas: list[int] = list(writes)
            else:
                pairs = sorted(
                    (w_inv[i], w_value[i]) for i in writes.values() if a.w_workload[i] == "counter"
                )
                times = [t for t, _d in pairs]
                deltas = [d for _t, d in pairs]
            found.extend(_counter_phantoms(a, reads, times, deltas, key in a.pow2_keys))
            continue
        # The fast test needs every write of the key to be of this workload.
        fast = kinds.get(key) == wl
        get = writes.__getitem__
        for j in reads:
            value = r_val[j]
            listed = (wl == "list" or wl == "set") and type(value) is list
            items = value if listed else _read_items(value, wl)
            if not items:
                continue
            comp = r_comp[j]
            assert comp is not None
            if fast and r_final[j]:
                # Final reads of nodes that agree share their value: judged once.
                latest, distinct = _latest_write(a, key, value, items, by_inv)
                if latest is not None and latest <= comp and (wl != "list" or distinct):
                    continue
            elif fast:
                try:
                    if wl == "list":
                        # A list holds its writes in the order they were applied, which is
                        # usually their order: then they are distinct, the last one latest.
                        at = list(map(get, items))
                        if by_inv and all(map(operator.lt, at, islice(at, 1, None))):
                            if w_inv[at[-1]] <= comp:
                                continue
                        elif max(map(w_inv.__getitem__, at)) <= comp and len(set(at)) == len(at):
                            continue
                    elif by_inv:  # then the write last in order was invoked last
                        if w_inv[max(map(get, items))] <= comp:
                            continue
                    elif max(map(w_inv.__getitem__, map(get, items))) <= comp:
                        continue
                except (KeyError, TypeError):
                    pass  # some item is not a write of this key: look at each
            bad, twice = _phantoms(a, j)
            if bad or twice:
                found.append((j, bad, twice))
    for j, bad, twice in sorted(found, key=lambda x: x[0]):
        c = a.r_cidx[j]
        res.witness(
            {
                "kind": "phantom-value",
                "ops": [a.r_index[j]] + ([c] if c is not None else []),
                "key": a.r_key[j],
                "node": a.r_node[j],
                "values": bad[:10],
                "duplicated": twice[:10],
                "read_s": a.seconds(r_comp[j]),
            }
        )
    judged = len(_ok_reads(a))
    res.evidence = {"reads_judged": judged}
    res.valid = _verdict(len(found), judged)
    return res


def rejected_writes_not_applied(a: Analysis) -> PropertyResult:
    """A cleanly rejected (definitely failed) write is never read."""
    res = PropertyResult(valid="unknown")
    w_key, w_value, w_workload = a.w_key, a.w_value, a.w_workload
    rejected = list(compress(count(), map(operator.eq, a.w_type, repeat("fail"))))
    idents = zip(map(w_key.__getitem__, rejected), map(w_value.__getitem__, rejected), strict=True)
    failed = dict(zip(idents, rejected, strict=True))
    failed_delta_mask: dict[str, int] = defaultdict(int)
    failed_values: dict[str, set[Any]] = defaultdict(set)
    for (key, value), i in failed.items():
        failed_values[key].add(value)
        if w_workload[i] == "counter" and key in a.pow2_keys:
            failed_delta_mask[key] |= value
    last_read: dict[str, int] = {}  # key -> latest completion of a successful read
    violations = 0
    flagged: set[tuple[str, Any]] = set()
    r_key, r_wl, r_val, r_comp = a.r_key, a.r_workload, a.r_value, a.r_comp
    for j in _ok_reads(a):
        key, wl, value, comp = r_key[j], r_wl[j], r_val[j], r_comp[j]
        assert comp is not None
        prev = last_read.get(key)
        if prev is None or comp > prev:
            last_read[key] = comp
        if key not in failed_values:
            continue
        hits: list[int] = []
        if wl == "counter":
            m = failed_delta_mask.get(key, 0)
            if m and isinstance(value, int) and value & m:
                hits = [
                    i
                    for (k, v), i in failed.items()
                    if k == key and w_workload[i] == "counter" and value & v
                ]
        else:
            items = _read_items(value, wl)
            try:
                if failed_values[key].isdisjoint(items):
                    continue
            except TypeError:
                pass  # an unhashable item: look at each
            for x in items:
                try:
                    hit = failed.get((key, x))
                except TypeError:  # unhashable: no write had that value
                    continue
                if hit is not None:
                    hits.append(hit)
        for i in hits:
            ident = (w_key[i], w_value[i])
            if ident in flagged:
                continue
            flagged.add(ident)
            violations += 1
            c = a.r_cidx[j]
            res.witness(
                {
                    "kind": "rejected-write-read",
                    "write": {**_wref(a, i), "error": a.w_error[i]},
                    "read_ops": [a.r_index[j]] + ([c] if c is not None else []),
                    "read_node": a.r_node[j],
                }
            )
    # Evidence: a rejected write whose key was read after it was rejected (for a counter,
    # one whose deltas are distinct powers of two: another sum shows no delta in it).
    evidence = 0
    for i in failed.values():
        c = a.w_comp[i]
        if w_workload[i] == "counter" and w_key[i] not in a.pow2_keys:
            continue
        if c is not None and w_key[i] in last_read and last_read[w_key[i]] >= c:
            evidence += 1
    res.evidence = {"rejected": len(failed), "rejected_then_read": evidence}
    res.valid = _verdict(violations, evidence)
    return res


# -- no-loss-without-failure ------------------------------------------------------------------


def no_loss_without_failure(a: Analysis) -> PropertyResult:
    """With no failover or data loss on the primary since a write, an acknowledged write is
    readable at the end."""
    res = PropertyResult(valid="unknown")
    last_failure = max((t for t, _ep in a.knowledge[-1].failures), default=None)
    final_epoch = a.knowledge[-1].epoch
    inv, epoch, present = a.w_inv, a.w_epoch, a.w_present
    since: Any = (
        repeat(True) if last_failure is None else map(operator.gt, inv, repeat(last_failure))
    )
    judged_writes = list(
        compress(
            range(len(inv)),
            map(
                all,
                zip(
                    _where_ok_mask(a),
                    since,
                    map(operator.eq, epoch, repeat(final_epoch)),
                    map(operator.is_not, present, repeat(None)),
                    strict=False,  # since may repeat forever
                ),
            ),
        )
    )
    violations = 0
    for i in judged_writes:
        if present[i] is False:
            violations += 1
            res.witness({"kind": "acked-write-lost-without-failure", "write": _wref(a, i)})
    judged = len(judged_writes)
    res.evidence = {
        "acknowledged_judged": judged,
        "since_s": a.seconds(last_failure) if last_failure is not None else None,
    }
    res.valid = _verdict(violations, judged)
    return res


# -- writes-resume-after-heal -----------------------------------------------------------------


def resume_bound(a: Analysis) -> int:
    p = a.params
    if p.mode is Mode.ASYNC:
        return p.lag_limit + p.tolerance + p.recovery
    if p.mode is Mode.SYNC:
        return p.sync_timeout + p.tolerance + p.recovery
    return p.tolerance + p.recovery


def ack_allowance(a: Analysis) -> int:
    """How long a correct cluster may take to answer a write: the sync timeout (sync), plus ε."""
    p = a.params
    return (p.sync_timeout if p.mode is Mode.SYNC else 0) + p.tolerance


def writes_resume_after_heal(a: Analysis) -> PropertyResult:
    """Once every fault is healed, writes are accepted again within the allowance.

    For each heal with no new fault before its deadline (heal + allowance): valid when a
    write invoked after the heal was accepted by the deadline. Violated, if none was, when
    a write sent to the primary after the deadline was refused, or when one sent to the
    primary by the deadline was still unanswered, or unacknowledged, a whole answer
    allowance after it (before any new fault). Otherwise there is no evidence.
    """
    res = PropertyResult(valid="unknown")
    bound = resume_bound(a)
    evidence = violations = 0
    cols: _ByInvocation | None = None
    fault_starts = sorted(a.fault_starts)
    for start, end, idx in a.heals:
        deadline = end + bound
        later = bisect.bisect_right(fault_starts, end)  # the first fault begun after the heal
        if later < len(fault_starts) and fault_starts[later] <= deadline:
            continue  # another fault began before writes had to resume: nothing to judge
        limit = fault_starts[later] if later < len(fault_starts) else None
        if limit is not None or (
            invs_sorted(a) and len(a.w_inv) - bisect.bisect_left(a.w_inv, start) <= _SHORT
        ):
            # A next fault ends what this heal is judged by: writes invoked from then on,
            # or refused once it may have begun, tell of it, not of this heal. (With no
            # next fault, the writes invoked from the last heal on are a suffix in
            # invocation order: a short one, the usual case, is looked at as it is.)
            if cols is None and not invs_sorted(a):
                cols = _by_invocation(a)
            n_after, first_ok, failed = _after_heal(a, cols, start, deadline, limit)
        else:  # a long suffix: through suffix minima and maxima built once
            if cols is None:
                cols = _by_invocation(a)
            n_after, first_ok, failed = _after_heal_by_suffix(a, cols, start, deadline)
        fc = None if first_ok is None else a.w_comp[first_ok]
        if fc is not None and fc <= deadline:
            evidence += 1
            continue
        if not failed:  # (and nothing was accepted by the deadline)
            continue  # the evidence does not say when writes resumed
        evidence += 1
        violations += 1
        res.witness(
            {
                "kind": "writes-not-resumed",
                "heal_ops": [idx],
                "healed_s": a.seconds(end),
                "allowance_s": round(bound / 1e9, 6),
                "first_ok": _wref(a, first_ok) if first_ok is not None else None,
                "attempts_after_heal": n_after,
            }
        )
    res.evidence = {"heals": len(a.heals), "heals_judged": evidence}
    res.valid = _verdict(violations, evidence)
    return res


_SHORT = 4096  # writes after a heal looked at directly


def _refused(typ: str, comp: int | None) -> bool:
    """A write answered without an acknowledgement (``fail``, or ``info`` such as a
    timeout). One still in flight when the history ends was not refused: it may yet be
    accepted."""
    return typ != "ok" and comp is not None


def _to_primary(a: Analysis, i: int) -> bool:
    """Whether the ``i``-th write was sent to the primary of its time (or to no node in
    particular): only such a write tells whether the cluster accepts writes, as a replica
    refuses them all along."""
    node = a.w_node[i]
    return node is None or node == a.knowledge_at(a.w_inv[i]).primary


def _refused_by_primary(a: Analysis, i: int) -> bool:
    """Whether the ``i``-th write, sent to the primary, was refused (:func:`_refused`)."""
    return _refused(a.w_type[i], a.w_comp[i]) and _to_primary(a, i)


def _held(a: Analysis, i: int, settled: int) -> bool:
    """Whether the ``i``-th write, sent to the primary, was still unanswered or
    unacknowledged at ``settled``: the deadline plus the answer allowance."""
    c = a.w_comp[i]
    return (a.t_end if c is None else c) > settled and _to_primary(a, i)


def _after_heal(
    a: Analysis, cols: _ByInvocation | None, start: int, deadline: int, limit: int | None
) -> tuple[int, int | None, bool]:
    """For the writes invoked from ``start`` until ``limit`` (the next fault's start, or
    ``None``), one by one: how many, the first acknowledged of the earliest
    acknowledgement, and whether they show writes not accepted by ``deadline`` — one sent
    to the primary after it refused before ``limit`` (:func:`_refused_by_primary`), or
    one sent to the primary by then held past the answer allowance (:func:`_held`), itself
    before ``limit``. ``cols`` is needed when invocations are out of order."""
    inv, comp, typ = a.w_inv, a.w_comp, a.w_type
    end = _NEVER if limit is None else limit
    at: Iterable[int]
    if cols is None:
        at = range(bisect.bisect_left(inv, start), bisect.bisect_left(inv, end))
    else:
        invs = cols.invs
        at = cols.order[bisect.bisect_left(invs, start) : bisect.bisect_left(invs, end)]
    settled = deadline + ack_allowance(a)
    n_after, first_ok, earliest = 0, None, 0
    failed = False
    for i in at:
        n_after += 1
        c = comp[i]
        if typ[i] == "ok" and c is not None and (first_ok is None or c < earliest):
            first_ok, earliest = i, c
        if failed:
            continue
        if inv[i] > deadline:
            failed = c is not None and c < end and _refused_by_primary(a, i)
        elif settled < end:
            failed = _held(a, i, settled)
    return n_after, first_ok, failed


def _after_heal_by_suffix(
    a: Analysis, cols: _ByInvocation, start: int, deadline: int
) -> tuple[int, int | None, bool]:
    """What :func:`_after_heal` says with no next fault, through ``cols``: the first
    acknowledgement and the refusals from suffix tables, the writes held past the answer
    allowance from those invoked by ``deadline`` (a few seconds' worth)."""
    pos = bisect.bisect_left(cols.invs, start)
    n_after = len(cols.invs) - pos
    first_ok = None
    if n_after and cols.accepted_at[cols.earliest_ok_at[pos]] != _NEVER:
        first_ok = cols.order[cols.earliest_ok_at[pos]]
    late = max(pos, bisect.bisect_right(cols.invs, deadline))
    settled = deadline + ack_allowance(a)
    failed = (late < len(cols.invs) and cols.refused_from[late]) or any(
        _held(a, i, settled) for i in cols.order[pos:late]
    )
    return n_after, first_ok, failed


class _ByInvocation(NamedTuple):
    """The writes in order of invocation time (stable), and what a heal asks of a suffix."""

    order: Sequence[int]  # positions of the writes
    invs: list[int]  # invocation times
    accepted_at: list[Any]  # acknowledgement time (infinity when not acknowledged)
    earliest_ok_at: list[int]  # where the least of accepted_at from here on first is
    refused_from: list[bool]  # whether a write from here on, sent to the primary, was refused


def _suffix(values: Any, combine: Callable[[Any, Any], Any]) -> list[Any]:
    out = list(accumulate(reversed(values), combine))
    out.reverse()
    return out


def _by_invocation(a: Analysis) -> _ByInvocation:
    inv, comp, typ = a.w_inv, a.w_comp, a.w_type
    order: Sequence[int] = range(len(inv))
    if not invs_sorted(a):
        order = sorted(order, key=inv.__getitem__)
        inv = [inv[i] for i in order]
        comp = [comp[i] for i in order]
        typ = [typ[i] for i in order]
    accepted: list[Any] = [
        c if ok else _NEVER for c, ok in zip(comp, _ok_mask(typ, comp), strict=True)
    ]

    def earlier(best: int, j: int) -> int:  # an earlier write acknowledged no later wins
        return j if accepted[j] <= accepted[best] else best

    earliest_at: list[int] = _suffix(range(len(accepted)), earlier)
    return _ByInvocation(
        order=order,
        invs=inv,
        accepted_at=accepted,
        earliest_ok_at=earliest_at,
        refused_from=_suffix([_refused_by_primary(a, i) for i in order], operator.or_),
    )


ALL_MODES = frozenset(Mode)

PROPERTIES: tuple[Property, ...] = (
    Property(
        "acked-writes-survive",
        frozenset({Mode.SYNC}),
        "every acknowledged write survives a single-AZ failure and failover",
        acked_writes_survive,
    ),
    Property(
        "loss-window-bounded",
        frozenset({Mode.ASYNC}),
        "the acknowledged writes a failure loses span at most the lag limit",
        loss_window_bounded,
    ),
    Property(
        "lag-metric-not-underreported",
        frozenset({Mode.ASYNC}),
        "the reported durability lag is never below the age of an unreplicated write",
        lag_metric_not_underreported,
    ),
    Property("no-holes", ALL_MODES, "surviving writes form a prefix of the log", no_holes),
    Property(
        "no-phantom-writes", ALL_MODES, "no value is read that no client wrote", no_phantom_writes
    ),
    Property(
        "rejected-writes-not-applied",
        ALL_MODES,
        "a cleanly rejected write is never read",
        rejected_writes_not_applied,
    ),
    Property(
        "no-loss-without-failure",
        ALL_MODES,
        "with no failover since, every acknowledged write is readable",
        no_loss_without_failure,
    ),
    Property(
        "writes-resume-after-heal",
        ALL_MODES,
        "writes are accepted again soon after every fault heals",
        writes_resume_after_heal,
    ),
)


def applicable(mode: Mode) -> tuple[Property, ...]:
    return tuple(p for p in PROPERTIES if mode in p.modes)
