"""The checker as it was before it was optimised: a slow, straightforward reference.

``tests/unit/test_checker_differential.py`` checks that the optimised checker
(``harness.checker``) and loader (``harness.history.parse_lines``) give exactly the same
results as this module on generated histories. It is a copy of ``harness/checker/_analysis.py``,
``_properties.py``, ``_check.py`` and ``harness/history/_io.py``'s ``parse_lines`` at commit
da3ebcf, before the performance work of docs/perf-checker.md, changed only in its imports
(``Params``, the rendering and the history types come from the package).

Keep it simple rather than fast. A change to what the checker decides (a semantic change,
not an optimisation) is made here too, in the same commit, so that the differential test
keeps pinning the optimised code to the plain statement of each rule.
"""

from __future__ import annotations

import bisect
import json
import re
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.checker import Params
from harness.checker._render import explain
from harness.history import (
    FORMAT,
    OP_TYPES,
    VERSION,
    WORKLOADS,
    Header,
    History,
    HistoryError,
    Op,
    Process,
    gc_paused,
)
from models import (
    Holders,
    Knowledge,
    LoseData,
    Mode,
    Promote,
    Replicate,
    Synced,
    TimedEffect,
    effect_from_json,
    initial_knowledge,
    promote_candidates,
)

try:
    import orjson as _orjson

    _loads: Any = _orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

# ---- harness/checker/_analysis.py at da3ebcf ----------------------------------------

MS = 1_000_000
SECOND = 1_000_000_000
# Effect kinds that break something (as opposed to restoring it).
_FAULT_EFFECTS = frozenset(("down", "cut", "slow", "lose-data", "promote"))


@dataclass(slots=True)
class Write:
    """One write operation: its invocation, completion and what the final reads say of it."""

    index: int  # the invoke op's index: a write's identity in witnesses
    complete_index: int | None
    process: Any
    workload: str
    key: str
    value: Any
    inv: int
    comp: int | None
    type: str  # ok | fail | info
    error: str | None
    node: str | None
    epoch: int | None = None
    primary: str | None = None  # the node that applied it, when known
    present: bool | None = None  # in the final primary's state? None: cannot tell
    holders: Holders | None = None

    def ops(self) -> list[int]:
        return [self.index] if self.complete_index is None else [self.index, self.complete_index]


@dataclass(slots=True)
class Read:
    index: int
    complete_index: int | None
    process: Any
    workload: str
    key: str
    value: Any
    inv: int
    comp: int | None
    type: str
    node: str | None
    final: bool


@dataclass
class Analysis:
    params: Params
    history: History
    t0: int
    writes: list[Write]
    reads: list[Read]
    lag_obs: list[tuple[int, int, int, str | None, int]]  # (inv, comp, ms, node, index)
    effects: list[TimedEffect]
    effect_ops: list[tuple[int, int]]  # (invoke index, completion index) of each effect
    heals: list[tuple[int, int, int]]  # (start, end, invoke index) of each heal
    fault_starts: list[int]  # start time of every fault op (not heal)
    knowledge: list[Knowledge]  # knowledge[i] = after effects[:i]
    effect_starts: list[int]
    final_primary: str | None
    final_states: dict[str | None, dict[str, Any]]  # node -> key -> last final value
    final_starts: dict[str | None, dict[str, int]]  # node -> key -> when that read began
    final_node_used: str | bool | None  # which node's state judged survival; False if none
    by_value: dict[tuple[str, Any], Write]
    pow2_keys: set[str]
    errors: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)  # shared intermediate results

    def seconds(self, t: int | None) -> float | None:
        return None if t is None else round((t - self.t0) / SECOND, 6)

    def knowledge_at(self, t: int) -> Knowledge:
        """Knowledge including every effect that began at or before ``t``."""
        return self.knowledge[bisect.bisect_right(self.effect_starts, t)]


def _topology(history: History, mode_nodes: set[str]) -> tuple[dict[str, str], str | None]:
    topo = history.header.topology
    if topo:
        azs = {n["name"]: n["az"] for n in topo["nodes"]}
        primary = topo.get("primary") or (topo["nodes"][0]["name"] if topo["nodes"] else None)
        return azs, primary
    # No topology: every node we saw, each in its own AZ, the first one primary.
    names = sorted(mode_nodes)
    return {n: n for n in names}, (names[0] if names else None)


_NAMED = frozenset({"nemesis", "observer"})  # processes named by a string; clients by ints


