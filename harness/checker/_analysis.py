"""The shared first pass of the checker: from ops to writes, reads, epochs and final states.

Every property reads the same :class:`Analysis`, built once so that a million-op history is
judged in a few seconds. Nothing here decides a verdict.

How it stays fast (docs/perf-checker.md has the figures): the writes and reads are kept as
*columns* — one list per field, position ``i`` being the ``i``-th write (or read) invoked —
built by a single pairing loop and list comprehensions, never as one Python object per
operation. Properties scan the columns; :class:`Write` and :class:`Read` objects are built
only when asked for (``Analysis.writes``, the report) or cited in a witness. Validation
that the reference implementation did op by op is done in bulk; when the bulk checks find
anything wrong, :func:`_raise_first_problem` replays the ops one by one to raise exactly
the first problem, with the same message as ever. Presence in a node's final state is
judged per key for all of the key's writes at once.
"""

from __future__ import annotations

import bisect
import math
import operator
from array import array
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, compress, count, islice, repeat
from typing import Any, NamedTuple, cast

from harness.history import NEMESIS, OBSERVER, Columns, History, HistoryError, Op
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

    def __post_init__(self) -> None:
        """Refuse what would judge wrongly rather than fail: a mode that is not a
        :class:`Mode`, K < 1, times that are not whole non-negative nanoseconds."""
        if not isinstance(self.mode, Mode):
            raise ValueError(f"Params.mode must be a Mode (e.g. Mode.SYNC); got {self.mode!r}")
        if type(self.sync_replicas) is not int or self.sync_replicas < 1:
            raise ValueError(f"Params.sync_replicas must be an int ≥ 1; got {self.sync_replicas!r}")
        for name in ("sync_timeout", "lag_limit", "tolerance", "recovery"):
            v = getattr(self, name)
            if type(v) is not int or v < 0:
                raise ValueError(
                    f"Params.{name} must be a non-negative int of nanoseconds; got {v!r}"
                )


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


@dataclass(eq=False, kw_only=True)
class Analysis:
    """A history taken apart for the properties.

    Writes and reads are columns (``w_*``, ``r_*``): position ``i`` of every ``w_`` list is
    the ``i``-th write in invocation order. ``writes`` and ``reads`` give the same as
    objects, built on first use.
    """

    params: Params
    history: History
    t0: int
    t_end: int  # time of the last op
    # -- writes, column by column ------------------------------------------------------
    # (w_index, w_cidx and w_process, which only witnesses cite, are built on first use
    # from the op positions w_at and w_done.)
    w_at: list[int]  # the position of the invoke op in the history
    w_done: list[int]  # the position of the completion op; -1: never completed
    w_workload: list[str]
    w_key: list[str]
    w_value: list[Any]
    w_inv: list[int]
    w_comp: list[int | None]
    w_type: list[str]  # ok | fail | info (never completed: info)
    w_error: list[str | None]
    w_node: list[str | None]
    w_epoch: list[int | None]
    w_primary: list[str | None]  # the node that applied it, when known
    w_present: list[bool | None]  # in the judged final state? None: cannot tell
    # -- reads, column by column (r_index, r_cidx, r_process, r_inv: on first use) -------
    r_at: list[int]
    r_done: list[int]
    r_workload: list[str]
    r_key: list[str]
    r_value: list[Any]
    r_comp: list[int | None]
    r_type: list[str]
    r_node: list[str | None]
    r_final: list[Any]
    # -- the rest ------------------------------------------------------------------------
    lag_obs: list[tuple[int, int, int, str | None, int]]  # (inv, comp, ms, node, index)
    nemesis_fs: list[str]  # f of every nemesis invocation, in order
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
    by_key: dict[str, dict[Any, int]]  # key -> {value: position} of its writes
    pow2_keys: set[str]
    errors: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)  # shared intermediate results

    def _column(self, name: str, col: int, at: list[int], done: bool = False) -> list[Any]:
        """Field ``col`` of the ops at positions ``at`` (``-1``: ``None``), built once."""
        out: list[Any] | None = self.cache.get(name)
        if out is None:
            ops = self.history.columns()[col]
            out = self.cache[name] = (
                [None if j < 0 else ops[j] for j in at] if done else _gather(ops, at)
            )
        return out

    @property
    def w_index(self) -> list[int]:
        """The invoke op's index: a write's identity in witnesses."""
        return self._column("w_index", 0, self.w_at)

    @property
    def w_cidx(self) -> list[int | None]:
        """The completion op's index (``None``: never completed)."""
        return self._column("w_cidx", 0, self.w_done, done=True)

    @property
    def w_process(self) -> list[Any]:
        return self._column("w_process", 2, self.w_at)

    @property
    def r_index(self) -> list[int]:
        return self._column("r_index", 0, self.r_at)

    @property
    def r_cidx(self) -> list[int | None]:
        return self._column("r_cidx", 0, self.r_done, done=True)

    @property
    def r_process(self) -> list[Any]:
        return self._column("r_process", 2, self.r_at)

    @property
    def r_inv(self) -> list[int]:
        return self._column("r_inv", 1, self.r_at)

    def seconds(self, t: int | None) -> float | None:
        return None if t is None else round((t - self.t0) / SECOND, 6)

    def knowledge_at(self, t: int) -> Knowledge:
        """Knowledge including every effect that began at or before ``t``."""
        return self.knowledge[bisect.bisect_right(self.effect_starts, t)]

    def write(self, i: int) -> Write:
        """The ``i``-th write as an object."""
        index, _t, process = self.history.columns()[:3]
        c = self.w_done[i]
        return Write(
            index[self.w_at[i]],
            None if c < 0 else index[c],
            process[self.w_at[i]],
            self.w_workload[i],
            self.w_key[i],
            self.w_value[i],
            self.w_inv[i],
            self.w_comp[i],
            self.w_type[i],
            self.w_error[i],
            self.w_node[i],
            self.w_epoch[i],
            self.w_primary[i],
            self.w_present[i],
        )

    def write_ops(self, i: int) -> list[int]:
        """The op indices of the ``i``-th write: its invocation and completion."""
        index = self.history.columns()[0]
        c = self.w_done[i]
        return [index[self.w_at[i]]] if c < 0 else [index[self.w_at[i]], index[c]]

    @property
    def writes(self) -> list[Write]:
        """Every write as an object, in invocation order (built once, on first use)."""
        out: list[Write] | None = self.cache.get("writes")
        if out is None:
            out = self.cache["writes"] = [self.write(i) for i in range(len(self.w_at))]
        return out

    @property
    def reads(self) -> list[Read]:
        """Every read as an object, in invocation order (built once, on first use)."""
        out: list[Read] | None = self.cache.get("reads")
        if out is None:
            out = self.cache["reads"] = [
                Read(*fields)
                for fields in zip(
                    self.r_index,
                    self.r_cidx,
                    self.r_process,
                    self.r_workload,
                    self.r_key,
                    self.r_value,
                    self.r_inv,
                    self.r_comp,
                    self.r_type,
                    self.r_node,
                    self.r_final,
                    strict=True,
                )
            ]
        return out


