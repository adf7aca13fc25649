"""The durability properties, one function each, registered by their stable names.

Each property reads the shared :class:`~harness.checker._analysis.Analysis` and returns a
:class:`PropertyResult`: a verdict (``True``, ``False`` or ``"unknown"``), the witnesses
that prove a violation (each citing op indices), and the evidence it judged. A property
with nothing to judge is ``"unknown"``, never ``True``: absence of evidence is not proof.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.checker._analysis import (
    MS,
    Analysis,
    Propagator,
    Write,
    holders_for,
    presence,
)
from models import Holders, LoseData, Mode, Promote, promote_candidates

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


def _wref(a: Analysis, w: Write) -> dict[str, Any]:
    """How a witness cites a write."""
    return {
        "ops": w.ops(),
        "key": w.key,
        "value": w.value,
        "type": w.type,
        "invoked_s": a.seconds(w.inv),
        "completed_s": a.seconds(w.comp),
        "node": w.primary,
        "epoch": w.epoch,
    }


def _ok_writes(a: Analysis) -> list[Write]:
    cached = a.cache.get("ok_writes")
    if cached is None:
        cached = a.cache["ok_writes"] = [
            w for w in a.writes if w.type == "ok" and w.comp is not None
        ]
    return cached


def _must_survive(a: Analysis, prop: Propagator, w: Write) -> bool:
    """Whether the holders of acknowledged ``w`` surely include the judged final node."""
    if a.final_node_used is False or w.primary is None:
        return False
    final = a.final_primary if a.final_node_used is None else a.final_node_used
    if final is None:
        return False
    i_loss, i_gain = prop.first_after(w)
    h = prop.run(holders_for(a, w), i_loss, i_gain)
    return final in h.certain


# -- acked-writes-survive -------------------------------------------------------------------


def acked_writes_survive(a: Analysis) -> PropertyResult:
    """sync: every acknowledged write survives any single failure and correct failover."""
    res = PropertyResult(valid="unknown")
    k_needed = a.params.sync_replicas
    prop = Propagator(a)
    judged = unprotected = lost = 0
    for w in _ok_writes(a):
        assert w.comp is not None
        if w.primary is not None:
            ackers = a.knowledge_at(w.comp).possible_ackers(w.primary, w.inv)
            if len(ackers) < k_needed:
                unprotected += 1
                res.witness(
                    {
                        "kind": "acked-without-eligible-replica",
                        "write": _wref(a, w),
                        "possible_ackers": sorted(ackers),
                        "needed": k_needed,
                        "eligible": list(a.knowledge_at(w.comp).eligible(w.primary)),
                    }
                )
        if w.present is None:
            continue
        judged += 1
        if w.present is False and _must_survive(a, prop, w):
            lost += 1
            res.witness({"kind": "acked-write-lost", "write": _wref(a, w)})
    res.evidence = {"acknowledged_judged": judged, "unprotected_acks": unprotected, "lost": lost}
    res.valid = _verdict(unprotected + lost, judged + unprotected)
    return res


# -- shared: isolation windows and the lag lower bound ----------------------------------------


def _isolation_scan(a: Analysis) -> tuple[dict[int, tuple[Write, int]], list[tuple[int, int]]]:
    """Walk ops in time order and bound the lag from below during isolation windows.

    An isolation of a primary ``p`` starts when no eligible replica of ``p`` can acknowledge
    a new write of ``p`` any more. A write ``w0`` that ``p`` acknowledged inside the
    isolation is unreplicated for as long as it lasts, so ``p``'s lag is at least
    ``t - completion(w0)`` at any later time ``t`` of the same isolation. Primaries are
    judged by their own links — a deposed primary still serving after a failover too.

    Returns, for every write invocation covered by an isolation of its own primary that
    lasted until the write completed, the earliest such ``w0`` and the bound; and for each
    lag observation (by position in ``a.lag_obs``) covered the same way, the bound.
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

    def snap_at(t: int) -> int:
        return bisect.bisect_right(starts, t)

    # Events: (time, order, kind, i). Completions sort before invocations at equal times.
    events: list[tuple[int, int, int, int]] = []
    writes = a.writes
    for i, w in enumerate(writes):
        if w.primary is None or w.epoch is None:
            continue
        events.append((w.inv, 1, 0, i))
        if w.type == "ok" and w.comp is not None:
            events.append((w.comp, 0, 1, i))
    for j, obs in enumerate(a.lag_obs):
        events.append((obs[0], 1, 2, j))
    events.sort()
    # An isolation is identified by (primary, its start); w0 is its first acknowledged write.
    first_ack: dict[tuple[str, int], Write] = {}
    at_invoke: list[tuple[int, tuple[str, int], Write]] = []
    at_obs: list[tuple[int, tuple[str, int], Write]] = []
    snap = 0
    n_eff = len(starts)
    for t, _o, kind, i in events:
        while snap < n_eff and starts[snap] <= t:
            snap += 1
        if kind == 2:
            node = a.lag_obs[i][3] or ks[snap].primary
            st = iso_at(snap, node)
            if st is None:
                continue
            w0 = first_ack.get((node, st))
            if w0 is not None:
                at_obs.append((i, (node, st), w0))
            continue
        w = writes[i]
        assert w.primary is not None
        st = iso_at(snap, w.primary)
        if st is None or w.inv < st:
            continue
        iso = (w.primary, st)
        if kind == 1:
            first_ack.setdefault(iso, w)
        else:
            w0 = first_ack.get(iso)
            if w0 is not None and w0.epoch == w.epoch:
                at_invoke.append((i, iso, w0))

    def still_isolated(iso: tuple[str, int], until: int) -> bool:
        return iso_at(snap_at(until), iso[0]) == iso[1]

    writes_out: dict[int, tuple[Write, int]] = {}
    for i, iso, w0 in at_invoke:
        w = writes[i]
        if w.comp is not None and still_isolated(iso, w.comp):
            assert w0.comp is not None
            writes_out[i] = (w0, w.inv - w0.comp)
    obs_out: list[tuple[int, int]] = []
    for j, iso, w0 in at_obs:
        inv, comp, _ms, _node, _idx = a.lag_obs[j]
        if still_isolated(iso, comp):
            assert w0.comp is not None
            obs_out.append((j, inv - w0.comp))
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


