"""Trace validation: is a recorded run a behaviour of the TLA+ spec?

``ackbound spec validate`` reads a history (docs/history.md), turns it into the constants of
``specs/DurabilityTrace.tla`` and asks TLC whether some behaviour of ``Durability`` produces
exactly the observed events, with everything the harness cannot see (replication,
acknowledgements, clock ticks, the completion of sync writes) existentially quantified.

How a history becomes a trace (specs/README.md, "Trace validation", has the full table):

- **Events.** Every operation the spec has a counterpart for is an interval: an ``open``
  event at its invocation and a closing event at its completion. The spec action it stands
  for happens somewhere inside the interval (``DurabilityTrace!ApplyWrite``, ``Check``,
  ``NextStep``), so the order of the harness's recordings never forces an order on actions
  that overlapped in time.
- **Writes** are numbered in invocation order here (``Writes[h]``); the spec numbers them
  in the order they are applied, and ``hw`` maps one to the other. A write is applied on the
  node it was sent to, while that node is the primary. ``ok`` must be the spec's ``ok``;
  ``fail`` is the spec's clean rejection or a refusal the spec does not model (READONLY,
  LOADING, ...), never an applied write; ``info`` and a missing completion constrain nothing
  and leave the write free to be applied later (a request held by a cut link may be) — but
  for an ``info`` whose error says the write was applied (``SYNCTIMEOUT``, a WAIT that fell
  short: ``harness.history.applied_error``) in a calm window, which was applied by its
  completion (an ``applied`` event). A window is calm when every node is up, linked and in
  step with the primary as far as the trace knows, and no fault effect falls inside it: the
  spec cannot reject the write then, while a server that has not yet noticed a cut link
  may accept one the spec would reject (specs/README.md, "Limits").
- **Faults** map effect by effect: ``down``/``up`` → ``Crash``/``Restart``, ``lose-data`` then
  ``up`` → ``RestartWiped``, ``cut``/``heal-link`` between nodes → ``Cut``/``Heal``,
  ``promote`` → ``Failover`` (after a ``Crash`` of the old primary when it was still
  running), ``replicate`` → the node may ``Rejoin`` from then on, ``synced`` → the node holds
  the primary's log. ``slow``/``fast`` and cuts of the ``client`` pseudo-node are invisible.
- **Time**, in async mode only, is quantised to ticks of ``lag_limit / TICKS_PER_LIMIT``; the
  spec's ``LagLimit`` is the lag limit plus the tolerance plus one tick of rounding. In sync
  and none modes no observation depends on the clock and it stays at 0.

A history the spec cannot speak about at all (a primary restarted without its data, a named
failover, no topology, ...) raises :class:`UnsupportedHistory` naming the op.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness._errors import AckboundError
from harness.history import History, Op, Pair, applied_error, pair_ops
from harness.spec._config import SPECS_FIX, default_specs_dir
from harness.spec._tlc import Tlc, TlcResult, run_tlc
from harness.spec._values import TlaSyntaxError, format_value, parse_value

__all__ = [
    "TICKS_PER_LIMIT",
    "Check",
    "Event",
    "Step",
    "TraceModel",
    "UnsupportedHistory",
    "Validation",
    "WriteSlot",
    "build_trace",
    "render_cfg",
    "render_module",
    "validate_history",
]

MS = 1_000_000
TICKS_PER_LIMIT = 4
"""Clock ticks per lag limit in async mode: finer catches smaller overruns, coarser is faster."""
DEFAULT_TOLERANCE_MS = 250
ANY_NODE = "*"
TLC_INT_MAX = 2**31 - 1
"""TLC's integers are 32-bit: a counter that may reach beyond cannot be validated."""
_BEYOND_TLC_INT = "counter {key!r} may reach beyond TLC's integers (2^31 - 1), which hold its sums"