def _topology(history: History, mode_nodes: set[str]) -> tuple[dict[str, str], str | None]:
    topo = history.header.topology
    if topo:
        azs = {n["name"]: n["az"] for n in topo["nodes"]}
        primary = topo.get("primary") or (topo["nodes"][0]["name"] if topo["nodes"] else None)
        return azs, primary
    # No topology: every node we saw, each in its own AZ, the first one primary.
    names = sorted(mode_nodes)
    return {n: n for n in names}, (names[0] if names else None)


# -- pairing ----------------------------------------------------------------------------------
#
# Each process runs one operation at a time: its invocation is completed by its next op
# (docs/history.md). The fast path pairs in one loop that does nothing else and leaves every
# check to bulk passes over the columns; the slow path below says what is wrong, op by op.


# The processes named by a string (docs/history.md); a client is named by an int.
_NAMED = frozenset({NEMESIS, OBSERVER})


def _raise_first_problem(ops: tuple[Op, ...], source: str) -> None:
    """Raise the ``HistoryError`` for the first op (in order) that cannot be analysed."""
    open_ops: dict[Any, Op] = {}
    written: dict[tuple[str, Any], int] = {}
    for op in ops:
        p = op.process
        if op.type == "invoke":
            if p in open_ops:
                prev = open_ops[p]
                raise HistoryError(
                    f"{source}: op {op.index}: process {p!r} invokes again while op "
                    f"{prev.index} is still open; complete it (ok/fail/info) first or use a "
                    "new process id"
                )
            f = op.f
            if (f == "write" or f == "read") and type(p) is not int and p not in _NAMED:
                raise HistoryError(
                    f"{source}: op {op.index}: a {f} by process {p!r}: a client's process is "
                    "an int (docs/history.md); number the clients 0, 1, 2, ..."
                )
            if type(p) is int and (f == "write" or f == "read"):
                if op.workload is None or op.key is None:
                    raise HistoryError(f"{source}: op {op.index}: a {f} needs 'workload' and 'key'")
                if f == "write":
                    ident = (op.key, op.value)
                    if ident in written:
                        raise HistoryError(
                            f"{source}: op {op.index}: value {op.value!r} was already "
                            f"written to {op.key!r} by op {written[ident]}; every "
                            "write needs a unique value"
                        )
                    written[ident] = op.index
                    if op.workload == "counter" and type(op.value) is not int:
                        raise HistoryError(
                            f"{source}: op {op.index}: a counter write's value is an int delta"
                        )
            open_ops[p] = op
            continue
        inv = open_ops.pop(p, None)
        if inv is None:
            raise HistoryError(
                f"{source}: op {op.index}: {op.type} completion by process {p!r} has no "
                "invocation before it; add the invoke line"
            )
        if inv.f != op.f:
            raise HistoryError(
                f"{source}: op {op.index}: completion f={op.f!r} does not match its "
                f"invocation (op {inv.index}, f={inv.f!r})"
            )