def _lost_in_failures(a: Analysis, prop: Propagator) -> dict[int, list[Write]]:
    """Acknowledged writes lost at the failover that ended their epoch, by epoch.

    Only failovers the promise speaks of count (:func:`promised_failover`). A write the
    promoted node surely kept was lost later, in another failure (or not at the failover
    at all); it is not counted in its own epoch's window.
    """
    cached = a.cache.get("lost_in_failures")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    endings = _epoch_endings(a)
    out: dict[int, list[Write]] = defaultdict(list)
    a.cache["lost_in_failures"] = out
    for w in _ok_writes(a):
        if w.present is not False or w.epoch is None or w.epoch not in endings:
            continue
        i, e = endings[w.epoch]
        if not isinstance(e, Promote) or not promised_failover(a, i):
            continue
        i_loss, i_gain = prop.first_after(w)
        h = prop.run(holders_for(a, w), i_loss, i_gain, stop=i + 1)
        if e.node in h.certain:
            continue
        out[w.epoch].append(w)
    return out


def loss_windows(a: Analysis) -> dict[int, tuple[int, Write, Write]]:
    """Per failover epoch: (window ns, earliest-completed lost write, latest-invoked one)."""
    prop = Propagator(a)
    out = {}
    for ep, lost in _lost_in_failures(a, prop).items():
        first = min(lost, key=lambda w: w.comp or 0)
        last = max(lost, key=lambda w: w.inv)
        assert first.comp is not None
        out[ep] = (max(0, last.inv - first.comp), first, last)
    return out