def analyse(history: History, params: Params, source: str = "<history>") -> Analysis:
    """Build the :class:`Analysis` of ``history``; raises ``HistoryError`` on malformed ops."""
    ops = history.ops
    t0 = ops[0].time if ops else 0
    writes: list[Write] = []
    reads: list[Read] = []
    lag_obs: list[tuple[int, int, int, str | None, int]] = []
    nemesis: list[tuple[Op, Op | None]] = []
    seen_nodes: set[str] = set()
    by_value: dict[tuple[str, Any], Write] = {}
    deltas: dict[str, list[int]] = defaultdict(list)

    # One pass pairs each invocation with the next op of its process (docs/history.md) and
    # builds the write, read, observation or fault it belongs to.
    open_ops: dict[Any, tuple[Op, Any]] = {}
    for op in ops:
        p = op.process
        if op.type == "invoke":
            if p in open_ops:
                prev = open_ops[p][0]
                raise HistoryError(
                    f"{source}: op {op.index}: process {p!r} invokes again while op "
                    f"{prev.index} is still open; complete it (ok/fail/info) first or use a "
                    "new process id"
                )
            f = op.f
            rec: Any = None
            if (f == "write" or f == "read") and type(p) is not int and p not in _NAMED:
                raise HistoryError(
                    f"{source}: op {op.index}: a {f} by process {p!r}: a client's process is "
                    "an int (docs/history.md); number the clients 0, 1, 2, ..."
                )
            if type(p) is int:
                if f == "write" or f == "read":
                    if op.workload is None or op.key is None:
                        raise HistoryError(
                            f"{source}: op {op.index}: a {f} needs 'workload' and 'key'"
                        )
                    if f == "write":
                        rec = Write(
                            op.index,
                            None,
                            p,
                            op.workload,
                            op.key,
                            op.value,
                            op.time,
                            None,
                            "info",
                            None,
                            op.node,
                        )
                        ident = (op.key, op.value)
                        if ident in by_value:
                            raise HistoryError(
                                f"{source}: op {op.index}: value {op.value!r} was already "
                                f"written to {op.key!r} by op {by_value[ident].index}; every "
                                "write needs a unique value"
                            )
                        by_value[ident] = rec
                        writes.append(rec)
                        if op.workload == "counter":
                            if type(op.value) is not int:
                                raise HistoryError(
                                    f"{source}: op {op.index}: a counter write's value is an "
                                    "int delta"
                                )
                            deltas[op.key].append(op.value)
                    else:
                        rec = Read(
                            op.index,
                            None,
                            p,
                            op.workload,
                            op.key,
                            None,
                            op.time,
                            None,
                            "info",
                            op.node,
                            op.final,
                        )
                        reads.append(rec)
            elif p == "nemesis":
                rec = len(nemesis)
                nemesis.append((op, None))
            open_ops[p] = (op, rec)
            continue
        entry = open_ops.pop(p, None)
        if entry is None:
            raise HistoryError(
                f"{source}: op {op.index}: {op.type} completion by process {p!r} has no "
                "invocation before it; add the invoke line"
            )
        inv, rec = entry
        if inv.f != op.f:
            raise HistoryError(
                f"{source}: op {op.index}: completion f={op.f!r} does not match its "
                f"invocation (op {inv.index}, f={inv.f!r})"
            )
        if rec is None:
            if p == "observer" and op.f == "lag" and op.type == "ok" and type(op.value) is int:
                lag_obs.append((inv.time, op.time, op.value, op.node or inv.node, inv.index))
            continue
        if type(rec) is int:
            nemesis[rec] = (inv, op)
            continue
        rec.complete_index = op.index
        rec.comp = op.time
        rec.type = op.type
        if op.node is not None:
            rec.node = op.node
        if type(rec) is Write:
            rec.error = op.error
        else:
            rec.value = op.value
            rec.final = rec.final or op.final
    for w in writes:
        if w.node is not None:
            seen_nodes.add(w.node)
    for r in reads:
        if r.node is not None:
            seen_nodes.add(r.node)

    pow2_keys = {
        k
        for k, ds in deltas.items()
        if all(d > 0 and d & (d - 1) == 0 for d in ds) and len(set(ds)) == len(ds)
    }
    # A counter read of a key nobody incremented must read 0 (any bit would be a phantom).
    pow2_keys |= {r.key for r in reads if r.workload == "counter" and r.key not in deltas}

    # Effects, in order of their start, with the knowledge after each.
    effects: list[TimedEffect] = []
    effect_ops: list[tuple[int, int]] = []
    heals: list[tuple[int, int, int]] = []
    fault_starts: list[int] = []
    for inv, c in nemesis:
        if inv.f == "heal" and c is not None and c.type == "ok":
            heals.append((inv.time, c.time, inv.index))
        if c is None or c.type == "fail":
            continue
        value = c.value if isinstance(c.value, Mapping) else {}
        raw = value.get("effects", [])
        # A new fault (not the heal, nor the recovery steps that follow it) is an op whose
        # effects break something.
        if (
            inv.f != "heal"
            and isinstance(raw, list)
            and any(isinstance(o, Mapping) and any(k in _FAULT_EFFECTS for k in o) for o in raw)
        ):
            fault_starts.append(inv.time)
        if not isinstance(raw, list):
            raise HistoryError(f"{source}: op {c.index}: 'effects' must be a list")
        for obj in raw:
            if not isinstance(obj, Mapping):
                raise HistoryError(f"{source}: op {c.index}: each effect is an object")
            try:
                e = effect_from_json(obj)
            except (ValueError, KeyError) as exc:
                raise HistoryError(f"{source}: op {c.index}: {exc}") from None
            for n in _effect_nodes(e):
                seen_nodes.add(n)
            effects.append(TimedEffect(start=inv.time, end=c.time, effect=e))
            effect_ops.append((inv.index, c.index))

    azs, primary = _topology(history, seen_nodes)
    for n in sorted(seen_nodes - set(azs) - {"client"}, key=str):
        raise HistoryError(
            f"{source}: node {n!r} appears in ops but not in the header's topology; add it"
        )
    if primary is None:
        primary = "?"
        azs = {"?": "?"}
    k = initial_knowledge(azs, primary)
    knowledge = [k]
    for te in effects:
        k = k.observe(te)
        knowledge.append(k)
    effect_starts = [te.start for te in effects]

    final_states: dict[str | None, dict[str, Any]] = defaultdict(dict)
    final_starts: dict[str | None, dict[str, int]] = defaultdict(dict)
    for r in reads:
        # A final read begun before an effect on its node (any effect, for a read naming no
        # node) ended does not say what the node holds at the end.
        if r.final and r.type == "ok":
            if any(
                r.inv < te.end and (r.node is None or r.node in _effect_nodes(te.effect))
                for te in effects
            ):
                continue
            final_states[r.node][r.key] = r.value
            final_starts[r.node][r.key] = r.inv
    final_primary = knowledge[-1].primary if knowledge else None

    a = Analysis(
        params=params,
        history=history,
        t0=t0,
        writes=writes,
        reads=reads,
        lag_obs=lag_obs,
        effects=effects,
        effect_ops=effect_ops,
        heals=heals,
        fault_starts=fault_starts,
        knowledge=knowledge,
        effect_starts=effect_starts,
        final_primary=final_primary,
        final_states=dict(final_states),
        final_starts=dict(final_starts),
        final_node_used=False,
        by_value=by_value,
        pow2_keys=pow2_keys,
    )
    _assign_epochs(a)
    _judge_presence(a)
    return a