class _Paired(NamedTuple):
    """Where each client write, client read and other operation is in the history: the
    positions of its invocation and of its completion (``-1``: never completed)."""

    w_at: list[int]
    w_done: list[int]
    r_at: list[int]
    r_done: list[int]
    o_at: list[int]
    o_done: list[int]


def _gather(col: Sequence[Any], at: Iterable[int]) -> list[Any]:
    return list(map(col.__getitem__, at))


def _pair(cols: Columns) -> _Paired | None:
    """Pair every invocation with its completion, and sort the operations into client
    writes, client reads and the rest.

    ``None`` when a process invokes twice, completes what it never invoked, or completes
    with another ``f`` (:func:`_raise_first_problem` then says which op).

    The one loop over every op, kept to what cannot be done in bulk: the dictionary of
    open operations, and the sorting of each invocation as it comes (a client is a process
    named by an int).
    """
    process, types, fs = cols[2], cols[3], cols[4]
    # Positions stay raw 64-bit ints until the loop is done, so that each list's int
    # objects are made together, in order: a later pass over the reads' positions then
    # reads a stretch of memory of its own, rather than every page of the million ints
    # that the loop would otherwise have made in the order of the ops.
    comp_of = array("q", (-1,)) * len(process)  # the position of each invocation's completion
    open_ops: dict[Any, int] = {}
    opened = open_ops.setdefault
    close = open_ops.pop
    writes = array("q")
    reads = array("q")
    others = array("q")
    write, read, other = writes.append, reads.append, others.append
    for i, p, t, f in zip(count(), process, types, fs):
        if t == "invoke":
            if opened(p, i) != i:
                return None
            if f == "write" and type(p) is int:
                write(i)
            elif f == "read" and type(p) is int:
                read(i)
            else:
                other(i)
        else:
            j = close(p, -1)
            if j < 0 or fs[j] != f:
                return None
            comp_of[j] = i
    return _Paired(
        writes.tolist(),
        _gather(comp_of, writes),
        reads.tolist(),
        _gather(comp_of, reads),
        others.tolist(),
        _gather(comp_of, others),
    )


def _completed(
    col: Sequence[Any], done: list[int], open_: list[int], blank: Any = None
) -> list[Any]:
    """Field ``col`` of each completion at ``done``; ``blank`` for the operations at
    ``open_`` (never completed: their ``done`` is -1)."""
    out = _gather(col, done)
    for k in open_:
        out[k] = blank
    return out


def _never_completed(done: list[int]) -> list[int]:
    return list(compress(count(), map(operator.lt, done, repeat(0))))


def _answered_by(
    nodes: list[str | None], at: list[int], done: list[int], open_: list[int]
) -> list[str | None]:
    """The node that answered each operation (invoked at ``at``, completed at ``done``): the
    completion's when it names one, else the invocation's (gathered only when needed)."""
    completion = _completed(nodes, done, open_)
    named = len(completion) - completion.count(None)
    if named == len(completion):
        return completion
    invocation = _gather(nodes, at)
    if named == 0:
        return invocation
    return [i if c is None else c for c, i in zip(completion, invocation, strict=True)]


def _op_at(cols: Columns, j: int) -> Op:
    return Op._make([col[j] for col in cols])