def simple_loss_windows(a: Analysis) -> dict[int, int]:
    """Per epoch ended by a failover: the span of its acknowledged writes missing at the end."""
    endings = _epoch_endings(a)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for w in _ok_writes(a):
        if w.present is not False or w.epoch is None or w.comp is None:
            continue
        ending = endings.get(w.epoch)
        if ending is None or not isinstance(ending[1], Promote):
            continue
        first[w.epoch] = min(first.get(w.epoch, w.comp), w.comp)
        last[w.epoch] = max(last.get(w.epoch, w.inv), w.inv)
    return {ep: max(0, last[ep] - first[ep]) for ep in first}


def loss_window_bounded(a: Analysis) -> PropertyResult:
    """async: the acknowledged writes one failure loses span at most the lag limit (+ε)."""
    res = PropertyResult(valid="unknown")
    p = a.params
    bound = p.lag_limit + p.tolerance
    violations = 0
    early, _obs = _isolation_scan(a)
    for i, (w0, lag_lb) in sorted(early.items()):
        if lag_lb > bound and a.writes[i].type == "ok":
            violations += 1
            res.witness(
                {
                    "kind": "acked-while-lag-exceeded",
                    "write": _wref(a, a.writes[i]),
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
    judged = 0
    for w in _ok_writes(a):
        if w.present is None:
            continue
        judged += 1
        if (
            w.present is False
            and last_failure is not None
            and w.inv <= last_failure
            and _must_survive(a, prop, w)
        ):
            violations += 1
            res.witness({"kind": "replicated-write-lost", "write": _wref(a, w)})
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
    bounds: dict[int, tuple[int, str, Write | None]] = {}
    _early, obs = _isolation_scan(a)
    for j, lb in obs:
        bounds[j] = (lb, "isolation", None)
    # Cleanly lost writes: lost at a failover that would have kept them had any candidate
    # held them, and no eligible replica outside the candidates could have received them.
    prop = Propagator(a)
    endings = _epoch_endings(a)
    final = a.final_primary if a.final_node_used is None else a.final_node_used
    clean: dict[int, Write] = {}  # epoch -> earliest-completed cleanly lost write
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
            for w in sorted(lost, key=lambda w: w.comp or 0):
                if w.primary is None:
                    continue
                outside = [r for r in k_before.eligible(w.primary) if r not in cands]
                if any(k_before.may_have_acked(r, w.inv) for r in outside):
                    continue
                if any(
                    isinstance(x.effect, LoseData)
                    and x.effect.node in cands
                    and x.end > w.inv
                    and x.start < te.start
                    for x in a.effects[:i]
                ):
                    continue
                clean[ep] = w
                break
    # Attach the cleanly-lost bound to observations of that epoch's primary before failover.
    for j, (inv, _comp, _ms, node, _idx) in enumerate(a.lag_obs):
        k = a.knowledge_at(inv)
        w0 = clean.get(k.epoch)
        if w0 is None or w0.comp is None or inv < w0.comp:
            continue
        if node is not None and node != w0.primary:
            continue
        lb = inv - w0.comp
        if lb > bounds.get(j, (0, "", None))[0]:
            bounds[j] = (lb, "lost-write", w0)
    evidence = violations = 0
    for j, (lb, source, w0) in sorted(bounds.items()):
        if lb <= 0:
            continue
        evidence += 1
        inv, _comp, ms, node, idx = a.lag_obs[j]
        if ms * MS < lb - eps:
            violations += 1
            wit: dict[str, Any] = {
                "kind": "lag-underreported",
                "ops": [idx],
                "node": node,
                "observed_s": a.seconds(inv),
                "reported_ms": ms,
                "lag_at_least_ms": round(lb / MS, 3),
                "bound_from": source,
            }
            if w0 is not None:
                wit["lost_write"] = _wref(a, w0)
            res.witness(wit)
    res.evidence = {"observations": len(a.lag_obs), "observations_with_bound": evidence}
    res.valid = _verdict(violations, evidence)
    return res


# -- no-holes ---------------------------------------------------------------------------------


def no_holes(a: Analysis) -> PropertyResult:
    """Surviving writes form a prefix of each primary's log, on every node read at the end."""
    res = PropertyResult(valid="unknown")
    judged_epochs: set[tuple[Any, int]] = set()
    violations = 0
    for node, state in sorted(a.final_states.items(), key=lambda kv: str(kv[0])):
        use_cached = node == a.final_node_used
        lost_first: dict[int, Write] = {}
        surv_last: dict[int, Write] = {}
        for w in a.writes:
            if w.epoch is None or w.primary is None:
                continue
            present = w.present if use_cached else presence(a, state, w)
            if present is None:
                continue
            if present:
                s = surv_last.get(w.epoch)
                if s is None or w.inv > s.inv:
                    surv_last[w.epoch] = w
                judged_epochs.add((node, w.epoch))
            elif w.type == "ok" and w.comp is not None:
                lf = lost_first.get(w.epoch)
                if lf is None or (lf.comp is not None and w.comp < lf.comp):
                    lost_first[w.epoch] = w
                judged_epochs.add((node, w.epoch))
        for ep, w1 in sorted(lost_first.items()):
            w2 = surv_last.get(ep)
            if w2 is not None and w1.comp is not None and w1.comp < w2.inv:
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
    res.evidence = {"epochs_judged": len(judged_epochs), "nodes_read": len(a.final_states)}
    res.valid = _verdict(violations, len(judged_epochs))
    return res


# -- no-phantom-writes and rejected-writes-not-applied ----------------------------------------


def _read_items(value: Any, workload: str) -> list[Any]:
    if workload in ("list", "set"):
        return value if isinstance(value, list) else []
    if workload == "register":
        return [] if value is None else [value]
    return []


def no_phantom_writes(a: Analysis) -> PropertyResult:
    """No read returns a value that no client had written by then."""
    res = PropertyResult(valid="unknown")
    by_value = a.by_value
    masks: dict[str, list[tuple[int, int]]] = defaultdict(list)  # key -> (inv, delta) sorted
    for w in a.writes:
        if w.workload == "counter":
            masks[w.key].append((w.inv, w.value))
    for v in masks.values():
        v.sort()
    judged = violations = 0
    for r in a.reads:
        if r.type != "ok" or r.comp is None:
            continue
        judged += 1
        bad: list[Any] = []
        twice: list[Any] = []
        if r.workload == "counter":
            if r.value is None:
                pass  # an absent counter reads as nothing written yet
            elif not isinstance(r.value, int):
                bad.append(r.value)
            elif r.key in a.pow2_keys:
                m = 0
                for inv, d in masks.get(r.key, ()):
                    if inv > r.comp:
                        break
                    m |= d
                if r.value < 0 or r.value & ~m:
                    bad.append(r.value)
        else:
            items = _read_items(r.value, r.workload)
            seen: set[Any] = set()
            for x in items:
                try:
                    src = by_value.get((r.key, x))
                except TypeError:  # unhashable (a nested list or map): nobody wrote that
                    bad.append(x)
                    continue
                if src is None or src.inv > r.comp or src.workload != r.workload:
                    bad.append(x)
                elif r.workload == "list" and x in seen:
                    twice.append(x)  # one write, applied twice
                seen.add(x)
        if bad or twice:
            violations += 1
            res.witness(
                {
                    "kind": "phantom-value",
                    "ops": [r.index] + ([r.complete_index] if r.complete_index is not None else []),
                    "key": r.key,
                    "node": r.node,
                    "values": bad[:10],
                    "duplicated": twice[:10],
                    "read_s": a.seconds(r.comp),
                }
            )
    res.evidence = {"reads_judged": judged}
    res.valid = _verdict(violations, judged)
    return res


def rejected_writes_not_applied(a: Analysis) -> PropertyResult:
    """A cleanly rejected (definitely failed) write is never read."""
    res = PropertyResult(valid="unknown")
    failed = {(w.key, w.value): w for w in a.writes if w.type == "fail"}
    failed_delta_mask: dict[str, int] = defaultdict(int)
    for (key, value), w in failed.items():
        if w.workload == "counter" and key in a.pow2_keys:
            failed_delta_mask[key] |= value
    reads_by_key: dict[str, list[int]] = defaultdict(list)
    violations = 0
    flagged: set[tuple[str, Any]] = set()
    for r in a.reads:
        if r.type != "ok" or r.comp is None:
            continue
        reads_by_key[r.key].append(r.comp)
        hits: list[Write] = []
        if r.workload == "counter":
            m = failed_delta_mask.get(r.key, 0)
            if m and isinstance(r.value, int) and r.value & m:
                hits = [
                    w
                    for (k, v), w in failed.items()
                    if k == r.key and w.workload == "counter" and r.value & v
                ]
        else:
            for x in _read_items(r.value, r.workload):
                try:
                    hit = failed.get((r.key, x))
                except TypeError:  # unhashable: no write had that value
                    continue
                if hit is not None:
                    hits.append(hit)
        for w in hits:
            if (w.key, w.value) in flagged:
                continue
            flagged.add((w.key, w.value))
            violations += 1
            res.witness(
                {
                    "kind": "rejected-write-read",
                    "write": {**_wref(a, w), "error": w.error},
                    "read_ops": [r.index]
                    + ([r.complete_index] if r.complete_index is not None else []),
                    "read_node": r.node,
                }
            )
    # Evidence: a rejected write whose key was read after it was rejected.
    evidence = 0
    for w in failed.values():
        if w.comp is not None and any(c >= w.comp for c in reads_by_key.get(w.key, ())):
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
    judged = violations = 0
    for w in _ok_writes(a):
        if last_failure is not None and w.inv <= last_failure:
            continue
        if w.epoch != final_epoch or w.present is None:
            continue
        judged += 1
        if w.present is False:
            violations += 1
            res.witness({"kind": "acked-write-lost-without-failure", "write": _wref(a, w)})
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


def writes_resume_after_heal(a: Analysis) -> PropertyResult:
    """Once every fault is healed, writes are accepted again within the allowance.

    For each heal with no new fault before its deadline (heal + allowance): valid when a
    write invoked after the heal was accepted by the deadline; violated when a write
    invoked after the deadline was refused, or when writes were tried across the deadline
    and none was accepted; otherwise there is no evidence.
    """
    res = PropertyResult(valid="unknown")
    bound = resume_bound(a)
    writes = sorted(a.writes, key=lambda w: w.inv)
    evidence = violations = 0
    for start, end, idx in a.heals:
        deadline = end + bound
        if any(end < s <= deadline for s in a.fault_starts):
            continue  # another fault began before writes had to resume: nothing to judge
        after = [w for w in writes if w.inv >= start]
        accepted = [w for w in after if w.type == "ok" and w.comp is not None]
        first_ok = min(accepted, key=lambda w: w.comp or 0) if accepted else None
        if first_ok is not None and first_ok.comp is not None and first_ok.comp <= deadline:
            evidence += 1
            continue
        refused_late = [w for w in after if w.inv > deadline and w.type != "ok"]
        spanned = any(w.inv <= deadline for w in after) and any(
            (w.comp or w.inv) > deadline for w in after
        )
        if not refused_late and not (spanned and first_ok is None):
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
                "attempts_after_heal": len(after),
            }
        )
    res.evidence = {"heals": len(a.heals), "heals_judged": evidence}
    res.valid = _verdict(violations, evidence)
    return res


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