def _effect_nodes(e: object) -> list[str]:
    out = []
    for attr in ("node", "src", "dst", "source"):
        v = getattr(e, attr, None)
        if isinstance(v, str):
            out.append(v)
    return out


def _assign_epochs(a: Analysis) -> None:
    """Which lineage (epoch) and which node applied each write."""
    starts = a.effect_starts
    ks = a.knowledge
    # epoch -> its primary, for writes sent to an old primary after a failover.
    primary_of_epoch: dict[int, str] = {}
    for k in ks:
        primary_of_epoch.setdefault(k.epoch, k.primary)
    epochs_of_node: dict[str, list[int]] = defaultdict(list)
    for ep, p in sorted(primary_of_epoch.items()):
        epochs_of_node[p].append(ep)
    br = bisect.bisect_right
    for w in a.writes:
        k = ks[br(starts, w.inv)]
        if w.node is None:
            # Sent to "the primary": if the primary changed while it was in flight, it may
            # have landed on either, so neither its epoch nor its node is known.
            end = ks[br(starts, w.comp)] if w.comp is not None else ks[-1]
            if end.epoch != k.epoch:
                w.epoch = None
                w.primary = None
            else:
                w.epoch = k.epoch
                w.primary = k.primary
        elif w.node == k.primary:
            w.epoch = k.epoch
            w.primary = k.primary
        else:
            eps = [e for e in epochs_of_node.get(w.node, ()) if e <= k.epoch]
            if eps:
                w.epoch = eps[-1]
                w.primary = w.node
            else:
                w.epoch = None
                w.primary = w.node
    # A write in flight while its lineage changed belongs to no epoch we can name.
    horizon = a.history.ops[-1].time if a.history.ops else 0
    spans = [
        (te.start, te.end)
        for i, te in enumerate(a.effects)
        if a.knowledge[i + 1].epoch != a.knowledge[i].epoch
    ]
    for w in a.writes:
        end = horizon if w.comp is None else w.comp
        if w.epoch is not None and any(s <= end and e >= w.inv for s, e in spans):
            w.epoch = None


def _judge_presence(a: Analysis) -> None:
    """Set ``Write.present`` from the final reads of the final primary."""
    state: dict[str, Any] | None = None
    if a.final_primary in a.final_states:
        state = a.final_states[a.final_primary]
        a.final_node_used = a.final_primary
    elif None in a.final_states:
        state = a.final_states[None]
        a.final_node_used = None
    elif len(a.final_states) == 1 and a.history.header.topology is None:
        # No topology: the one node read at the end is the best account of the cluster.
        ((node, state),) = a.final_states.items()
        a.final_node_used = node
    if state is None:
        return
    for w in a.writes:
        w.present = presence(a, state, w)