def analyse(history: History, params: Params, source: str = "<history>") -> Analysis:
    """Build the :class:`Analysis` of ``history``; raises ``HistoryError`` on malformed ops."""
    cols = history.columns()
    times = cols[1]
    t0 = times[0] if times else 0
    pc = _pair(cols)
    if pc is None:
        _raise_first_problem(history.ops, source)
        raise AssertionError("unpaired ops, yet no problem found")  # pragma: no cover
    _, _, _, op_type, _, op_workload, op_key, op_value, op_error, op_node, op_final = cols
    w_at, w_done, r_at, r_done = pc.w_at, pc.w_done, pc.r_at, pc.r_done
    w_workload: list[str] = _gather(op_workload, w_at)
    w_key: list[str] = _gather(op_key, w_at)
    w_value = _gather(op_value, w_at)
    r_workload: list[str] = _gather(op_workload, r_at)
    r_key: list[str] = _gather(op_key, r_at)
    # What the op loop of the reference checked op by op, in bulk: a client write or read
    # has a workload and a key; no two writes of a key share a value; a counter's is an int.
    ok = None not in w_workload and None not in w_key
    ok = ok and None not in r_workload and None not in r_key
    by_key: dict[str, dict[Any, int]] = defaultdict(dict)
    is_counter: list[bool] = []
    if ok:
        try:  # by_key[key][value] = position, for every write, in one C-level pass
            deque(map(dict.__setitem__, map(by_key.__getitem__, w_key), w_value, count()), maxlen=0)
        except TypeError:  # an unhashable value: replay to fail exactly where the op loop does
            ok = False
        ok = ok and sum(map(len, by_key.values())) == len(w_key)
        is_counter = list(map(operator.eq, w_workload, repeat("counter")))
        ok = ok and {int}.issuperset(map(type, compress(w_value, is_counter)))
    if not ok:
        _raise_first_problem(history.ops, source)
        raise AssertionError("bulk checks failed, yet no problem found")  # pragma: no cover
    by_key = dict(by_key)
    w_inv = _gather(times, w_at)
    w_open, r_open = _never_completed(w_done), _never_completed(r_done)
    w_node = _answered_by(op_node, w_at, w_done, w_open)
    w_comp = _completed(times, w_done, w_open)
    w_type = _completed(op_type, w_done, w_open, "info")
    w_error = _completed(op_error, w_done, w_open)
    r_node = _answered_by(op_node, r_at, r_done, r_open)
    r_comp = _completed(times, r_done, r_open)
    r_type = _completed(op_type, r_done, r_open, "info")
    r_value = _completed(op_value, r_done, r_open)
    r_final = list(
        map(operator.or_, _gather(op_final, r_at), _completed(op_final, r_done, r_open, False))
    )

    # -- everything else: faults and lag observations --
    nemesis: list[tuple[Op, Op | None]] = []
    lag_obs: list[tuple[int, int, int, str | None, int]] = []
    for j, d in zip(pc.o_at, pc.o_done, strict=True):
        inv = _op_at(cols, j)
        done = None if d < 0 else _op_at(cols, d)
        p = inv.process
        if (inv.f == "write" or inv.f == "read") and p not in _NAMED:  # a client not an int
            _raise_first_problem(history.ops, source)
            raise AssertionError("a client op by a named process, yet no problem found")
        if p == NEMESIS:
            nemesis.append((inv, done))
        elif (
            done is not None
            and p == OBSERVER
            and done.f == "lag"
            and done.type == "ok"
            and type(done.value) is int
        ):
            lag_obs.append((inv.time, done.time, done.value, done.node or inv.node, inv.index))

    seen_nodes = {n for n in set(w_node) | set(r_node) if n is not None}

    deltas: dict[str, list[int]] = defaultdict(list)
    deque(
        map(
            list.append,
            map(deltas.__getitem__, compress(w_key, is_counter)),
            compress(w_value, is_counter),
        ),
        maxlen=0,
    )
    pow2_keys = {key for key, ds in deltas.items() if _distinct_powers_of_two(ds)}
    # A counter read of a key nobody incremented must read 0 (any bit would be a phantom).
    pow2_keys |= set(compress(r_key, map(operator.eq, r_workload, repeat("counter")))) - set(deltas)

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
    touched = _last_touched(effects)
    # Nodes read alike at the end: where a final value is identical to one already read of
    # its key, keep one object, so that what is worked out for one holds for all at once.
    first_read: dict[str, Any] = {}
    for j in compress(count(), r_final):
        if r_type[j] == "ok":
            node, key, v = r_node[j], r_key[j], r_value[j]
            if times[r_at[j]] < touched.get(node, _BEFORE_ALL):
                continue  # an effect on its node ended after it began: not the final state
            seen = first_read.setdefault(key, v)
            if seen is not v and _identical(seen, v):
                r_value[j] = v = seen
            final_states[node][key] = v
            final_starts[node][key] = times[r_at[j]]
    final_primary = knowledge[-1].primary if knowledge else None

    n_writes = len(w_at)
    a = Analysis(
        params=params,
        history=history,
        t0=t0,
        t_end=times[-1] if times else 0,
        w_at=w_at,
        w_done=w_done,
        w_workload=w_workload,
        w_key=w_key,
        w_value=w_value,
        w_inv=w_inv,
        w_comp=w_comp,
        w_type=w_type,
        w_error=w_error,
        w_node=w_node,
        w_epoch=[None] * n_writes,
        w_primary=[None] * n_writes,
        w_present=[None] * n_writes,
        r_at=r_at,
        r_done=r_done,
        r_workload=r_workload,
        r_key=r_key,
        r_value=r_value,
        r_comp=r_comp,
        r_type=r_type,
        r_node=r_node,
        r_final=r_final,
        lag_obs=lag_obs,
        nemesis_fs=[inv.f for inv, _c in nemesis],
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
        by_key=by_key,
        pow2_keys=pow2_keys,
    )
    _assign_epochs(a)
    _judge_presence(a)
    return a


def _distinct_powers_of_two(ds: list[int]) -> bool:
    """Whether the deltas are distinct powers of two (so that a sum shows which were added)."""
    return (
        min(ds) > 0
        and not any(map(operator.and_, ds, map(operator.sub, ds, repeat(1))))
        and len(set(ds)) == len(ds)
    )


_BEFORE_ALL = -(2**63)