class UnsupportedHistory(AckboundError):
    """The history holds something the spec has no counterpart for; the message names it."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """One observed event of the trace: ``kind`` is ``open``, ``ok``, ``applied``, ``check``
    or ``steps`` (see specs/DurabilityTrace.tla); ``x`` the write, check or step count it
    concerns; ``op`` the history op it comes from; ``text`` what happened, for reports."""

    kind: str
    tick: int
    x: int
    op: int
    text: str


@dataclass(frozen=True, kw_only=True)
class WriteSlot:
    """A client write: sent to ``node``, applied (if at all) between events ``start`` and
    ``end`` (1-based positions; ``end`` past the last event means never closed)."""

    node: str
    key: str
    value: str | int
    start: int
    end: int
    op: int


@dataclass(frozen=True, kw_only=True)
class Check:
    """A read (``kind`` the workload) or a lag observation (``kind`` ``lag``, bounds in
    ticks ``lo``..``hi``) that happened between events ``start`` and ``end``."""

    kind: str
    node: str
    key: str
    value: Any
    lo: int
    hi: int
    start: int
    end: int
    op: int


@dataclass(frozen=True, kw_only=True)
class Step:
    """A spec action a fault effect stands for (``act`` as in DurabilityTrace's Steps)."""

    act: str
    x: str
    y: str
    start: int
    end: int
    op: int

    def __str__(self) -> str:
        if self.act in ("Cut", "Heal"):
            return f"{self.act}({self.x}, {self.y})"
        return f"{self.act}({self.x})"


@dataclass(frozen=True, kw_only=True)
class TraceModel:
    """Everything TLC needs to validate one history: constants and the trace."""

    mode: str
    zones: tuple[tuple[str, ...], ...]
    nodes: tuple[str, ...]
    primary: str
    sync_replicas: int
    lag_limit: int
    sync_timeout: int
    max_time: int
    max_crashes: int
    cuttable: frozenset[frozenset[str]]
    tick_ns: int | None
    events: tuple[Event, ...]
    writes: tuple[WriteSlot, ...]
    checks: tuple[Check, ...]
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    total_events: int | None = None
    """Events of the whole history (``len(events)`` is fewer when a prefix was taken);
    ``None`` when the rest of the run is outside what the spec can judge."""

    @property
    def truncated(self) -> bool:
        return self.total_events is None or len(self.events) < self.total_events


# --------------------------------------------------------------------------------------
# From a history to a trace


def _value_text(v: Any) -> str:
    if isinstance(v, list | tuple):
        return "[" + " ".join(str(x) for x in v) + "]"
    if v is None:
        return "nil"
    return str(v)


def _printable(text: str) -> bool:
    """Whether ``text`` is printable ASCII, all the spec's strings hold."""
    return all(" " <= ch <= "~" for ch in text)


class _Builder:
    """One pass over the history in recorded order (see the module docstring)."""

    def __init__(self, history: History, source: str, ticks_per_limit: int) -> None:
        h = history.header
        self.source = source
        if not history.ops:
            raise UnsupportedHistory(
                f"{source}: the history holds no operations, so there is nothing to validate; "
                "pass the history.ndjson of a run"
            )
        if h.mode not in ("none", "sync", "async"):
            raise UnsupportedHistory(
                f"{source}: the header names no mode (got {h.mode!r}); the spec needs one of "
                'none, sync, async: add "mode" to the header'
            )
        self.mode: str = h.mode
        topo = h.topology
        if not topo or not topo.get("nodes"):
            raise UnsupportedHistory(
                f"{source}: the header has no topology; the spec needs the nodes and their "
                'AZs: add "topology": {"nodes": [{"name": "n1", "az": "az1"}, ...]}'
            )
        self.nodes: tuple[str, ...] = tuple(n["name"] for n in topo["nodes"])
        for name in self.nodes:
            # The spec names nodes by strings, the primary's in TLC's configuration too,
            # whose strings take no escapes.
            if not _printable(name) or '"' in name or "\\" in name:
                raise UnsupportedHistory(
                    f"{source}: node {name!r} holds a character the spec's node names cannot "
                    "(only printable ASCII, without quotes or backslashes); rename it in the "
                    "header's topology and in every op that names it"
                )
        azs: dict[str, list[str]] = {}
        for n in topo["nodes"]:
            azs.setdefault(n["az"], []).append(n["name"])
        self.zones = tuple(tuple(ns) for ns in azs.values())
        self.primary0: str = topo.get("primary") or self.nodes[0]
        params = h.params
        k = params.get("sync_replicas", 1)
        if not isinstance(k, int) or k < 1:
            raise UnsupportedHistory(
                f"{source}: header params.sync_replicas is {k!r}; it must be a whole number ≥ 1"
            )
        self.sync_replicas = k
        self.tick_ns: int | None = None
        self.lag_limit = 1
        self.eps_ns = 0
        if self.mode == "async":
            limit_ms = params.get("lag_limit_ms")
            if not isinstance(limit_ms, int | float) or limit_ms <= 0:
                raise UnsupportedHistory(
                    f"{source}: header params.lag_limit_ms is {limit_ms!r}; async traces "
                    "quantise time by the lag limit: add a positive lag_limit_ms to the header"
                )
            tol_ms = params.get("tolerance_ms", DEFAULT_TOLERANCE_MS)
            if not isinstance(tol_ms, int | float) or tol_ms < 0:
                tol_ms = DEFAULT_TOLERANCE_MS
            limit_ns = round(limit_ms * MS)
            self.eps_ns = round(tol_ms * MS)
            self.tick_ns = max(1, limit_ns // ticks_per_limit)
            # A correct server accepts while its lag ≤ limit + tolerance; between two
            # instants the tick count can exceed elapsed/tick by one (rounding).
            self.lag_limit = (limit_ns + self.eps_ns) // self.tick_ns + 1
        self.t0 = history.ops[0].time if history.ops else 0
        self.events: list[Event] = []
        self.writes: list[dict[str, Any]] = []
        self.checks: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.notes: dict[str, int] = {}
        # Where each operation's slot is: pair (by invoke index) -> ("w"|"c"|"s", index).
        self.slots: dict[int, tuple[str, int]] = {}
        self.pending_steps = 0  # steps whose fault has not completed
        self.write_workload: dict[str, str] = {}
        # The cluster as the effects so far describe it.
        self.primary = self.primary0
        self.down: set[str] = set()  # down in the spec because they are down
        self.demoted: set[str] = set()  # down in the spec, running: deposed by a failover
        # A paused primary is up in the spec: it keeps its clients' connections, and answers
        # them when it resumes (a crash would end its pending writes).
        self.paused: set[str] = set()
        self.client_cuts: set[tuple[str, str]] = set()  # cut links to or from the clients
        self.wiped: set[str] = set()  # down, and their data is gone
        self.cut: set[tuple[str, str]] = set()
        # Since a failover: nodes that may not hold a prefix of the new primary's log (the
        # spec's stale) until they are seen Synced.
        self.stale: set[str] = set()

    # -- helpers -------------------------------------------------------------------------
    def tick(self, t: int) -> int:
        if self.tick_ns is None:
            return 0
        return max(0, (t - self.t0) // self.tick_ns)

    def note(self, text: str) -> None:
        self.notes[text] = self.notes.get(text, 0) + 1

    def event(self, kind: str, t: int, x: int, op: Op, text: str) -> int:
        """Append an event; return its position (1-based).

        An ``open`` event at the same tick as the event before it is left out and the
        window starts after that event instead: nothing is observed in between, so the two
        traces have the same matching behaviours (only the clock reading could differ).
        """
        tick = self.tick(t)
        if kind == "open":
            prev = self.events[-1].tick if self.events else 0
            if prev == tick:
                return len(self.events)
        self.events.append(Event(kind=kind, tick=tick, x=x, op=op.index, text=text))
        return len(self.events)

    def node(self, name: object, op: Op) -> str:
        if name is None:
            return ANY_NODE
        if not isinstance(name, str) or name not in self.nodes:
            raise UnsupportedHistory(
                f"{self.source}: op {op.index} names node {name!r}, which is not in the "
                f"header's topology ({', '.join(self.nodes)}); add it to the topology"
            )
        return name

    def plain(self, op: Op, *texts: object) -> None:
        """Refuse a key or value the spec's strings cannot hold (TLA+ strings are printable
        ASCII here: a newline or a non-ASCII letter would break the generated module)."""
        for text in texts:
            if isinstance(text, str) and not _printable(text):
                raise self.unsupported(
                    op,
                    f"{text!r} holds a character the spec's strings cannot (only printable ASCII)",
                )

    def unsupported(self, op: Op, what: str) -> UnsupportedHistory:
        """The history leaves the spec's assumptions at ``op``: say what, and how much of it
        before that can still be validated."""
        n = len(self.events)
        prefix = f" (--max-events {n} validates the {n} events before it)" if n else ""
        return UnsupportedHistory(
            f"{self.source}: op {op.index}: {what}; the spec cannot judge this run{prefix}"
        )

    # -- the pass ------------------------------------------------------------------------
    def run(self, history: History, max_events: int | None = None) -> None:
        """Translate the ops in recorded order; stop once ``max_events`` events exist."""
        pairs = pair_ops(history.ops, self.source)
        self.find_observed(pairs)
        by_invoke = {p.invoke.index: p for p in pairs}
        by_complete = {p.complete.index: p for p in pairs if p.complete is not None}
        for op in history.ops:
            if max_events is not None and len(self.events) >= max_events:
                break
            if op.type == "invoke":
                self.invoked(by_invoke[op.index])
            else:
                self.completed(by_complete[op.index])

    def invoked(self, p: Pair) -> None:
        op = p.invoke
        c = p.complete
        if op.is_client and op.f == "write":
            self.invoke_write(p)
        elif op.is_client and op.f == "read":
            if c is None or c.type != "ok":
                return
            self.invoke_read(p)
        elif op.process == "observer" and op.f == "lag":
            if self.mode != "async" or c is None or c.type != "ok":
                return
            self.invoke_lag(p)
        elif op.process == "nemesis":
            if c is None or c.type == "fail":
                return
            self.invoke_fault(p)
        elif op.process == "observer":
            self.note(f"{op.f} observations are not modelled (ignored)")

    def completed(self, p: Pair) -> None:
        slot = self.slots.get(p.invoke.index)
        if slot is None or p.complete is None:
            return
        kind, i = slot
        c = p.complete
        if kind == "w":
            w = self.writes[i]
            what = f"write {_value_text(w['value'])} to {w['key']} on {w['node']} completed"
            if c.type == "ok":
                w["end"] = self.event("ok", c.time, i + 1, c, f"{what} ok")
            elif c.type == "info" and applied_error(c.error):
                if w["calm"] is None or w["calm"] != self.calm():
                    self.note(
                        "sync writes timed out during a fault may be applied after their reply"
                    )
                    return
                # Applied on its node before this reply, durability unknown (SYNCTIMEOUT, a
                # WAIT that fell short), in a window where the spec could not reject it.
                code = (c.error or "").split(" ", 1)[0].rstrip(":")
                text = f"{what} info ({code}): applied, durability unknown"
                w["end"] = self.event("applied", c.time, i + 1, c, text)
            # Any other info may be applied at any later time.
        elif kind == "c":
            ch = self.checks[i]
            if ch["kind"] == "lag":
                text = f"{ch['node']} reported a lag of {ch['ms']} ms"
            else:
                text = f"read of {ch['key']} on {ch['node']} returned {_value_text(c.value)}"
            ch["end"] = self.event("check", c.time, i + 1, c, text)
        else:
            first, last = i, len(self.steps)
            for s in self.steps[first:last]:
                self.pending_steps -= s["end"] == 0
                s["end"] = len(self.events) + 1
            acts = ", ".join(str(Step(**s)) for s in self.steps[first:last])
            self.event("steps", c.time, last, c, f"{p.invoke.f} completed: {acts}")

    # -- writes and reads ----------------------------------------------------------------
    def find_observed(self, pairs: list[Pair]) -> None:
        """Which writes some read shows: (key, value) pairs, and per counter key the bits
        any read had set (``None`` when the key's deltas are not distinct powers of two)."""
        self.seen: set[tuple[str, object]] = set()
        deltas: dict[str, list[int]] = {}
        bits: dict[str, int] = {}
        for p in pairs:
            op, c = p.invoke, p.complete
            if not op.is_client or op.key is None:
                continue
            if op.f == "write" and op.workload == "counter" and type(op.value) is int:
                deltas.setdefault(op.key, []).append(op.value)
            if op.f != "read" or c is None or c.type != "ok":
                continue
            v = c.value
            if isinstance(v, list):
                self.seen.update((op.key, x) for x in v if isinstance(x, str))
            elif isinstance(v, str):
                self.seen.add((op.key, v))
            elif type(v) is int:
                bits[op.key] = bits.get(op.key, 0) | v
        self.counter_bits: dict[str, int | None] = {}
        self.counter_reach: dict[str, int] = {}  # the sum of a counter's deltas' sizes
        for key, ds in deltas.items():
            pow2 = all(d > 0 and d & (d - 1) == 0 for d in ds) and len(set(ds)) == len(ds)
            self.counter_bits[key] = bits.get(key, 0) if pow2 else None

    def observed(self, key: str, value: object) -> bool:
        """Whether a read shows the write of ``value`` to ``key`` (or might: counter keys
        whose deltas are not distinct powers of two)."""
        if type(value) is int and key in self.counter_bits:
            b = self.counter_bits[key]
            return b is None or bool(b & value)
        return (key, value) in self.seen

    def invoke_write(self, p: Pair) -> None:
        op = p.invoke
        c = p.complete
        if c is not None and c.type == "fail":
            # A clean rejection (ClientWrite with status fail) changes no log, and neither
            # does a refusal the spec does not model (READONLY, LOADING, ...): to every later
            # observation the write never happened, which is how the trace takes it.
            self.note("failed writes never enter a log (not applied in the trace)")
            return
        if (c is None or c.type != "ok") and not self.observed(op.key or "", op.value):
            # Indeterminate and never read: leaving it unapplied explains everything applying
            # it could (it only adds an entry nobody sees), so it is left out.
            self.note("indeterminate writes no read shows are left unapplied")
            return
        node = self.node(op.node if op.node is not None else _node_of(p), op)
        key = op.key or ""
        workload = op.workload or ""
        value = op.value
        if workload == "counter":
            if type(value) is not int:
                raise self.unsupported(op, "a counter write's value must be an integer delta")
            self.counter_reach[key] = self.counter_reach.get(key, 0) + abs(value)
            if self.counter_reach[key] > TLC_INT_MAX:
                raise self.unsupported(op, _BEYOND_TLC_INT.format(key=key))
        elif not isinstance(value, str):
            raise self.unsupported(op, f"a {workload} write's value must be a string")
        self.plain(op, key, value)
        prev = self.write_workload.setdefault(key, workload)
        if prev != workload:
            raise self.unsupported(
                op, f"key {key!r} is written as {prev} and as {workload}; use one per key"
            )
        i = len(self.writes)
        text = f"p{op.process} invokes write {_value_text(value)} to {key} on {node}"
        start = self.event("open", op.time, i + 1, op, text)
        self.writes.append(
            {
                "node": node,
                "key": key,
                "value": value,
                "start": start,
                "end": 0,
                "op": op.index,
                "calm": self.calm(),
            }
        )
        self.slots[op.index] = ("w", i)

    def invoke_read(self, p: Pair) -> None:
        op = p.invoke
        c = p.complete
        assert c is not None
        where = c.node if c.node is not None else op.node
        if where is None:
            self.note("reads that name no node are not checked")
            return
        node = self.node(where, op)
        workload = op.workload or ""
        v = c.value
        value: Any
        if workload == "list" and isinstance(v, list) and all(isinstance(x, str) for x in v):
            value = tuple(v)
        elif workload == "set" and isinstance(v, list) and all(isinstance(x, str) for x in v):
            value = frozenset(v)
            if len(value) != len(v):
                value = None  # a set read twice the same member: cannot be a set's state
        elif workload == "register" and (v is None or isinstance(v, str)):
            value = () if v is None else (v,)
        elif workload == "counter" and type(v) is int:
            value = v
        else:
            self.note(f"{workload or 'unknown'} reads with values of another shape are skipped")
            return
        if value is None:
            self.note("set reads returning a member twice are skipped")
            return
        key = op.key or ""
        if type(value) is int and abs(value) > TLC_INT_MAX:
            raise self.unsupported(c, _BEYOND_TLC_INT.format(key=key))
        self.plain(op, key, *([] if type(value) is int else value))
        if self.write_workload.get(key, workload) != workload:
            self.note("reads of a key written by another workload are skipped")
            return
        i = len(self.checks)
        text = f"p{op.process} invokes a read of {key} on {node}"
        start = self.event("open", op.time, i + 1, op, text)
        self.checks.append(
            {
                "kind": workload,
                "node": node,
                "key": key,
                "value": value,
                "lo": 0,
                "hi": 0,
                "start": start,
                "end": 0,
                "op": op.index,
            }
        )
        self.slots[op.index] = ("c", i)

    def invoke_lag(self, p: Pair) -> None:
        op = p.invoke
        c = p.complete
        assert c is not None and self.tick_ns is not None
        node = self.node(c.node if c.node is not None else op.node, op)
        if type(c.value) is not int or c.value < 0:
            self.note("lag observations without a whole number of ms are skipped")
            return
        if node != self.primary or node in self.down or node in self.demoted:
            self.note("lag observations of nodes other than the running primary are skipped")
            return
        v_ns = c.value * MS
        # Only an upper bound: acknowledgements are eager in the trace module, which makes
        # the spec's lag the smallest any matching behaviour has (DurabilityTrace.tla).
        lo = 0
        hi = (v_ns + self.eps_ns) // self.tick_ns + 1
        i = len(self.checks)
        start = self.event("open", op.time, i + 1, op, f"observer asks {node} for its lag")
        self.checks.append(
            {
                "kind": "lag",
                "node": node,
                "key": "",
                "value": 0,
                "lo": lo,
                "hi": hi,
                "start": start,
                "end": 0,
                "op": op.index,
                "ms": c.value,
            }
        )
        self.slots[op.index] = ("c", i)

    # -- faults --------------------------------------------------------------------------
    def step(self, act: str, x: str, y: str, op: Op) -> None:
        self.steps.append({"act": act, "x": x, "y": y, "start": 0, "end": 0, "op": op.index})
        self.pending_steps += 1
        if act == "Failover":
            self.stale = set(self.nodes) - {x}
        elif act == "Synced":
            self.stale.discard(x)

    def calm(self) -> int | None:
        """How many steps there are so far, when every node is connected to the primary in
        the spec (none down, deposed, cut off or stale) and no step is pending; ``None``
        otherwise. A write invoked and completed at the same calm point cannot have been
        rejected by the spec."""
        if self.down or self.demoted or self.cut or self.stale or self.pending_steps:
            return None
        return len(self.steps)

    def invoke_fault(self, p: Pair) -> None:
        op = p.invoke
        c = p.complete
        assert c is not None
        value = c.value if isinstance(c.value, Mapping) else {}
        effects = value.get("effects", [])
        if not isinstance(effects, list):
            raise self.unsupported(c, "'effects' must be a list")
        first = len(self.steps)
        for e in effects:
            if not isinstance(e, Mapping):
                raise self.unsupported(c, "each effect is an object")
            self.effect(e, c)
        if len(self.steps) == first:
            return
        args = value.get("args") or [v for k, v in value.items() if k != "effects"]
        what = " ".join([op.f, *(str(a) for a in args)])
        start = self.event("open", op.time, first + 1, op, f"nemesis {what} begins")
        for s in self.steps[first:]:
            s["start"] = start
        self.slots[op.index] = ("s", first)

    def effect(self, e: Mapping[str, Any], op: Op) -> None:
        if "down" in e:
            n = self.node(e["down"], op)
            if op.f == "pause" and n == self.primary and n not in self.down | self.demoted:
                self.paused.add(n)
                return
            self.paused.discard(n)  # (killed while paused: a crash after all)
            if n in self.demoted:
                self.demoted.discard(n)
                self.down.add(n)
            elif n not in self.down:
                self.step("Crash", n, "", op)
                self.down.add(n)
        elif "up" in e:
            n = self.node(e["up"], op)
            if n in self.paused:
                self.paused.discard(n)
                return
            if n in self.demoted:
                self.demoted.discard(n)
                self.step("Restart", n, "", op)
            elif n in self.down:
                if n in self.wiped:
                    if n == self.primary:
                        raise self.unsupported(
                            op,
                            f"the primary {n} comes back without its data; the spec never lets "
                            "a primary that lost its data serve (RestartWiped excludes the "
                            "primary: a failover must come first)",
                        )
                    self.wiped.discard(n)
                    self.step("RestartWiped", n, "", op)
                else:
                    self.step("Restart", n, "", op)
                self.down.discard(n)
        elif "lose-data" in e:
            n = self.node(e["lose-data"], op)
            if n not in self.down:
                raise self.unsupported(
                    op,
                    f"{n} loses its data while running; the spec loses data only on a restart "
                    "of a crashed node (RestartWiped): record a down effect first",
                )
            self.wiped.add(n)
        elif "cut" in e or "heal-link" in e:
            key = "cut" if "cut" in e else "heal-link"
            pair = e[key]
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                raise self.unsupported(op, f"effect {key!r} takes a pair of node names")
            if "client" in pair:
                self.note("cuts of the client pseudo-node have no spec counterpart (ignored)")
                # Yet the controller sits on the clients' side: it promotes no node cut off
                # from it, which the spec's Failover cannot express (see "promote").
                link = (str(pair[0]), str(pair[1]))
                if key == "cut":
                    self.client_cuts.add(link)
                else:
                    self.client_cuts.discard(link)
                return
            a, b = self.node(pair[0], op), self.node(pair[1], op)
            if a == b:
                raise self.unsupported(
                    op, f"effect {key!r} names {a} twice (a link joins two nodes)"
                )
            if key == "cut" and (a, b) not in self.cut:
                self.cut.add((a, b))
                self.step("Cut", a, b, op)
            elif key == "heal-link" and (a, b) in self.cut:
                self.cut.discard((a, b))
                self.step("Heal", a, b, op)
        elif "slow" in e or "fast" in e:
            return
        elif "promote" in e:
            n = self.node(e["promote"], op)
            if e.get("by", "offset") != "offset":
                raise self.unsupported(
                    op,
                    f"a named failover to {n}: the spec's Failover promotes a most up-to-date "
                    "replica only (named failovers are outside the promises)",
                )
            if n == self.primary:
                raise self.unsupported(op, f"promotes {n}, which is already the primary")
            old = self.primary
            unreached = {m for link in self.client_cuts for m in link if m in self.nodes}
            recorded = e.get("candidates")
            if isinstance(recorded, Mapping):  # a run records whom it could reach
                unreached |= set(self.nodes) - set(recorded)
            unreached -= {n, old} | self.down | self.demoted
            if unreached:
                names = ", ".join(sorted(unreached))
                raise self.unsupported(
                    op,
                    f"the failover to {n} chose among the nodes the controller could reach, "
                    f"and {names} {'was' if len(unreached) == 1 else 'were'} cut off from it; "
                    "the spec's Failover chooses among every replica that is up (what the "
                    "controller can reach is not modelled)",
                )
            self.paused.discard(old)  # a failover away from a paused primary deposes it
            if old not in self.down and old not in self.demoted:
                # A switchover: the spec fails over only from a primary that is down, so the
                # deposed primary stops serving as primary by crashing (with its data).
                self.step("Crash", old, "", op)
                self.demoted.add(old)
            self.step("Failover", n, "", op)
            self.primary = n
        elif "replicate" in e:
            n = self.node(e["replicate"], op)
            src = e.get("from")
            if src != self.primary:
                raise self.unsupported(
                    op,
                    f"{n} is pointed at {src!r}, not at the primary {self.primary}; the spec "
                    "replicates from the primary only",
                )
            if n == self.primary:
                raise self.unsupported(op, f"the primary {n} is pointed at another node")
            if n in self.demoted:
                self.demoted.discard(n)
                self.step("Restart", n, "", op)
            if n in self.down:
                raise self.unsupported(op, f"{n} is re-pointed while it is down")
            self.step("Repoint", n, "", op)
        elif "synced" in e:
            n = self.node(e["synced"], op)
            if n != self.primary and n not in self.down and n not in self.demoted:
                self.step("Synced", n, "", op)
        else:
            raise self.unsupported(op, f"unknown effect {dict(e)!r} (docs/history.md lists them)")


def _node_of(p: Pair) -> str | None:
    return p.complete.node if p.complete is not None else None


def build_trace(
    history: History,
    *,
    source: str = "<history>",
    max_events: int | None = None,
    ticks_per_limit: int = TICKS_PER_LIMIT,
) -> TraceModel:
    """The trace of ``history`` (see the module docstring); raises :class:`UnsupportedHistory`.

    With ``max_events`` only the first that many events are kept: the result validates a
    prefix of the run (operations still open at the cut are left unconstrained).
    """
    b = _Builder(history, source, ticks_per_limit)
    b.run(history, max_events)
    events = b.events[:max_events] if max_events is not None else b.events
    total: int | None = len(events)
    if max_events is not None and len(b.events) >= max_events:
        # How long the whole trace is, if the spec can speak about all of the run.
        whole = _Builder(history, source, ticks_per_limit)
        try:
            whole.run(history)
            total = len(whole.events)
        except UnsupportedHistory:
            total = None
    n = len(events)
    never = n + 1

    def close(end: int) -> int:
        return end if 0 < end <= n else never

    writes = tuple(
        WriteSlot(
            node=w["node"],
            key=w["key"],
            value=w["value"],
            start=w["start"],
            end=close(w["end"]),
            op=w["op"],
        )
        for w in b.writes
        if w["start"] <= n
    )
    checks = tuple(
        Check(
            kind=c["kind"],
            node=c["node"],
            key=c["key"],
            value=c["value"],
            lo=c["lo"],
            hi=c["hi"],
            start=c["start"],
            end=close(c["end"]),
            op=c["op"],
        )
        for c in b.checks
        if c["start"] <= n
    )
    steps = tuple(
        Step(
            act=s["act"],
            x=s["x"],
            y=s["y"],
            start=s["start"],
            end=close(s["end"]),
            op=s["op"],
        )
        for s in b.steps
        if s["start"] <= n
    )
    cuttable = frozenset(frozenset((s.x, s.y)) for s in steps if s.act == "Cut")
    notes = [f"{text} ×{count}" if count > 1 else text for text, count in b.notes.items()]
    return TraceModel(
        mode=b.mode,
        zones=b.zones,
        nodes=b.nodes,
        primary=b.primary0,
        sync_replicas=b.sync_replicas,
        lag_limit=b.lag_limit,
        sync_timeout=1,
        max_time=max((e.tick for e in events), default=0),
        max_crashes=sum(1 for s in steps if s.act == "Crash"),
        cuttable=cuttable,
        tick_ns=b.tick_ns,
        events=tuple(events),
        writes=writes,
        checks=checks,
        steps=steps,
        notes=tuple(notes),
        total_events=total,
    )


# --------------------------------------------------------------------------------------
# The TLC model


def _seq(items: Sequence[str]) -> str:
    if not items:
        return "<<>>"
    return "<<\n    " + ",\n    ".join(items) + "\n>>"


def _open(trace: TraceModel) -> list[dict[str, set[int]]]:
    """Window[l] for l = 1 .. events + 1: the writes (``w``) and checks (``c``) open while
    ``l`` is the next event to match (start < l <= end), by their 1-based positions."""
    n = len(trace.events)
    opened: list[dict[str, set[int]]] = [{"w": set(), "c": set()} for _ in range(n + 2)]
    spans: list[tuple[str, int, int, int]] = [
        ("w", i, w.start, w.end) for i, w in enumerate(trace.writes, start=1)
    ] + [("c", i, c.start, c.end) for i, c in enumerate(trace.checks, start=1)]
    for kind, i, start, end in spans:
        for pos in range(start + 1, min(end, n + 1) + 1):
            opened[pos][kind].add(i)
    return opened[1:]


def write_load(trace: TraceModel) -> tuple[list[int], list[int]]:
    """For each point of the trace (the first entry while event 1 is the next to match,
    the last at its end): how many writes are open, and how many pairs of writes have
    overlapped by then (two writes overlap when both are open at one point) while a
    failover or a wipe is still to come.

    These, more than the number of events, decide how long a validation takes. TLC tries
    every order (and, for one whose outcome is unknown, every choice of applying it or
    not) of the writes open at one point; and while a failover (which may cut the log
    between two writes) or a wipe (after which a node copies the log again, entry by
    entry) is to come, the order it tried for two overlapping writes stays in the state,
    even for writes to different keys, so every such pair multiplies the states up to it.
    After the last of them the spec's view keeps the order of writes to different keys
    only as far as a node read later, without being seen synced first, may lag behind
    (DurabilityTrace's CanonicalView)."""
    ahead = max((s.end for s in trace.steps if s.act in ("Failover", "RestartWiped")), default=0)
    sizes: list[int] = []
    pairs: list[int] = []
    count = 0
    before: set[int] = set()
    for point, o in enumerate(_open(trace), start=1):
        now = o["w"]
        new = len(now - before)
        if point <= ahead:
            count += new * len(now & before) + new * (new - 1) // 2
        sizes.append(len(now))
        pairs.append(count)
        before = now
    return sizes, pairs


def render_module(trace: TraceModel) -> str:
    """The ``MCTrace`` module: the trace's constants as definitions TLC can take."""
    zones = format_value(frozenset(frozenset(z) for z in trace.zones))
    links = format_value(trace.cuttable)
    events = [format_value({"k": e.kind, "t": e.tick, "x": e.x}) for e in trace.events]
    writes = [
        format_value(
            {
                "node": w.node,
                "key": w.key,
                "val": w.value,
                "from": w.start,
                "to": w.end,
            }
        )
        for w in trace.writes
    ]
    checks = [
        format_value(
            {
                "kind": c.kind,
                "node": c.node,
                "key": c.key,
                "val": c.value,
                "lo": c.lo,
                "hi": c.hi,
                "from": c.start,
                "to": c.end,
            }
        )
        for c in trace.checks
    ]
    steps = [
        format_value({"act": s.act, "x": s.x, "y": s.y, "from": s.start, "to": s.end})
        for s in trace.steps
    ]
    window = [format_value({"w": frozenset(o["w"]), "c": frozenset(o["c"])}) for o in _open(trace)]
    return "\n".join(
        [
            "---- MODULE MCTrace ----",
            "\\* Generated by `ackbound spec validate` from one history; see",
            "\\* specs/DurabilityTrace.tla for what each constant means.",
            "EXTENDS DurabilityTrace",
            "",
            f"MCZones == {zones}",
            f"MCLinks == {links}",
            "MCBugs == {}",
            f"MCTrace == {_seq(events)}",
            f"MCWrites == {_seq(writes)}",
            f"MCChecks == {_seq(checks)}",
            f"MCSteps == {_seq(steps)}",
            f"MCWindow == {_seq(window)}",
            "====",
            "",
        ]
    )


def render_cfg(trace: TraceModel) -> str:
    """The TLC configuration for ``MCTrace``."""
    return "\n".join(
        [
            "\\* Generated by `ackbound spec validate`.",
            "CONSTANTS",
            "    Zones <- MCZones",
            f"    InitPrimary = {format_value(trace.primary)}",
            f"    Mode = {format_value(trace.mode)}",
            f"    SyncReplicas = {trace.sync_replicas}",
            f"    LagLimit = {trace.lag_limit}",
            f"    SyncTimeout = {trace.sync_timeout}",
            f"    MaxWrites = {len(trace.writes)}",
            f"    MaxTime = {trace.max_time}",
            f"    MaxCrashes = {trace.max_crashes}",
            "    CuttableLinks <- MCLinks",
            "    Bugs <- MCBugs",
            "    TraceIn <- MCTrace",
            "    WritesIn <- MCWrites",
            "    ChecksIn <- MCChecks",
            "    StepsIn <- MCSteps",
            "    WindowIn <- MCWindow",
            "INIT TraceInit",
            "NEXT TraceNext",
            "INVARIANT TraceIncomplete",
            "CONSTRAINT Furthest",
            "VIEW TraceView",
            "",
        ]
    )


# --------------------------------------------------------------------------------------
# Running TLC and reading its verdict


@dataclass(frozen=True, kw_only=True)
class Validation:
    """The verdict on one trace.

    ``outcome`` is ``validated`` (a behaviour of the spec produces every event), ``left``
    (event ``failed_at`` has no explanation; ``state`` is a state TLC reached after the
    event before it) or ``error`` (TLC could not decide; ``error`` says why, and
    ``matched`` how many of the trace's first events it had matched when it stopped, if it
    got that far).
    """

    trace: TraceModel
    outcome: str
    failed_at: int | None = None
    state: dict[str, Any] | None = None
    tlc: TlcResult | None = field(default=None, repr=False)
    error: str = ""
    seconds: float = 0.0
    matched: int = 0

    @property
    def event(self) -> Event | None:
        if self.failed_at is None:
            return None
        return self.trace.events[self.failed_at - 1]


_FURTHEST = '"ackbound-furthest"'


def _furthest(output: str) -> tuple[int, dict[str, Any] | None]:
    """The largest event index TLC's ``Furthest`` constraint printed, and its state.

    Each print is the tuple ``<<"ackbound-furthest", l, [state]>>``, possibly spread over
    several lines, between TLC's tool-mode messages.
    """
    best, state = 0, None
    for chunk in re.split(r"@!@!@(?:START|END)MSG [^@]*@!@!@", output):
        for m in re.finditer(r"<<\s*" + re.escape(_FURTHEST), chunk):
            end = chunk.find(_FURTHEST, m.end())
            text = chunk[m.start() : end if end >= 0 else len(chunk)]
            if end >= 0:
                text = text[: text.rfind("<<")]
            try:
                parsed = parse_value(" ".join(text.split()))
            except TlaSyntaxError:
                continue
            if not (isinstance(parsed, tuple) and len(parsed) == 3):
                continue
            _, idx, st = parsed
            if isinstance(idx, int) and idx > best:
                best = idx
                state = st if isinstance(st, dict) else None
    return best, state


def validate_history(
    history: History,
    tlc: Tlc,
    *,
    source: str = "<history>",
    max_events: int | None = None,
    timeout: float | None = None,
    specs_dir: Path | None = None,
    ticks_per_limit: int = TICKS_PER_LIMIT,
) -> Validation:
    """Build the trace of ``history`` and have TLC check it against the spec.

    Raises :class:`UnsupportedHistory` when the history is outside the spec's assumptions.
    TLC's files (the generated model, its states) live in a temporary directory.
    """
    trace = build_trace(
        history, source=source, max_events=max_events, ticks_per_limit=ticks_per_limit
    )
    return validate_trace(trace, tlc, timeout=timeout, specs_dir=specs_dir)


def validate_trace(
    trace: TraceModel,
    tlc: Tlc,
    *,
    timeout: float | None = None,
    specs_dir: Path | None = None,
) -> Validation:
    """Have TLC check ``trace`` (see :func:`validate_history`)."""
    if not trace.events:
        # No evidence either way (style: no evidence is "unknown", never "valid").
        return Validation(
            trace=trace,
            outcome="error",
            error="no operation of the history has a counterpart in the spec (failed writes, "
            "unread indeterminate writes and unmodelled observations leave no event); "
            "nothing to validate",
        )
    specs = specs_dir or default_specs_dir()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ackbound-validate-") as tmp:
        d = Path(tmp)
        for name in ("Durability.tla", "DurabilityTrace.tla"):
            src = specs / name
            if not src.is_file():
                raise AckboundError(f"{src}: no such file; {SPECS_FIX}")
            shutil.copyfile(src, d / name)
        (d / "MCTrace.tla").write_text(render_module(trace), encoding="utf-8")
        cfg = d / "MCTrace.cfg"
        cfg.write_text(render_cfg(trace), encoding="utf-8")
        result = run_tlc(tlc, cfg, module="MCTrace", workers=1, timeout=timeout)
    seconds = time.monotonic() - start
    if result.outcome == "TraceIncomplete":
        return Validation(trace=trace, outcome="validated", tlc=result, seconds=seconds)
    if result.outcome == "pass":
        best, state = _furthest(result.output)
        if 1 <= best <= len(trace.events):
            return Validation(
                trace=trace,
                outcome="left",
                failed_at=best,
                state=state,
                tlc=result,
                seconds=seconds,
            )
        error = "TLC finished without reporting how far the trace matched"
    else:
        error = result.error or f"TLC ended with {result.outcome}"
    # Furthest printed the first state to reach each event index l: events 1 .. l - 1 had
    # been matched by then.
    matched = max(_furthest(result.output)[0] - 1, 0)
    return Validation(
        trace=trace, outcome="error", tlc=result, error=error, seconds=seconds, matched=matched
    )


# --------------------------------------------------------------------------------------
# Reports


def describe_state(trace: TraceModel, state: Mapping[str, Any]) -> list[str]:
    """A spec state (as the trace module prints it) in the history's terms: write values
    instead of the spec's write ids."""
    hw = state.get("hw", ())
    writes = state.get("writes", ())

    def wname(i: object) -> str:
        if isinstance(i, int) and 1 <= i <= len(hw) and 1 <= hw[i - 1] <= len(trace.writes):
            return _value_text(trace.writes[hw[i - 1] - 1].value)
        return f"#{i}"

    up = state.get("up", {})
    log = state.get("log", {})
    acked = state.get("acked", {})
    stale = set(state.get("stale", ()))
    lines = [
        f"clock {state.get('now')} (ticks), term {state.get('term')}, primary "
        f"{state.get('primary')}, failures {state.get('crashes')}",
    ]
    for n in trace.nodes:
        flags = ["up" if up.get(n) else "down"]
        if n in stale:
            flags.append("stale")
        if n != state.get("primary"):
            flags.append(f"acked {acked.get(n, 0)}")
        entries = " ".join(wname(i) for i in log.get(n, ()))
        lines.append(f"  {n} ({', '.join(flags)}): log [{entries}]")
    cut = state.get("cut", ())
    if cut:
        lines.append("  cut: " + ", ".join(f"{a}->{b}" for a, b in sorted(cut)))
    statuses = [
        f"{wname(i)} {w.get('status')}" + (" (not applied)" if not w.get("applied") else "")
        for i, w in enumerate(writes, start=1)
        if isinstance(w, dict)
    ]
    if statuses:
        lines.append("  writes: " + ", ".join(statuses))
    else:
        lines.append("  writes: none applied yet")
    rep = state.get("lagReport")
    if isinstance(rep, dict) and rep.get("term"):
        lines.append(f"  last lag report: {rep.get('value')} ticks at tick {rep.get('at')}")
    return lines


def summary_line(v: Validation) -> str:
    """The verdict in one line (the CLI's first line of output)."""
    t = v.trace
    n = len(t.events)
    if not t.truncated:
        scope = f"{n} observed events"
    else:
        of = f" of {t.total_events}" if t.total_events is not None else ""
        last = t.events[-1].op if t.events else 0
        scope = f"the first {n}{of} observed events, up to op index {last}"
    if v.outcome == "validated":
        if t.truncated:
            return f"validated: a prefix of the run is a behaviour of the spec ({scope})"
        return f"validated: the run is a behaviour of the spec ({scope})"
    if v.outcome == "left":
        e = v.event
        assert e is not None and v.failed_at is not None
        return (
            f"left the spec at event {v.failed_at} (op index {e.op}): {e.text} — no spec "
            "action explains it; the state before was:"
        )
    return f"could not validate: {v.error.splitlines()[0] if v.error else 'TLC failed'}"