def presence(a: Analysis, state: Mapping[str, Any], w: Write) -> bool | None:
    """Whether write ``w`` is in a node's final ``state``; ``None`` when reads cannot tell,
    and when it is missing from a read that began before it was acknowledged (or it never
    was): it may have been applied after the read."""
    got = _read_presence(a, state, w)
    if got is False:
        starts = next((a.final_starts[n] for n, st in a.final_states.items() if st is state), {})
        start = starts.get(w.key)
        if start is not None and (w.comp is None or w.comp >= start):
            return None
    return got


def _read_presence(a: Analysis, state: Mapping[str, Any], w: Write) -> bool | None:
    if w.key not in state:
        return None
    v = state[w.key]
    wl = w.workload
    if wl == "list" or wl == "set":
        if not isinstance(v, list):
            return None
        return w.value in _as_set(a, v)
    if wl == "counter":
        if w.key not in a.pow2_keys or not isinstance(v, int):
            return None
        return bool(v & w.value)
    if wl == "register":
        if v is None:
            return False
        if v == w.value:
            return True
        try:
            last = a.by_value.get((w.key, v))
        except TypeError:  # unhashable: no write had that value
            return None
        if last is not None and last.type == "ok" and last.comp is not None and last.comp < w.inv:
            # w was ordered after the write that is still there: it is gone. (Only an
            # acknowledgement says when a write was applied: one that timed out or was
            # refused may have been applied at any time, after w too.)
            return False
        return None
    return None


def _as_set(a: Analysis, v: list[Any]) -> frozenset[Any]:
    """The members of a final list or set read, computed once per read."""
    cache: dict[int, tuple[list[Any], frozenset[Any]]] = a.cache.setdefault("sets", {})
    hit = cache.get(id(v))
    if hit is not None and hit[0] is v:
        return hit[1]
    s = frozenset(x for x in v if isinstance(x, str | int))
    cache[id(v)] = (v, s)
    return s


def holders_for(a: Analysis, w: Write) -> Holders:
    """Holders of an acknowledged write right after its acknowledgement."""
    assert w.comp is not None
    p = a.params
    ackers: frozenset[str] = frozenset()
    if p.mode is Mode.SYNC and w.primary is not None:
        k = a.knowledge_at(w.comp)
        ackers = _possible_ackers(k, w.primary, w.inv)
    return Holders.at_ack(
        primary=w.primary, mode=p.mode, sync_replicas=p.sync_replicas, ackers=ackers
    )


def _possible_ackers(k: Knowledge, primary: str, start: int) -> frozenset[str]:
    return k.possible_ackers(primary, start)


class Propagator:
    """Carries holders through the effects after a write, memoised by where it starts.

    Writes acknowledged between the same effects with the same initial holders end up with
    the same holders, so a million writes cost as many propagations as there are distinct
    (holders, first effect that may follow the apply, first effect surely after the ack).
    """

    def __init__(self, a: Analysis) -> None:
        self.a = a
        ends = [te.end for te in a.effects]
        # Prefix maxima of end times: effect j may follow a write's apply if end_j > inv.
        self.max_end: list[int] = []
        m = -(1 << 62)
        for e in ends:
            m = max(m, e)
            self.max_end.append(m)
        self.memo: dict[tuple[Holders, int, int, int], Holders] = {}

    def first_after(self, w: Write) -> tuple[int, int]:
        assert w.comp is not None
        i_loss = bisect.bisect_right(self.max_end, w.inv)
        i_gain = bisect.bisect_left(self.a.effect_starts, w.comp)
        return i_loss, i_gain

    def run(self, h: Holders, i_loss: int, i_gain: int, stop: int | None = None) -> Holders:
        """Holders after effects ``[min(i_loss, i_gain), stop)`` (default: to the end)."""
        end = len(self.a.effects) if stop is None else stop
        key = (h, i_loss, i_gain, end)
        hit = self.memo.get(key)
        if hit is not None:
            return hit
        ks = self.a.knowledge
        effects = self.a.effects
        out = h
        for i in range(min(i_loss, i_gain), end):
            e = effects[i].effect
            if isinstance(e, LoseData | Replicate):
                # A node re-pointed at a primary may resync in full and discard what it had.
                if i >= i_loss:
                    out = out.without(e.node)
            elif isinstance(e, Promote):
                if i < i_loss:
                    continue
                if i < i_gain:
                    # A failover concurrent with the write: the offsets the controller read
                    # may predate the acknowledgement, so only a certain holder counts.
                    out = out.after_promote(Promote(node=e.node, by_offset=False), frozenset())
                else:
                    out = out.after_promote(e, promote_candidates(ks[i], e))
            elif isinstance(e, Synced) and i >= i_gain:
                out = out.after_synced(e.node, ks[i].primary)
            if not out.certain and not out.clauses:
                break
        self.memo[key] = out
        return out