def _last_touched(effects: Sequence[TimedEffect]) -> dict[str | None, int]:
    """node -> when the last effect naming it ended; ``None`` -> when the last effect of
    all ended (for reads that name no node). A final read begun before then does not say
    what the node holds at the end: a promotion, a data loss or a resync may have changed
    it since."""
    out: dict[str | None, int] = {}
    for te in effects:
        for n in (*_effect_nodes(te.effect), None):
            if te.end > out.get(n, _BEFORE_ALL):
                out[n] = te.end
    return out


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
    last = len(ks) - 1

    def epoch_and_primary(
        s_inv: int, node: str | None, s_end: int
    ) -> tuple[int | None, str | None]:
        k = ks[s_inv]
        if node is None:
            # Sent to "the primary": if the primary changed while it was in flight, it may
            # have landed on either, so neither its epoch nor its node is known.
            return (None, None) if ks[s_end].epoch != k.epoch else (k.epoch, k.primary)
        if node == k.primary:
            return k.epoch, k.primary
        eps = [e for e in epochs_of_node.get(node, ()) if e <= k.epoch]
        return (eps[-1], node) if eps else (None, node)

    # The answer depends only on the snapshots at invocation (and, for a write sent to no
    # node in particular, completion) and the node: worked out once per combination.
    snaps = _snaps(a)
    if None not in a.w_node:
        # By node, a table from snapshot to answer; each write looks its answer up.
        tables = {
            node: [epoch_and_primary(s, node, -1) for s in range(len(ks))] for node in set(a.w_node)
        }
        got = list(map(operator.getitem, map(tables.__getitem__, a.w_node), snaps))
    else:
        ends = [
            -1 if node is not None else (br(starts, comp) if comp is not None else last)
            for node, comp in zip(a.w_node, a.w_comp, strict=True)
        ]
        combos = list(zip(snaps, a.w_node, ends, strict=True))
        memo = {c: epoch_and_primary(*c) for c in set(combos)}
        got = list(map(memo.__getitem__, combos))
    a.w_epoch = list(map(operator.itemgetter(0), got))
    a.w_primary = list(map(operator.itemgetter(1), got))
    _unknown_epoch_across_changes(a)


def _unknown_epoch_across_changes(a: Analysis) -> None:
    """A write in flight while its lineage changed belongs to no epoch we can name.

    An effect that starts a new epoch (a failover, a primary that lost its data serving
    again) took place at some instant of its fault's interval: a write whose own interval
    overlaps it may have been applied before or after — by the old lineage or the new.
    """
    spans = [
        (te.start, te.end)
        for i, te in enumerate(a.effects)
        if a.knowledge[i + 1].epoch != a.knowledge[i].epoch
    ]
    if not spans:
        return
    epochs = a.w_epoch
    if invs_sorted(a):
        for i in _overlapping(a, spans):
            epochs[i] = None
        return
    starts = [s for s, _e in spans]
    max_end: list[int] = []
    m = -(1 << 62)
    for _s, e in spans:
        m = max(m, e)
        max_end.append(m)
    horizon = a.t_end
    br = bisect.bisect_right
    for i, (inv, comp) in enumerate(zip(a.w_inv, a.w_comp, strict=True)):
        if epochs[i] is None:
            continue
        j = br(starts, horizon if comp is None else comp) - 1
        if j >= 0 and max_end[j] >= inv:
            epochs[i] = None


def _overlapping(a: Analysis, spans: list[tuple[int, int]]) -> set[int]:
    """Positions of the writes whose interval (invocation to completion, or to the end of
    the history) overlaps one of ``spans``; the writes' invocations must be in order.

    A span ``(s, e)`` is overlapped by the writes invoked by ``e`` and completed at or
    after ``s`` (or never): those invoked at most the longest latency of any completed
    write before ``s``, or never completed.
    """
    inv, comp = a.w_inv, a.w_comp
    never: list[int] = []
    if None in comp:
        completed = list(map(operator.is_not, comp, repeat(None)))
        done_comp, done_inv = compress(comp, completed), compress(inv, completed)
        longest = max(map(operator.sub, done_comp, done_inv), default=0)
        never = list(compress(count(), map(operator.not_, completed)))
    else:
        longest = max(map(operator.sub, comp, inv), default=0)
    out: set[int] = set()
    for s, e in spans:
        candidates = range(bisect.bisect_left(inv, s - longest), bisect.bisect_right(inv, e))
        out.update(i for i in candidates if (c := comp[i]) is None or c >= s)
        out.update(i for i in never if inv[i] <= e)
    return out


def snapshot_ends(a: Analysis) -> list[int] | None:
    """When invocations and effect starts are both in time order: for each knowledge
    snapshot ``s``, the position after its last write, so that the writes invoked in
    snapshot ``s`` are those from ``ends[s - 1]`` (0 for the first) up to ``ends[s]``.
    ``None`` otherwise."""
    if "snapshot_ends" not in a.cache:
        starts, w_inv = a.effect_starts, a.w_inv
        ends: list[int] | None = None
        if invs_sorted(a) and all(map(operator.le, starts, islice(starts, 1, None))):
            # Snapshot k covers the writes invoked from start k-1 on and before start k.
            ends = []
            done = 0
            for start in starts:
                done = bisect.bisect_left(w_inv, start, done)
                ends.append(done)
            ends.append(len(w_inv))
        a.cache["snapshot_ends"] = ends
    got: list[int] | None = a.cache["snapshot_ends"]
    return got


