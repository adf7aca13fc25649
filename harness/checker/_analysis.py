"""The shared first pass of the checker: from ops to writes, reads, epochs and final states.

Every property reads the same :class:`Analysis`, built once in a few linear passes so that
a million-op history is judged in seconds. Nothing here decides a verdict.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.history import History, HistoryError, Op
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

__all__ = [
    "Analysis",
    "Params",
    "Propagator",
    "Read",
    "Write",
    "analyse",
    "holders_for",
    "presence",
]

MS = 1_000_000
SECOND = 1_000_000_000
# Effect kinds that break something (as opposed to restoring it).
_FAULT_EFFECTS = frozenset(("down", "cut", "slow", "lose-data", "promote"))


@dataclass(frozen=True, kw_only=True)
class Params:
    """What the checker needs to know about the run (times in nanoseconds)."""

    mode: Mode
    sync_replicas: int = 1
    sync_timeout: int = 1 * SECOND
    lag_limit: int = 10 * SECOND
    tolerance: int = 250 * MS
    recovery: int = 10 * SECOND


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
        if inv.f != "heal" and isinstance(raw, list) and any(
            isinstance(o, Mapping) and any(k in _FAULT_EFFECTS for k in o) for o in raw
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
    for n in seen_nodes - set(azs) - {"client"}:
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
    for r in reads:
        if r.final and r.type == "ok":
            final_states[r.node][r.key] = r.value
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
    """Whether write ``w`` is in a node's final ``state``; ``None`` when reads cannot tell."""
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
        if last is not None and last.comp is not None and last.comp < w.inv:
            # w was ordered after the write that is still there: it is gone.
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