# ---- harness/checker/_properties.py at da3ebcf ----------------------------------------

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
    # An isolation is identified by (primary, its start); w0 is the first acknowledged write
    # of each epoch in it (a primary that loses its data while isolated starts a new epoch).
    first_ack: dict[tuple[str, int, int], Write] = {}
    acks_in: dict[tuple[str, int], list[Write]] = defaultdict(list)  # in order of completion
    at_invoke: list[tuple[int, tuple[str, int], Write]] = []
    at_obs: list[tuple[int, tuple[str, int], list[Write]]] = []
    for t, _o, kind, i in events:
        snap = snap_at(t)
        if kind == 2:
            node = a.lag_obs[i][3] or ks[snap].primary
            st = iso_at(snap, node)
            if st is None:
                continue
            if acks_in[node, st]:
                at_obs.append((i, (node, st), list(acks_in[node, st])))
            continue
        w = writes[i]
        assert w.primary is not None
        st = iso_at(snap, w.primary)
        if st is None or w.inv < st:
            continue
        iso = (w.primary, st)
        if kind == 1:
            if (w.primary, st, w.epoch) not in first_ack:
                first_ack[w.primary, st, w.epoch] = w
                acks_in[iso].append(w)
        else:
            w0 = first_ack.get((w.primary, st, w.epoch))
            if w0 is not None:
                at_invoke.append((i, iso, w0))

    def still_isolated(iso: tuple[str, int], until: int) -> bool:
        return iso_at(snap_at(until), iso[0]) == iso[1]

    writes_out: dict[int, tuple[Write, int]] = {}
    for i, iso, w0 in at_invoke:
        w = writes[i]
        if w.comp is not None and still_isolated(iso, w.comp):
            assert w0.comp is not None
            writes_out[i] = (w0, w.inv - w0.comp)

    def kept_data(node: str, since: int, until: int) -> bool:
        """No wipe or resync of ``node`` (re-pointed, or seen caught up as a replica) may
        have replaced its data in (since, until)."""
        return not any(
            isinstance(te.effect, LoseData | Replicate | Synced)
            and te.effect.node == node
            and te.end > since
            and te.start < until
            for te in a.effects
        )

    obs_out: list[tuple[int, int]] = []
    for j, iso, acked in at_obs:
        inv, comp, _ms, _node, _idx = a.lag_obs[j]
        if not still_isolated(iso, comp):
            continue
        # The earliest acknowledgement whose data the node kept until the observation.
        for w0 in acked:
            assert w0.comp is not None
            if kept_data(iso[0], w0.comp, comp):
                obs_out.append((j, inv - w0.comp))
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


def _lost_in_failures(a: Analysis, prop: Propagator) -> dict[int, list[Write]]:
    """Acknowledged writes lost at the failover that ended their epoch, by epoch.

    Only failovers the promise speaks of count (:func:`promised_failover`). A write the
    promoted node surely kept was lost later, in another failure (or not at the failover
    at all); it is not counted in its own epoch's window. Nor is a write that a replica may
    have held and then lost with its data before the failover: two failures.
    """
    cached = a.cache.get("lost_in_failures")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    endings = _epoch_endings(a)
    out: dict[int, list[Write]] = defaultdict(list)
    a.cache["lost_in_failures"] = out
    final = a.final_primary if a.final_node_used is None else a.final_node_used
    for w in _ok_writes(a):
        if w.present is not False or w.epoch is None or w.epoch not in endings:
            continue
        i, e = endings[w.epoch]
        if not isinstance(e, Promote) or not promised_failover(a, i):
            continue
        kept = prop.run(Holders(certain=frozenset({e.node})), i + 1, i + 1)
        if final is None or final not in kept.certain:
            continue  # a later failure may have lost it: this window cannot be told
        if any(
            isinstance(te.effect, LoseData)
            and te.effect.node != w.primary
            and te.end > w.inv
            and a.knowledge[q].may_have_acked(te.effect.node, w.inv, w.primary)
            for q, te in enumerate(a.effects[:i])
        ):
            continue  # a replica that may have held it lost it before: two failures
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
        if isinstance(value, list):
            return value
        # Not a list at all: the value itself is what was read, and no write wrote it so.
        return [] if value is None else [value]
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
            else:  # some sum of the deltas invoked by then: between their negative and positive sums
                lo = hi = 0
                for inv, d in masks.get(r.key, ()):
                    if inv > r.comp:
                        break
                    if d < 0:
                        lo += d
                    else:
                        hi += d
                if not lo <= r.value <= hi:
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
    # Evidence: a rejected write whose key was read after it was rejected (for a counter,
    # one whose deltas are distinct powers of two: another sum shows no delta in it).
    evidence = 0
    for w in failed.values():
        if w.workload == "counter" and w.key not in a.pow2_keys:
            continue
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
    writes = sorted(a.writes, key=lambda w: w.inv)
    t_end = a.history.ops[-1].time if a.history.ops else 0
    evidence = violations = 0
    for start, end, idx in a.heals:
        deadline = end + bound
        if any(end < s <= deadline for s in a.fault_starts):
            continue  # another fault began before writes had to resume: nothing to judge
        # The next fault ends what this heal is judged by: writes invoked from then on, or
        # refused once it may have begun, tell of that fault, not of this heal.
        limit = min((s for s in a.fault_starts if s > end), default=None)
        after = [w for w in writes if w.inv >= start and (limit is None or w.inv < limit)]
        accepted = [w for w in after if w.type == "ok" and w.comp is not None]
        first_ok = min(accepted, key=lambda w: w.comp or 0) if accepted else None
        if first_ok is not None and first_ok.comp is not None and first_ok.comp <= deadline:
            evidence += 1
            continue
        # Only a write sent to the primary (or to no node in particular) tells whether the
        # cluster accepts writes: a replica refuses them all along.
        to_primary = [w for w in after if w.node in (None, a.knowledge_at(w.inv).primary)]
        refused_late = [
            w
            for w in to_primary
            if w.inv > deadline
            and w.type != "ok"
            and w.comp is not None  # one still in flight at the end was not refused
            and (limit is None or w.comp < limit)
        ]
        settled = deadline + ack_allowance(a)  # by when a write sent by the deadline is answered
        held = [
            w
            for w in to_primary
            if w.inv <= deadline
            and (t_end if w.comp is None else w.comp) > settled
            and (limit is None or settled < limit)
        ]
        if not refused_late and not held:  # (and nothing was accepted by the deadline)
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