def _snaps(a: Analysis) -> list[int]:
    """For each write, the knowledge snapshot at its invocation (``a.knowledge[s]``)."""
    cached: list[int] | None = a.cache.get("snaps")
    if cached is None:
        ends = snapshot_ends(a)
        if ends is not None:
            cached = []
            done = 0
            for k, upto in enumerate(ends):
                cached.extend(repeat(k, upto - done))
                done = upto
        else:
            cached = list(map(partial(bisect.bisect_right, a.effect_starts), a.w_inv))
        a.cache["snaps"] = cached
    return cached


# -- presence -------------------------------------------------------------------------------
#
# Whether a write is in a node's final state (None: the reads cannot tell):
# - list, set: the final read of its key is a list that holds its value;
# - counter: the key's deltas are distinct powers of two and the final int has its bit;
# - register: the final value is its value (present); or was written by a write completed
#   before it was invoked (absent: it was overwritten, or lost); null is absent.


def key_workloads(a: Analysis) -> dict[str, str | None]:
    """key -> the workload of all its writes (``None`` for a key written by several)."""
    cached: dict[str, str | None] | None = a.cache.get("key_workloads")
    if cached is None:
        last: dict[str, str | None] = dict(zip(a.w_key, a.w_workload, strict=True))
        if list(map(last.__getitem__, a.w_key)) == a.w_workload:
            cached = last  # every key written by one workload (the usual case)
        else:
            cached = {}
            for key, wl in set(zip(a.w_key, a.w_workload, strict=True)):
                cached[key] = wl if key not in cached else None
        a.cache["key_workloads"] = cached
    return cached


def invs_sorted(a: Analysis) -> bool:
    """Whether the writes' invocation times never decrease (as in any recorded history)."""
    cached: bool | None = a.cache.get("invs_sorted")
    if cached is None:
        inv = a.w_inv
        cached = a.cache["invs_sorted"] = all(map(operator.le, inv, islice(inv, 1, None)))
    return cached


_ABSENT = object()
_PLAIN = frozenset((str, int, bool))
_SCALARS = frozenset((str, int, bool, float, type(None)))


def _identical(x: Any, y: Any) -> bool:
    """Whether ``x`` and ``y`` are the same JSON value, down to the types of their items
    (so that either may stand for the other anywhere, witnesses included)."""
    tx = type(x)
    if tx is not type(y) or x != y:
        return False
    if tx is list:
        types = list(map(type, x))
        return _SCALARS.issuperset(types) and types == list(map(type, y))
    return tx in _SCALARS


def item_positions(a: Analysis, key: str, v: Any, items: list[Any]) -> list[int | None] | None:
    """The position of the write of ``key`` whose value each of ``items`` (those of read
    value ``v``) is, or ``None`` for an item nobody wrote; ``None`` when an item cannot be
    looked up. Worked out once per read value object."""
    memo: dict[tuple[int, str], tuple[Any, list[int | None] | None]] = a.cache.setdefault(
        "positions", {}
    )
    hit = memo.get((id(v), key))
    if hit is not None and hit[0] is v:
        return hit[1]
    try:
        got: list[int | None] | None = list(map(a.by_key.get(key, {}).get, items))
    except TypeError:  # unhashable
        got = None
    memo[(id(v), key)] = (v, got)
    return got


def _same_answer(x: Any, y: Any) -> bool:
    """Whether final values ``x`` and ``y`` (``_ABSENT``: not read) say the same of every
    write: equal, of the same type and, for lists, with items of the same types (presence
    looks at a list's str and int items only, and 1 == 1.0)."""
    if x is y:
        return True
    if type(x) is not type(y) or x != y:
        return False
    return type(x) is not list or list(map(type, x)) == list(map(type, y))


def _scatter(out: list[Any], positions: Iterable[int], values: Any) -> None:
    deque(map(out.__setitem__, positions, values), maxlen=0)


def _writes_of(a: Analysis, key: str, wl: str) -> list[int]:
    """Positions of the writes of ``key`` in workload ``wl``."""
    of_key = a.by_key.get(key, {}).values()
    if key_workloads(a).get(key) == wl:
        return list(of_key)
    w_workload = a.w_workload
    return [i for i in of_key if w_workload[i] == wl]


_NEVER = math.inf  # a time after every other (a completion that never came)
_GONE_IF_TRUE: tuple[None, bool] = (None, False)


class _Rule(NamedTuple):
    """What a node's final value of a key says of the key's writes (of one workload):
    ``default`` for each of them, but present for those at ``held``, and — for a counter
    whose deltas are distinct powers of two — present iff its bit is in ``bits``, or — for
    a register — absent if invoked after ``holder_done``, when the write whose value the
    register holds was acknowledged. A write it finds absent that was acknowledged at or
    after ``read_start`` (or never), when the final read began, cannot tell: it may have
    been applied after the read."""

    default: bool | None
    held: list[int]
    bits: int | None = None
    holder_done: float | None = None
    read_start: int | None = None


_CANNOT_TELL = _Rule(None, [])


def _rule(a: Analysis, state: Mapping[str, Any], key: str, wl: str) -> _Rule:
    """The :class:`_Rule` for the writes of ``key`` (workload ``wl``) in a final ``state``:
    a list or set holds the writes whose values are its items; a counter, those whose bit
    its sum has; a register, the write whose value it holds (an empty one: none), and a
    write invoked after that one completed was overwritten or lost."""
    if key not in state:
        return _CANNOT_TELL
    v = state[key]
    of_key = a.by_key.get(key, {})
    if wl == "list" or wl == "set":
        if not isinstance(v, list):
            return _CANNOT_TELL
        if _PLAIN.issuperset(map(type, v)):
            # Looked up once per read value: final reads of nodes that agree share it.
            got = item_positions(a, key, v, v)
            assert got is not None  # str, int and bool are hashable
        else:
            got = list(map(of_key.get, [x for x in v if isinstance(x, str | int)]))
        held = [i for i in got if i is not None]
        if key_workloads(a)[key] is None:  # written by several workloads: this one's only
            held = [i for i in held if a.w_workload[i] == wl]
        return _Rule(False, held)
    if wl == "counter":
        if key not in a.pow2_keys or not isinstance(v, int):
            return _CANNOT_TELL
        return _Rule(None, [], bits=v)
    if wl == "register":
        if v is None:
            return _Rule(False, [])
        try:
            last = of_key.get(v)
        except TypeError:  # unhashable: no write had that value
            last = None
        if last is None:
            return _CANNOT_TELL
        # Only an acknowledgement says by when a write was applied: one that timed out (or
        # was refused) may have been applied at any time, after every other write too.
        done = a.w_comp[last] if a.w_type[last] == "ok" else None
        held = [last] if a.w_workload[last] == wl else []
        return _Rule(None, held, holder_done=_NEVER if done is None else done)
    return _CANNOT_TELL


def _apply(a: Analysis, out: list[bool | None], rules: dict[str, _Rule], at: Sequence[int]) -> None:
    """Answer the writes at positions ``at`` (all of them, when ``at`` covers every write)
    by the rules of their keys, in passes over them in order."""
    every = len(at) == len(out)
    keys = a.w_key if every else _gather(a.w_key, at)
    defaults = map({k: r.default for k, r in rules.items()}.__getitem__, keys)
    if every:
        out[:] = defaults
    else:
        _scatter(out, at, defaults)
    bits = {k: r.bits for k, r in rules.items() if r.bits is not None}
    if bits:
        sel = list(map(bits.__contains__, keys))
        on = list(compress(at, sel))
        finals = map(bits.__getitem__, compress(keys, sel))
        _scatter(out, on, map(bool, map(operator.and_, finals, map(a.w_value.__getitem__, on))))
    holder_done = {k: r.holder_done for k, r in rules.items() if r.holder_done is not None}
    if holder_done:
        # Written after the write whose value is still there completed: gone (it was
        # overwritten, or lost); before: cannot tell.
        sel = list(map(holder_done.__contains__, keys))
        on = list(compress(at, sel))
        dones = map(holder_done.__getitem__, compress(keys, sel))
        after = map(operator.lt, dones, map(a.w_inv.__getitem__, on))
        _scatter(out, on, map(_GONE_IF_TRUE.__getitem__, after))
    for r in rules.values():
        _scatter(out, r.held, repeat(True))
    late = {k: r.read_start for k, r in rules.items() if r.read_start is not None}
    if late:
        comp = a.w_comp
        for i, key in zip(at, keys, strict=True):
            if out[i] is False and key in late and ((c := comp[i]) is None or c >= late[key]):
                out[i] = None


def presence_column(
    a: Analysis,
    state: Mapping[str, Any],
    like: tuple[Mapping[str, Any], list[bool | None]] | None = None,
    starts: Mapping[str, int] | None = None,
) -> list[bool | None]:
    """Presence of every write in a node's final ``state`` (see :func:`presence`).

    What a key's final value says is worked out once per (key, workload) (:func:`_rule`),
    then applied to the writes in passes over them in order (:func:`_apply`). ``like``:
    another node's final state and its column; the writes of a key both nodes read alike
    (:func:`_same_answer`) are taken from it rather than worked out again. ``starts``: when
    each key's final read began, if a write may have been acknowledged after it (then
    ``like`` must be ``None``: reads alike at other times need not say the same).
    """

    def rule(key: str, wl: str) -> _Rule:
        r = _rule(a, state, key, wl)
        return r if starts is None or key not in starts else r._replace(read_start=starts[key])

    kinds = key_workloads(a)
    if like is None:
        out: list[bool | None] = [None] * len(a.w_key)
        todo = kinds
    else:
        out = like[1].copy()
        todo = {
            key: wl
            for key, wl in kinds.items()
            if not _same_answer(state.get(key, _ABSENT), like[0].get(key, _ABSENT))
        }
    rules = {key: rule(key, wl) for key, wl in todo.items() if wl is not None}
    if rules:
        every = like is None and len(rules) == len(kinds)
        _apply(a, out, rules, range(len(out)) if every else _positions_of(a, rules))
    w_workload = a.w_workload
    for key, wl in todo.items():
        if wl is None:  # written by several workloads: a rule for each
            for w in {w_workload[i] for i in a.by_key[key].values()}:
                _apply(a, out, {key: rule(key, w)}, _writes_of(a, key, w))
    return out