# ---- harness/checker/_check.py at da3ebcf ----------------------------------------

RESULT_SCHEMA = "ackbound-check/1"


def merge(verdicts: list[Verdict]) -> Verdict:
    """false > unknown > true; no verdicts at all is unknown."""
    if any(v is False for v in verdicts):
        return False
    if not verdicts or any(v == "unknown" for v in verdicts):
        return "unknown"
    return True


def _percentile(sorted_values: list[int], q: float) -> int | None:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / MS, 3)


def error_prefix(error: str | None) -> str:
    if not error:
        return "(none)"
    word = error.split(None, 1)[0] if error.strip() else error
    return word.lstrip("-")[:40]


def stats(a: Analysis) -> dict[str, Any]:
    """Counts and figures of a history (independent of any verdict)."""
    types = Counter(w.type for w in a.writes)
    ok_lat = sorted(w.comp - w.inv for w in a.writes if w.type == "ok" and w.comp is not None)
    lost = sum(1 for w in a.writes if w.type == "ok" and w.present is False)
    judged = sum(1 for w in a.writes if w.type == "ok" and w.present is not None)
    # The figure users compare across modes: per failover, the span of the acknowledged
    # writes of the failed primary's epoch that are gone at the end.
    windows = {ep: w for ep, (w, _first, _last) in loss_windows(a).items()}
    rejected_by = Counter(error_prefix(w.error) for w in a.writes if w.type == "fail")
    indeterminate_by = Counter(error_prefix(w.error) for w in a.writes if w.type == "info")
    faults = Counter(
        op.f for op in a.history.ops if op.process == "nemesis" and op.type == "invoke"
    )
    duration = (a.history.ops[-1].time - a.t0) if a.history.ops else 0
    return {
        "attempted": len(a.writes),
        "acknowledged": types.get("ok", 0),
        "rejected": types.get("fail", 0),
        "indeterminate": types.get("info", 0),
        "lost": lost,
        "acknowledged_judged": judged,
        "reads": len(a.reads),
        "final_reads": sum(1 for r in a.reads if r.final),
        "loss_window_s": round(max(windows.values(), default=0) / SECOND, 6),
        "failovers": sum(1 for _t, _e in a.knowledge[-1].failures),
        "max_lag_ms": max((ms for _i, _c, ms, _n, _x in a.lag_obs), default=None),
        "lag_observations": len(a.lag_obs),
        "write_latency_ms": {
            "p50": _ms(_percentile(ok_lat, 0.50)),
            "p99": _ms(_percentile(ok_lat, 0.99)),
            "max": _ms(ok_lat[-1] if ok_lat else None),
        },
        "rejected_by_error": dict(sorted(rejected_by.items())),
        "indeterminate_by_error": dict(sorted(indeterminate_by.items())),
        "faults": dict(sorted(faults.items())),
        "duration_s": round(duration / SECOND, 6),
        "final_node": (
            None if a.final_node_used is False or a.final_node_used is None else a.final_node_used
        ),
    }


def _params_json(p: Params) -> dict[str, Any]:
    return {
        "sync_replicas": p.sync_replicas,
        "sync_timeout_s": p.sync_timeout / SECOND,
        "lag_limit_s": p.lag_limit / SECOND,
        "tolerance_s": p.tolerance / SECOND,
        "recovery_s": p.recovery / SECOND,
    }