def _positions_of(a: Analysis, keys: Mapping[str, Any]) -> list[int]:
    """Positions of the writes of ``keys``, in order."""
    return sorted(chain.from_iterable(a.by_key[k].values() for k in keys))


def presence(a: Analysis, state: Mapping[str, Any], i: int) -> bool | None:
    """Whether the ``i``-th write is in a node's final ``state``; ``None`` when reads cannot
    tell."""
    return _presence_of_node(a, state)[i]


def _presence_of_node(a: Analysis, state: Mapping[str, Any]) -> list[bool | None]:
    """:func:`presence_column`, once per state; each after the first like the first, unless
    a write may have been acknowledged after one of their final reads began."""
    memo: dict[int, tuple[Mapping[str, Any], list[bool | None], bool]] = a.cache.setdefault(
        "presence", {}
    )
    hit = memo.get(id(state))
    if hit is not None and hit[0] is state:
        return hit[1]
    starts = _late_starts(a, state)
    like = None
    if starts is None:
        like = next(((st, col) for st, col, timely in memo.values() if timely), None)
    col = presence_column(a, state, like, starts)
    memo[id(state)] = (state, col, starts is None)
    return col


def _late_starts(a: Analysis, state: Mapping[str, Any]) -> Mapping[str, int] | None:
    """When the final reads of ``state`` began, if some write may have been acknowledged
    after one of them began (or never); ``None`` when every write was acknowledged first,
    as in every real run, which reads after the last write."""
    starts = next((a.final_starts[n] for n, st in a.final_states.items() if st is state), None)
    if not starts:
        return None
    latest: float | None = a.cache.get("latest_done")
    if latest is None:
        done = a.w_comp
        latest = _NEVER if None in done else max(cast("list[int]", done), default=-1)
        a.cache["latest_done"] = latest
    return starts if latest >= min(starts.values()) else None


def _judge_presence(a: Analysis) -> None:
    """Set the writes' presence from the final reads of the final primary."""
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
    a.w_present = _presence_of_node(a, state)


# -- holders ----------------------------------------------------------------------------------


def _ackers_at(a: Analysis, t: int, primary: str, start: int) -> frozenset[str]:
    """``a.knowledge_at(t).possible_ackers(primary, start)``, memoised.

    The answer depends on ``start`` only through which replicas' ``blocked_since`` lie
    after it, so it is worked out once per snapshot, primary and rank of ``start`` among
    those times.
    """
    snap = bisect.bisect_right(a.effect_starts, t)
    memo: dict[tuple[int, str], list[int]] = a.cache.setdefault("acker_times", {})
    times = memo.get((snap, primary))
    k = a.knowledge[snap]
    if times is None:
        times = memo[(snap, primary)] = sorted(
            {s for r in k.eligible(primary) if (s := k.blocked_since(r, primary)) is not None}
        )
    rank = bisect.bisect_right(times, start)  # may have acked: blocked since after start
    answers: dict[tuple[int, str, int], frozenset[str]] = a.cache.setdefault("ackers", {})
    got = answers.get((snap, primary, rank))
    if got is None:
        got = answers[(snap, primary, rank)] = k.possible_ackers(primary, start)
    return got


def holders_for(a: Analysis, i: int) -> Holders:
    """Holders of the ``i``-th write (acknowledged) right after its acknowledgement."""
    comp = a.w_comp[i]
    assert comp is not None
    p = a.params
    primary = a.w_primary[i]
    ackers: frozenset[str] = frozenset()
    if p.mode is Mode.SYNC and primary is not None:
        ackers = _ackers_at(a, comp, primary, a.w_inv[i])
    return Holders.at_ack(
        primary=primary, mode=p.mode, sync_replicas=p.sync_replicas, ackers=ackers
    )


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

    def first_after(self, i: int) -> tuple[int, int]:
        """For the ``i``-th write: the first effect that may follow its apply, and the
        first that surely follows its acknowledgement."""
        comp = self.a.w_comp[i]
        assert comp is not None
        i_loss = bisect.bisect_right(self.max_end, self.a.w_inv[i])
        i_gain = bisect.bisect_left(self.a.effect_starts, comp)
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