def check(history: History, params: Params, source: str = "<history>") -> dict[str, Any]:
    """Judge ``history`` under ``params``; returns the result data (see the module doc)."""
    if history.header.topology is None and params.mode is not Mode.NONE and history.ops:
        raise HistoryError(
            f"{source}: the header has no topology, which mode {params.mode.value} needs to "
            "know which replicas could acknowledge; add it (docs/history.md; in a .txt "
            "history: nodes n1@a n2@b n3@c)"
        )
    with gc_paused():
        return _check(history, params, source)


def _check(history: History, params: Params, source: str) -> dict[str, Any]:
    a = analyse(history, params, source)
    props: dict[str, Any] = {}
    for prop in applicable(params.mode):
        try:
            r = prop.check(a)
        except Exception as exc:  # a crashing check is unknown, never a pass
            r = PropertyResult(
                valid="unknown",
                error=f"{type(exc).__name__}: {exc}",
                notes=[traceback.format_exc(limit=3)],
            )
        props[prop.name] = {
            "valid": r.valid,
            "summary": prop.summary,
            "witnesses": r.witnesses,
            "witness_count": r.witness_count,
            "evidence": r.evidence,
            "explanation": explain(prop.name, r, a),
            **({"error": r.error} if r.error else {}),
            **({"notes": r.notes} if r.notes else {}),
        }
    if a.final_node_used is False:
        for name in ("acked-writes-survive", "loss-window-bounded", "no-loss-without-failure"):
            if name in props and props[name]["valid"] is not False:
                props[name].setdefault("notes", []).append(
                    "no final reads: survival could not be judged"
                )
    return {
        "schema": RESULT_SCHEMA,
        "valid": merge([p["valid"] for p in props.values()]),
        "mode": params.mode.value,
        "params": _params_json(params),
        "properties": props,
        "stats": stats(a),
    }


# ---- harness/history/_io.py at da3ebcf (parse_lines and its helpers) ----------
_OP_TYPES = frozenset(OP_TYPES)
_FIELDS = (
    "index",
    "time",
    "process",
    "type",
    "f",
    "workload",
    "key",
    "value",
    "error",
    "node",
    "final",
)
_KNOWN_FIELDS = frozenset(_FIELDS)
_WORKLOADS = frozenset(WORKLOADS)
# What a write carries, per workload (docs/history.md): a unique string, or a counter's delta.
_WRITE_VALUE: dict[str, type] = {"register": str, "list": str, "set": str, "counter": int}
# The parsers' "line 1 column 25 (char 24)" counts within the one line being parsed.
_JSON_POSITION = re.compile(r"(?: at)?:? line \d+ column (\d+) \(char \d+\)")


def _json_problem(exc: ValueError) -> str:
    """The JSON parser's complaint, with its position given as a column of this line."""
    return _JSON_POSITION.sub(r" at column \1", str(exc))


def _header_from(obj: dict[str, Any], where: str) -> Header:
    version = obj.get("version")
    if type(version) is not int or version < 1:
        raise HistoryError(f"{where}: header has no 'version' ≥ 1; write {VERSION}")
    if version > VERSION:
        raise HistoryError(
            f"{where}: history format version {version} is newer than this ackbound reads "
            f"({VERSION}); upgrade ackbound"
        )
    mode = obj.get("mode")
    if mode is not None and not isinstance(mode, str):
        raise HistoryError(f"{where}: header 'mode' must be a string such as \"sync\"")
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise HistoryError(f"{where}: header 'params' must be an object")
    topology = obj.get("topology")
    if topology is not None:
        nodes = topology.get("nodes") if isinstance(topology, dict) else None
        if not isinstance(nodes, list) or not all(
            isinstance(n, dict) and isinstance(n.get("name"), str) and isinstance(n.get("az"), str)
            for n in nodes
        ):
            raise HistoryError(
                f"{where}: header 'topology' must be "
                '{"nodes": [{"name": "n1", "az": "az1"}, ...], "primary": "n1"}'
            )
        primary = topology.get("primary")
        names = [n["name"] for n in nodes]
        if primary is not None and primary not in names:
            raise HistoryError(
                f"{where}: header topology's primary {primary!r} is not one of its nodes "
                f"({', '.join(names) or 'none'}); name one of them"
            )
    durable_restart = obj.get("durable_restart", False)
    if durable_restart is not True and durable_restart is not False:
        raise HistoryError(
            f"{where}: header 'durable_restart' must be true or false; got {durable_restart!r}"
        )
    known = {"format", "version", "mode", "params", "topology", "target", "durable_restart"}
    return Header(
        mode=mode,
        params=params,
        topology=topology,
        target=obj.get("target"),
        durable_restart=durable_restart,
        extra={k: v for k, v in obj.items() if k not in known},
    )


def _bad(where: str, message: str) -> HistoryError:
    return HistoryError(f"{where}: {message}")


def parse_lines(lines: Iterable[bytes | str], source: str = "<history>") -> History:
    """Parse ndjson lines into a :class:`History`; raises :class:`HistoryError`."""
    header = Header()
    ops: list[Op] = []
    append = ops.append
    last_index = -1
    last_time = 0
    lineno = 0
    header_line = 0
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = _loads(raw)
        except ValueError as exc:
            where = f"{source}:{lineno}"
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            hint = "the file is truncated" if not text.endswith("\n") else "fix or remove the line"
            raise _bad(where, f"not valid JSON ({_json_problem(exc)}); {hint}") from None
        if type(obj) is not dict:
            raise _bad(f"{source}:{lineno}", "each line must be a JSON object")
        if "format" in obj:
            if obj["format"] != FORMAT or ops:
                raise _bad(
                    f"{source}:{lineno}",
                    f'a header line must come first and have "format": "{FORMAT}"',
                )
            if header_line:
                raise _bad(
                    f"{source}:{lineno}",
                    f"a second header line (the first is line {header_line}); keep one",
                )
            header = _header_from(obj, f"{source}:{lineno}")
            header_line = lineno
            continue
        try:
            index = obj["index"]
            t = obj["time"]
            process: Process = obj["process"]
            typ = obj["type"]
            f = obj["f"]
        except KeyError as exc:
            raise _bad(
                f"{source}:{lineno}",
                f"op is missing the field {exc.args[0]!r}; every op needs index, time, process, type and f",
            ) from None
        if type(index) is not int or index <= last_index:
            if type(index) is not int:
                problem = f"'index' must be an integer; got {index!r}"
            elif index < 0:
                problem = f"'index' must be ≥ 0; got {index}"
            else:
                problem = (
                    f"'index' {index} does not follow the previous op's {last_index}; "
                    "indices increase line by line"
                )
            raise _bad(f"{source}:{lineno}", problem)
        if type(t) is not int:
            raise _bad(f"{source}:{lineno}", f"'time' must be integer nanoseconds; got {t!r}")
        if t < 0:
            raise _bad(
                f"{source}:{lineno}",
                f"'time' must be ≥ 0 (nanoseconds of a monotonic clock); got {t}; shift every "
                "op's time by the same amount",
            )
        if t < last_time:
            raise _bad(
                f"{source}:{lineno}",
                f"'time' goes backwards ({t} < {last_time}); ops must be in recorded order",
            )
        if type(typ) is not str or typ not in _OP_TYPES:
            raise _bad(
                f"{source}:{lineno}",
                f"'type' must be one of invoke, ok, fail, info; got {typ!r}",
            )
        if type(process) is not int and type(process) is not str:
            raise _bad(f"{source}:{lineno}", "'process' must be an integer client id or a string")
        if type(f) is not str:
            raise _bad(f"{source}:{lineno}", "'f' must be a string")
        if not _KNOWN_FIELDS.issuperset(obj):
            unknown = ", ".join(repr(k) for k in sorted(set(obj) - _KNOWN_FIELDS))
            raise _bad(
                f"{source}:{lineno}",
                f"unknown field {unknown}; an op's fields are {', '.join(_FIELDS)} "
                "(docs/history.md)",
            )
        get = obj.get
        workload = get("workload")
        key = get("key")
        error = get("error")
        node = get("node")
        final = get("final", False)
        if workload is not None and (type(workload) is not str or workload not in _WORKLOADS):
            raise _bad(
                f"{source}:{lineno}",
                f"'workload' must be one of {', '.join(WORKLOADS)}; got {workload!r}",
            )
        if (
            (key is not None and type(key) is not str)
            or (error is not None and type(error) is not str)
            or (node is not None and type(node) is not str)
        ):
            name, bad = next(
                (n, v)
                for n, v in (("key", key), ("error", error), ("node", node))
                if v is not None and type(v) is not str
            )
            raise _bad(f"{source}:{lineno}", f"{name!r} must be a string; got {bad!r}")
        if final is not True and final is not False:
            raise _bad(f"{source}:{lineno}", f"'final' must be true or false; got {final!r}")
        value = get("value")
        if f == "write" and workload is not None and type(value) is not _WRITE_VALUE[workload]:
            want = "an integer delta" if workload == "counter" else 'a string such as "w17"'
            raise _bad(
                f"{source}:{lineno}", f"a {workload} write's value must be {want}; got {value!r}"
            )
        if f == "lag" and typ == "ok" and process == "observer" and type(value) is not int:
            raise _bad(
                f"{source}:{lineno}",
                f"a lag observation's value is whole milliseconds (an integer); got {value!r}",
            )
        last_index = index
        last_time = t
        append(Op(index, t, process, typ, f, workload, key, value, error, node, final))
    return History(header=header, ops=tuple(ops))
