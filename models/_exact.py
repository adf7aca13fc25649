"""The exact durability semantics: a pure, deterministic state machine.

This module is the semantics of ackbound written as code. It sees everything: every entry a
replica applies, every acknowledgement, every tick of a discrete clock. ``specs/Durability.tla``
states the same machine in TLA+; ``tests/spec`` checks that the two have the same reachable
states. What a harness outside the cluster can conclude is ``models._knowledge``'s business;
it is built on this module and tested against it.

A tour
======

A cluster is a set of **nodes**, each in an availability zone (AZ). One node is the
**primary**; the others are replicas. Build one with :class:`Params` and start it with
:func:`init`::

    >>> p = Params(
    ...     nodes=(Node(name="n1", az="a"), Node(name="n2", az="b"), Node(name="n3", az="c")),
    ...     primary="n1", mode=Mode.SYNC, sync_replicas=1, sync_timeout=2, max_time=5)
    >>> s = init(p)

The state is a frozen value. Every change is an **event** (a frozen dataclass) applied with
:func:`step`, which returns a new state or raises :class:`DisabledEvent` saying why the event
cannot happen now. :func:`enabled` lists every event that can happen.

**Writes.** :class:`ClientWrite` invokes the next write on the primary. Writes are numbered
1, 2, 3, ... in invocation order, and the primary appends an accepted write to its **log**;
a write's **offset** is its position in the log. What happens next depends on the mode:

- ``none``: the write is acknowledged (``ok``) at once. Nothing is promised.
- ``sync`` (parameter K = ``sync_replicas``): the write is *eligible-checked* first. An
  **eligible** replica is one in an AZ other than the primary's; a **connected** replica is up,
  in step with the primary (not stale) and both directions of its link to the primary pass.
  With fewer than K eligible replicas connected the write is **rejected cleanly**: status
  ``fail``, never applied. Otherwise it is applied and ``pending``; it becomes ``ok``
  (:class:`Complete`) once K eligible replicas acknowledged an offset at or beyond its own, or
  ``info`` (:class:`TimeOut`, indeterminate, still applied) once ``sync_timeout`` ticks passed.
- ``async`` (parameter L = ``lag_limit``): the **durability lag** is the age of the oldest
  write in the primary's log that no eligible replica acknowledged (0 if there is none). A
  write invoked while the lag exceeds L is rejected cleanly; otherwise it is applied and
  acknowledged at once.

    >>> s = step(s, ClientWrite())
    >>> s.writes[0].status
    <Status.PENDING: 'pending'>
    >>> s = step(step(s, ReplicateNext(node="n2")), Acknowledge(node="n2"))
    >>> s = step(s, Complete(write=1))
    >>> s.writes[0].status, must_survive(s)
    (<Status.OK: 'ok'>, frozenset({1}))

**Replication** is ordered: :class:`ReplicateNext` copies the next entry a replica lacks over
the link primary -> replica, and :class:`Acknowledge` tells the primary, over the link
replica -> primary, how much the replica holds. The primary's view of each replica's
acknowledged offset is ``NodeState.acked``. Once acknowledged, always acknowledged while the
replica holds the data: a crash keeps ``acked`` (and the lag keeps counting it); a wiped
restart clears it, and so does a failover (the new primary has heard nothing yet).

**Time** is :attr:`State.now`, advanced by :class:`Tick`. The clock never passes the timeout of
a pending write: by its deadline a pending write has completed or timed out.

**Faults.** :class:`Crash` stops a node (it keeps its data, and the primary its record of what
the node acknowledged); :class:`AZOutage` stops every node of an AZ at once. Either spends one
unit of the failure budget ``max_crashes``. A crashed primary's waiting clients lose their
connection: their pending writes end ``info``. A down replica's acknowledgement counts for the
lag but not towards a sync write's K (:class:`Complete` counts running replicas only).
:class:`Restart` brings a node back with its data, :class:`RestartWiped` without (never a
primary: a primary that lost its data must be failed over first). :class:`Cut` and
:class:`Heal` drop and restore one direction of a link.

**Failover.** While the primary is down, :class:`Failover` promotes a *candidate* (an up
replica that is not stale) with the longest log, and starts a new term. Every node whose log
the new primary's does not extend becomes **stale**: it replicates nothing until
:class:`Rejoin` truncates its log to the common prefix with the primary's (that is how the
old primary discards the writes the new one never had). The new primary has heard no
acknowledgement yet. With ``Params.named_failover`` a :class:`Failover` with ``named=True``
promotes any up, non-stale replica, even while the primary is up: an operator's choice that
the promises do not cover.

**The promises** (see :mod:`models._explore` for them as invariants) hold for one failure:

- sync, ``acked-writes-survive``: every ``ok`` write is on the node a correct failover picks.
- async, ``loss-window-bounded``: the ``ok`` writes lost span at most L ticks.
- every mode, ``no-holes``, ``rejected-writes-not-applied``; async,
  ``lag-metric-not-underreported`` (:class:`ReportLag` records the lag the primary reports).

**Queries** are pure functions of a state: :func:`lag`, :func:`survivors`, :func:`lost`,
:func:`must_survive`, :func:`may_appear`, :func:`must_not_appear`, :func:`allowed_outcomes`,
:func:`failover_picks`. :func:`outcomes` is the nondeterministic step: every state an event
may lead to when some of its details (which node? did it complete or time out?) are unknown.

**Bugs.** :class:`Bug` names implementation mistakes (the same names as the spec's buggy
configurations). Switched on in ``Params.bugs`` they change the machine so that one promise
breaks on some schedule; they exist to show that every promise can be refuted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Any, TypeVar

__all__ = [
    "EVENT_TYPES",
    "AZOutage",
    "Acknowledge",
    "Bug",
    "ClientWrite",
    "Complete",
    "Crash",
    "Cut",
    "DisabledEvent",
    "Event",
    "Failover",
    "Heal",
    "LagReport",
    "Mode",
    "Node",
    "NodeState",
    "Params",
    "Rejoin",
    "ReplicateNext",
    "ReplicateSkipping",
    "ReportLag",
    "Restart",
    "RestartWiped",
    "State",
    "Status",
    "Tick",
    "TimeOut",
    "WriteRecord",
    "allowed_outcomes",
    "enabled",
    "failover_picks",
    "init",
    "lag",
    "lost",
    "may_appear",
    "must_not_appear",
    "must_survive",
    "outcomes",
    "step",
    "successors",
    "survivors",
]


class Mode(StrEnum):
    """The durability mode of the store."""

    NONE = "none"
    SYNC = "sync"
    ASYNC = "async"


class Status(StrEnum):
    """Where a write stands. ``pending`` is the only status that still changes."""

    PENDING = "pending"
    """Applied on the primary, waiting for sync replicas (sync mode only)."""
    OK = "ok"
    """Acknowledged to the client."""
    FAIL = "fail"
    """Rejected cleanly: the client got an error and the write must never appear."""
    INFO = "info"
    """Indeterminate: the client got a timeout or lost its connection."""


class Bug(StrEnum):
    """An implementation mistake; each breaks one promise. Names match specs/*.cfg."""

    ACK_BEFORE_REPLICATION = "ack-before-replication"
    """sync: a write is acknowledged once applied on the primary (breaks AckedWritesSurvive)."""
    COUNT_SAME_AZ = "count-same-az"
    """A replica in the primary's AZ counts as eligible (breaks AckedWritesSurvive)."""
    PROMOTE_STALE = "promote-stale"
    """Failover may promote any candidate, not only a longest one (AckedWritesSurvive)."""
    NEVER_REJECT = "never-reject"
    """No write is ever rejected (breaks LossWindowBounded)."""
    UNDERREPORT_LAG = "underreport-lag"
    """The reported lag is the age of the newest unacknowledged write (breaks
    LagMetricNotUnderreported)."""
    REJECT_BY_NEWEST = "reject-by-newest"
    """async rejects while the age of the newest unacknowledged write exceeds the limit,
    not the age of the oldest (breaks LossWindowBounded)."""
    APPLY_REJECTED = "apply-rejected"
    """A rejected write is applied anyway (breaks RejectedWritesNotApplied)."""
    SKIP_ENTRY = "skip-entry"
    """Replication may send the entry after the one a replica needs (breaks NoHoles)."""


class DisabledEvent(ValueError):
    """:func:`step` was given an event the state does not enable; the message says why."""


# --------------------------------------------------------------------------------------
# Parameters


@dataclass(frozen=True, kw_only=True)
class Node:
    """A node of the cluster and the availability zone it sits in."""

    name: str
    az: str


@dataclass(frozen=True, kw_only=True)
class Params:
    """The constants of a model: topology, mode, limits, bounds and bugs.

    Times are in ticks of the model's discrete clock. ``max_writes``, ``max_time`` and
    ``max_crashes`` bound the behaviours (they make exhaustive exploration finite);
    ``max_crashes`` is the failure budget: crashes plus AZ outages, in all. ``cuttable`` lists
    the node pairs whose link may be cut (either direction); ``None`` means every pair.
    """

    nodes: tuple[Node, ...]
    primary: str
    mode: Mode
    sync_replicas: int = 1
    lag_limit: int = 1
    sync_timeout: int = 1
    max_writes: int = 2
    max_time: int = 2
    max_crashes: int = 1
    cuttable: frozenset[frozenset[str]] | None = None
    bugs: frozenset[Bug] = frozenset()
    named_failover: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", Mode(self.mode))
        except ValueError:
            raise ValueError(
                f"Params.mode={self.mode!r} is not a mode; use one of "
                f"{', '.join(m.value for m in Mode)}"
            ) from None
        bugs = set()
        for b in self.bugs:
            try:
                bugs.add(Bug(b))
            except ValueError:
                raise ValueError(
                    f"Params.bugs contains {b!r}, which is not a bug; use names from "
                    f"{', '.join(x.value for x in Bug)}"
                ) from None
        object.__setattr__(self, "bugs", frozenset(bugs))
        names = [n.name for n in self.nodes]
        if not names:
            raise ValueError("Params.nodes is empty; a cluster needs at least one node")
        if len(set(names)) != len(names):
            raise ValueError(f"Params.nodes names {names} repeat a name; name every node once")
        if self.primary not in names:
            raise ValueError(
                f"Params.primary={self.primary!r} is not among the nodes {names}; name one of them"
            )
        for name, value, low in (
            ("sync_replicas", self.sync_replicas, 1),
            ("lag_limit", self.lag_limit, 0),
            ("sync_timeout", self.sync_timeout, 1),
            ("max_writes", self.max_writes, 0),
            ("max_time", self.max_time, 0),
            ("max_crashes", self.max_crashes, 0),
        ):
            if value < low:
                raise ValueError(f"Params.{name}={value} must be at least {low}")
        if self.cuttable is not None:
            for pair in self.cuttable:
                if len(pair) != 2 or not pair <= set(names):
                    raise ValueError(
                        f"Params.cuttable has {sorted(pair)}; each entry must be a set of two "
                        f"distinct nodes among {names}"
                    )

    @cached_property
    def names(self) -> tuple[str, ...]:
        """The node names, in the order of :attr:`nodes`."""
        return tuple(n.name for n in self.nodes)

    @cached_property
    def index(self) -> dict[str, int]:
        """Position of each node in :attr:`nodes` (and in :attr:`State.nodes`)."""
        return {n.name: i for i, n in enumerate(self.nodes)}

    @cached_property
    def az_of(self) -> dict[str, str]:
        """The AZ of each node."""
        return {n.name: n.az for n in self.nodes}

    @cached_property
    def azs(self) -> tuple[str, ...]:
        """The AZs, in the order they first appear in :attr:`nodes`."""
        return tuple(dict.fromkeys(n.az for n in self.nodes))

    @cached_property
    def links(self) -> tuple[tuple[str, str], ...]:
        """The directed links that may be cut, ``(src, dst)``, in node order."""
        return tuple(
            (a, b)
            for a in self.names
            for b in self.names
            if a != b and (self.cuttable is None or frozenset((a, b)) in self.cuttable)
        )


# --------------------------------------------------------------------------------------
# State


def _cached_hash(obj: object, fields: tuple[object, ...]) -> int:
    """The hash of a frozen value, computed once: exploration hashes states over and over,
    and a state shares its unchanged nodes and writes with the state it came from."""
    attrs = obj.__dict__
    h: int | None = attrs.get("_hash")
    if h is None:
        h = attrs["_hash"] = hash(fields)
    return h


class _HashCached:
    """Keeps the cached hash out of pickles and copies (string hashes differ by process)."""

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}


@dataclass(frozen=True, kw_only=True)
class NodeState(_HashCached):
    """One node: whether it runs, what it holds, and what the primary knows of it.

    ``log`` is the tuple of write ids the node holds (offset = position, from 1). ``acked``
    is the offset the current primary has seen this node acknowledge; a crash keeps it, a
    wiped restart and a failover clear it. ``stale`` means the
    node's log is not a prefix of the primary's since a failover: it must :class:`Rejoin`.
    """

    name: str
    az: str
    up: bool = True
    log: tuple[int, ...] = ()
    acked: int = 0
    stale: bool = False

    def __hash__(self) -> int:
        return _cached_hash(self, (self.name, self.up, self.log, self.acked, self.stale))


@dataclass(frozen=True, kw_only=True)
class WriteRecord(_HashCached):
    """A client write: its id (from 1), status, the tick it was invoked, whether the primary
    applied it (writes apply the instant they are invoked), and the term it was invoked in."""

    id: int
    status: Status
    invoked_at: int
    applied: bool
    term: int

    def __hash__(self) -> int:
        return _cached_hash(self, (self.id, self.status, self.invoked_at, self.applied, self.term))

    @property
    def applied_at(self) -> int | None:
        """The tick the primary applied the write, or None if it never did."""
        return self.invoked_at if self.applied else None


@dataclass(frozen=True, kw_only=True)
class LagReport:
    """A durability lag the primary reported: ``value`` ticks, at tick ``at``, in ``term``."""

    at: int
    value: int
    term: int


@dataclass(frozen=True, kw_only=True)
class State(_HashCached):
    """A state of the cluster. Equality and hashing ignore :attr:`params`."""

    params: Params = field(compare=False, repr=False)
    now: int
    term: int
    primary: str
    nodes: tuple[NodeState, ...]
    cut: frozenset[tuple[str, str]]
    writes: tuple[WriteRecord, ...]
    crashes: int
    lag_report: LagReport | None

    def __hash__(self) -> int:
        return _cached_hash(
            self,
            (
                self.now,
                self.term,
                self.primary,
                self.nodes,
                self.cut,
                self.writes,
                self.crashes,
                self.lag_report,
            ),
        )

    def node(self, name: str) -> NodeState:
        """The node called ``name``."""
        try:
            return self.nodes[self.params.index[name]]
        except KeyError:
            raise KeyError(
                f"no node {name!r} in this state; the nodes are {list(self.params.names)}"
            ) from None

    def write(self, write: int) -> WriteRecord:
        """The record of write ``write`` (ids start at 1)."""
        if not 1 <= write <= len(self.writes):
            raise KeyError(
                f"no write {write} in this state; writes 1..{len(self.writes)} were invoked"
            )
        return self.writes[write - 1]

    @property
    def primary_log(self) -> tuple[int, ...]:
        """The primary's log (down or not: a down primary keeps its data)."""
        return self.node(self.primary).log


_FIELDS: dict[type, frozenset[str]] = {
    cls: frozenset(f.name for f in fields(cls)) for cls in (State, NodeState, WriteRecord)
}


def init(params: Params) -> State:
    """The initial state: every node up with an empty log, nothing cut, the clock at 0."""
    return State(
        params=params,
        now=0,
        term=1,
        primary=params.primary,
        nodes=tuple(NodeState(name=n.name, az=n.az) for n in params.nodes),
        cut=frozenset(),
        writes=(),
        crashes=0,
        lag_report=None,
    )


# --------------------------------------------------------------------------------------
# Derived quantities (shared by events and queries)


_T = TypeVar("_T", "State", NodeState, WriteRecord)


def _evolve(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` without its cost: the hot path of exploration.

    Copies the instance's attributes (not a cached hash) and applies ``changes``, which must
    name fields.
    """
    assert changes.keys() <= _FIELDS[type(obj)], changes.keys() - _FIELDS[type(obj)]
    new = object.__new__(type(obj))
    attrs = new.__dict__
    attrs.update(obj.__dict__)
    attrs.pop("_hash", None)
    attrs.update(changes)
    return new


def _with_node(s: State, name: str, **changes: Any) -> tuple[NodeState, ...]:
    i = s.params.index[name]
    nodes = list(s.nodes)
    nodes[i] = _evolve(nodes[i], **changes)
    return tuple(nodes)


def _has(s: State, bug: Bug) -> bool:
    return bug in s.params.bugs


def _eligible(s: State) -> tuple[NodeState, ...]:
    """Replicas whose acknowledgements count: in another AZ than the primary's."""
    paz = s.params.az_of[s.primary]
    same_az_counts = _has(s, Bug.COUNT_SAME_AZ)
    return tuple(n for n in s.nodes if n.name != s.primary and (same_az_counts or n.az != paz))


def _connected(s: State, n: NodeState) -> bool:
    return (
        n.up
        and not n.stale
        and (s.primary, n.name) not in s.cut
        and (n.name, s.primary) not in s.cut
    )


def _acked_offset(s: State) -> int:
    """The highest offset an eligible replica acknowledged, running or not (a crashed
    replica keeps its data; a wiped one has ``acked`` 0)."""
    return max((n.acked for n in _eligible(s)), default=0)


def lag(state: State) -> int:
    """The durability lag, in ticks: the age of the oldest write in the primary's log that no
    eligible replica acknowledged, or 0 when there is none."""
    log = state.primary_log
    a = _acked_offset(state)
    if a >= len(log):
        return 0
    return state.now - state.writes[log[a] - 1].invoked_at


def _newest_unacked_age(s: State) -> int:
    log = s.primary_log
    if _acked_offset(s) >= len(log):
        return 0
    return s.now - s.writes[log[-1] - 1].invoked_at


def _offset(s: State, write: int) -> int:
    log = s.primary_log
    return log.index(write) + 1 if write in log else s.params.max_writes + 1


def _end_pending(writes: tuple[WriteRecord, ...]) -> tuple[WriteRecord, ...]:
    return tuple(
        _evolve(w, status=Status.INFO) if w.status is Status.PENDING else w for w in writes
    )


def _candidates(s: State) -> tuple[NodeState, ...]:
    return tuple(n for n in s.nodes if n.name != s.primary and n.up and not n.stale)


def _is_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return len(a) <= len(b) and b[: len(a)] == a


def _common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return a[:k]


def _write_decision(s: State) -> tuple[bool, bool, Status]:
    """What :class:`ClientWrite` does now: (rejected, applied, status)."""
    p = s.params
    reject = False
    if not _has(s, Bug.NEVER_REJECT):
        if p.mode is Mode.SYNC:
            connected = sum(1 for n in _eligible(s) if _connected(s, n))
            reject = connected < p.sync_replicas
        elif p.mode is Mode.ASYNC:
            age = _newest_unacked_age(s) if _has(s, Bug.REJECT_BY_NEWEST) else lag(s)
            reject = age > p.lag_limit
    applied = not reject or _has(s, Bug.APPLY_REJECTED)
    if reject:
        status = Status.FAIL
    elif p.mode is Mode.SYNC and not _has(s, Bug.ACK_BEFORE_REPLICATION):
        status = Status.PENDING
    else:
        status = Status.OK
    return reject, applied, status


# --------------------------------------------------------------------------------------
# Events
#
# Each event is a frozen dataclass with two methods: ``_blocked(s)`` returns None when the
# event is enabled in ``s`` and otherwise a sentence saying why not (the rule and the fix),
# and ``_apply(s)`` returns the next state; it is only called when ``_blocked`` is None.
# The rules mirror the actions of specs/Durability.tla one for one, under the same names.


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base class of the events :func:`step` applies."""

    def _blocked(self, s: State) -> str | None:
        raise NotImplementedError

    def _apply(self, s: State) -> State:
        raise NotImplementedError


def _node_check(s: State, name: str) -> str | None:
    if name not in s.params.index:
        return f"there is no node {name!r}; the nodes are {list(s.params.names)}"
    return None


@dataclass(frozen=True, kw_only=True)
class ClientWrite(Event):
    """A client invokes the next write on the primary (the outcome follows from the mode)."""

    def _blocked(self, s: State) -> str | None:
        if len(s.writes) >= s.params.max_writes:
            return (
                f"all max_writes={s.params.max_writes} writes were invoked; raise Params.max_writes"
            )
        if not s.node(s.primary).up:
            return f"the primary {s.primary} is down; Restart it or Failover first"
        return None

    def _apply(self, s: State) -> State:
        _, applied, status = _write_decision(s)
        w = len(s.writes) + 1
        record = WriteRecord(id=w, status=status, invoked_at=s.now, applied=applied, term=s.term)
        nodes = _with_node(s, s.primary, log=(*s.primary_log, w)) if applied else s.nodes
        return _evolve(s, writes=(*s.writes, record), nodes=nodes)


@dataclass(frozen=True, kw_only=True)
class Complete(Event):
    """A pending sync write is acknowledged: K running eligible replicas acknowledged its
    offset (a down replica's earlier acknowledgement does not count)."""

    write: int

    def _blocked(self, s: State) -> str | None:
        if not 1 <= self.write <= len(s.writes):
            return f"write {self.write} was never invoked"
        if s.writes[self.write - 1].status is not Status.PENDING:
            return f"write {self.write} is {s.writes[self.write - 1].status}, not pending"
        off = _offset(s, self.write)
        have = sum(1 for n in _eligible(s) if n.up and n.acked >= off)
        if have < s.params.sync_replicas:
            return (
                f"write {self.write} (offset {off}) is acknowledged by {have} running "
                f"eligible replica(s), fewer than sync_replicas={s.params.sync_replicas}; "
                "ReplicateNext and Acknowledge first"
            )
        return None

    def _apply(self, s: State) -> State:
        writes = list(s.writes)
        writes[self.write - 1] = _evolve(writes[self.write - 1], status=Status.OK)
        return _evolve(s, writes=tuple(writes))


@dataclass(frozen=True, kw_only=True)
class TimeOut(Event):
    """A pending sync write reaches its timeout: it ends indeterminate and stays applied."""

    write: int

    def _blocked(self, s: State) -> str | None:
        if not 1 <= self.write <= len(s.writes):
            return f"write {self.write} was never invoked"
        w = s.writes[self.write - 1]
        if w.status is not Status.PENDING:
            return f"write {self.write} is {w.status}, not pending"
        deadline = w.invoked_at + s.params.sync_timeout
        if s.now < deadline:
            return f"write {self.write} times out at tick {deadline}, it is {s.now}; Tick first"
        return None

    def _apply(self, s: State) -> State:
        writes = list(s.writes)
        writes[self.write - 1] = _evolve(writes[self.write - 1], status=Status.INFO)
        return _evolve(s, writes=tuple(writes))


def _replication_blocked(s: State, name: str, needed: int) -> str | None:
    if (msg := _node_check(s, name)) is not None:
        return msg
    n = s.node(name)
    if name == s.primary:
        return f"{name} is the primary; it replicates to others, not from itself"
    if not n.up:
        return f"{name} is down; Restart it first"
    if not s.node(s.primary).up:
        return f"the primary {s.primary} is down"
    if n.stale:
        return f"{name} is stale since the last failover; Rejoin it first"
    if (s.primary, name) in s.cut:
        return f"the link {s.primary} -> {name} is cut; Heal it first"
    if len(n.log) + needed > len(s.primary_log):
        return f"{name} holds {len(n.log)} of the primary's {len(s.primary_log)} entries"
    return None


@dataclass(frozen=True, kw_only=True)
class ReplicateNext(Event):
    """The primary sends replica ``node`` the next entry it lacks."""

    node: str

    def _blocked(self, s: State) -> str | None:
        return _replication_blocked(s, self.node, 1)

    def _apply(self, s: State) -> State:
        log = s.node(self.node).log
        return _evolve(s, nodes=_with_node(s, self.node, log=(*log, s.primary_log[len(log)])))


@dataclass(frozen=True, kw_only=True)
class ReplicateSkipping(Event):
    """skip-entry bug only: the primary sends the entry after the one ``node`` needs."""

    node: str

    def _blocked(self, s: State) -> str | None:
        if not _has(s, Bug.SKIP_ENTRY):
            return "only the skip-entry bug skips entries; add Bug.SKIP_ENTRY to Params.bugs"
        return _replication_blocked(s, self.node, 2)

    def _apply(self, s: State) -> State:
        log = s.node(self.node).log
        entry = s.primary_log[len(log) + 1]
        return _evolve(s, nodes=_with_node(s, self.node, log=(*log, entry)))


@dataclass(frozen=True, kw_only=True)
class Acknowledge(Event):
    """Replica ``node`` tells the primary the offset it holds."""

    node: str

    def _blocked(self, s: State) -> str | None:
        if (msg := _node_check(s, self.node)) is not None:
            return msg
        n = s.node(self.node)
        if self.node == s.primary:
            return f"{self.node} is the primary; only replicas acknowledge"
        if not n.up:
            return f"{self.node} is down; Restart it first"
        if not s.node(s.primary).up:
            return f"the primary {s.primary} is down"
        if n.stale:
            return f"{self.node} is stale since the last failover; Rejoin it first"
        if (self.node, s.primary) in s.cut:
            return f"the link {self.node} -> {s.primary} is cut; Heal it first"
        if n.acked >= len(n.log):
            return f"the primary already saw {self.node} acknowledge offset {n.acked}"
        return None

    def _apply(self, s: State) -> State:
        n = s.node(self.node)
        return _evolve(s, nodes=_with_node(s, self.node, acked=len(n.log)))


@dataclass(frozen=True, kw_only=True)
class ReportLag(Event):
    """async only: the primary reports its durability lag."""

    def _blocked(self, s: State) -> str | None:
        if s.params.mode is not Mode.ASYNC:
            return f"only async mode reports a lag; this model is {s.params.mode}"
        if not s.node(s.primary).up:
            return f"the primary {s.primary} is down"
        return None

    def _apply(self, s: State) -> State:
        value = _newest_unacked_age(s) if _has(s, Bug.UNDERREPORT_LAG) else lag(s)
        return _evolve(s, lag_report=LagReport(at=s.now, value=value, term=s.term))


@dataclass(frozen=True, kw_only=True)
class Tick(Event):
    """The clock advances one tick (never past a pending write's timeout)."""

    def _blocked(self, s: State) -> str | None:
        if s.now >= s.params.max_time:
            return f"the clock reached max_time={s.params.max_time}; raise Params.max_time"
        for w in s.writes:
            if w.status is Status.PENDING and s.now >= w.invoked_at + s.params.sync_timeout:
                return (
                    f"write {w.id} is pending at its timeout tick {s.now}; "
                    f"Complete(write={w.id}) or TimeOut(write={w.id}) first"
                )
        return None

    def _apply(self, s: State) -> State:
        return _evolve(s, now=s.now + 1)


def _budget_blocked(s: State) -> str | None:
    if s.crashes >= s.params.max_crashes:
        return (
            f"the failure budget max_crashes={s.params.max_crashes} is spent; "
            "raise Params.max_crashes"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class Crash(Event):
    """Node ``node`` crashes, keeping its data; the primary keeps its record of what the node
    acknowledged (it still counts for the lag, not for :class:`Complete`)."""

    node: str

    def _blocked(self, s: State) -> str | None:
        if (msg := _node_check(s, self.node)) is not None:
            return msg
        if not s.node(self.node).up:
            return f"{self.node} is already down"
        return _budget_blocked(s)

    def _apply(self, s: State) -> State:
        return _evolve(
            s,
            nodes=_with_node(s, self.node, up=False),
            writes=_end_pending(s.writes) if self.node == s.primary else s.writes,
            crashes=s.crashes + 1,
        )


@dataclass(frozen=True, kw_only=True)
class AZOutage(Event):
    """Every node of AZ ``az`` crashes at once (one failure), each keeping its data and its
    acknowledgement, as in :class:`Crash`; :class:`RestartWiped` later loses them."""

    az: str

    def _blocked(self, s: State) -> str | None:
        if self.az not in s.params.azs:
            return f"there is no AZ {self.az!r}; the AZs are {list(s.params.azs)}"
        if not any(n.up for n in s.nodes if n.az == self.az):
            return f"every node of AZ {self.az} is already down"
        return _budget_blocked(s)

    def _apply(self, s: State) -> State:
        nodes = tuple(_evolve(n, up=False) if n.az == self.az else n for n in s.nodes)
        hit_primary = s.params.az_of[s.primary] == self.az
        return _evolve(
            s,
            nodes=nodes,
            writes=_end_pending(s.writes) if hit_primary else s.writes,
            crashes=s.crashes + 1,
        )


@dataclass(frozen=True, kw_only=True)
class Restart(Event):
    """Node ``node`` comes back with its data."""

    node: str

    def _blocked(self, s: State) -> str | None:
        if (msg := _node_check(s, self.node)) is not None:
            return msg
        if s.node(self.node).up:
            return f"{self.node} is up; Crash it first"
        return None

    def _apply(self, s: State) -> State:
        return _evolve(s, nodes=_with_node(s, self.node, up=True))


@dataclass(frozen=True, kw_only=True)
class RestartWiped(Event):
    """Node ``node`` comes back without its data, as an empty replica (never the primary).

    What it had acknowledged no longer holds: its ``acked`` is cleared, so the lag counts
    those writes again until it re-acknowledges them.
    """

    node: str

    def _blocked(self, s: State) -> str | None:
        if (msg := _node_check(s, self.node)) is not None:
            return msg
        if s.node(self.node).up:
            return f"{self.node} is up; Crash it first"
        if self.node == s.primary:
            return (
                f"{self.node} is the primary; a primary that lost its data must not serve "
                "again: Failover first, or Restart it with its data"
            )
        return None

    def _apply(self, s: State) -> State:
        return _evolve(s, nodes=_with_node(s, self.node, up=True, log=(), acked=0, stale=False))


def _link_check(s: State, src: str, dst: str) -> str | None:
    if (src, dst) not in s.params.links:
        return (
            f"the link {src} -> {dst} may not be cut in this model; add the pair to Params.cuttable"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class Cut(Event):
    """The link ``src`` -> ``dst`` drops traffic."""

    src: str
    dst: str

    def _blocked(self, s: State) -> str | None:
        if (msg := _link_check(s, self.src, self.dst)) is not None:
            return msg
        if (self.src, self.dst) in s.cut:
            return f"the link {self.src} -> {self.dst} is already cut"
        return None

    def _apply(self, s: State) -> State:
        return _evolve(s, cut=s.cut | {(self.src, self.dst)})


@dataclass(frozen=True, kw_only=True)
class Heal(Event):
    """The link ``src`` -> ``dst`` passes traffic again."""

    src: str
    dst: str

    def _blocked(self, s: State) -> str | None:
        if (self.src, self.dst) not in s.cut:
            return f"the link {self.src} -> {self.dst} is not cut"
        return None

    def _apply(self, s: State) -> State:
        return _evolve(s, cut=s.cut - {(self.src, self.dst)})


@dataclass(frozen=True, kw_only=True)
class Failover(Event):
    """The controller promotes ``node`` and starts a new term.

    Correct failover (``named=False``): the primary is down and ``node`` is a candidate (up,
    not stale) with the longest log; with the promote-stale bug, any candidate. A named
    failover (``named=True``, only with ``Params.named_failover``) promotes any up,
    non-stale replica, primary down or not; the old primary's waiting writes end ``info``.
    """

    node: str
    named: bool = False

    def __repr__(self) -> str:
        named = ", named=True" if self.named else ""
        return f"Failover(node={self.node!r}{named})"

    def _blocked(self, s: State) -> str | None:
        if (msg := _node_check(s, self.node)) is not None:
            return msg
        if self.node == s.primary:
            return f"{self.node} is already the primary"
        n = s.node(self.node)
        if not n.up:
            return f"{self.node} is down; only a running replica can be promoted"
        if n.stale:
            return f"{self.node} is stale since the last failover; Rejoin it first"
        if self.named:
            if not s.params.named_failover:
                return "named failovers are off; set Params.named_failover=True"
            return None
        if s.node(s.primary).up:
            return (
                f"the primary {s.primary} is up; a correct failover needs it down "
                "(Crash it, or use a named failover)"
            )
        longest = max(len(c.log) for c in _candidates(s))
        if len(n.log) < longest and not _has(s, Bug.PROMOTE_STALE):
            return (
                f"{self.node} holds {len(n.log)} entries but a candidate holds {longest}; "
                "a correct failover promotes a most up-to-date candidate"
            )
        return None

    def _apply(self, s: State) -> State:
        new_log = s.node(self.node).log
        nodes = tuple(
            _evolve(n, acked=0, stale=n.name != self.node and not _is_prefix(n.log, new_log))
            for n in s.nodes
        )
        return _evolve(
            s,
            primary=self.node,
            term=s.term + 1,
            nodes=nodes,
            writes=_end_pending(s.writes),
        )


@dataclass(frozen=True, kw_only=True)
class Rejoin(Event):
    """Stale node ``node`` discards every entry the primary does not have."""

    node: str

    def _blocked(self, s: State) -> str | None:
        if (msg := _node_check(s, self.node)) is not None:
            return msg
        n = s.node(self.node)
        if not n.stale:
            return f"{self.node} is not stale; only a node diverged by a failover rejoins"
        if not n.up:
            return f"{self.node} is down; Restart it first"
        if not s.node(s.primary).up:
            return f"the primary {s.primary} is down"
        if (s.primary, self.node) in s.cut:
            return f"the link {s.primary} -> {self.node} is cut; Heal it first"
        return None

    def _apply(self, s: State) -> State:
        log = _common_prefix(s.node(self.node).log, s.primary_log)
        return _evolve(s, nodes=_with_node(s, self.node, log=log, stale=False))


# --------------------------------------------------------------------------------------
# The machine


def step(state: State, event: Event) -> State:
    """The state after ``event``; raises :class:`DisabledEvent` if it cannot happen now."""
    reason = event._blocked(state)
    if reason is not None:
        raise DisabledEvent(f"{event!r} cannot happen now: {reason}")
    return event._apply(state)


@lru_cache(maxsize=32)
def _static_events(params: Params) -> tuple[tuple[Event, ...], tuple[Event, ...]]:
    """The events that do not name a write, split around where the per-write ones go."""
    before: tuple[Event, ...] = (ClientWrite(),)
    after: list[Event] = []
    for name in params.names:
        after += (
            ReplicateNext(node=name),
            ReplicateSkipping(node=name),
            Acknowledge(node=name),
            Crash(node=name),
            Restart(node=name),
            RestartWiped(node=name),
            Failover(node=name),
            Rejoin(node=name),
        )
    after += (AZOutage(az=az) for az in params.azs)
    for src, dst in params.links:
        after += (Cut(src=src, dst=dst), Heal(src=src, dst=dst))
    after += (ReportLag(), Tick())
    if params.named_failover:
        after += (Failover(node=name, named=True) for name in params.names)
    return before, tuple(after)


def _possible_events(s: State) -> Iterator[Event]:
    """Every event worth asking about, enabled or not, in a fixed order."""
    before, after = _static_events(s.params)
    yield from before
    for w in s.writes:
        if w.status is Status.PENDING:
            yield Complete(write=w.id)
            yield TimeOut(write=w.id)
    yield from after


def enabled(state: State) -> tuple[Event, ...]:
    """Every event that can happen in ``state``, in a fixed order."""
    return tuple(e for e in _possible_events(state) if e._blocked(state) is None)


def successors(state: State) -> tuple[tuple[Event, State], ...]:
    """Every (event, next state) pair; several events may lead to the same state."""
    return tuple((e, e._apply(state)) for e in enabled(state))


def outcomes(state: State, *patterns: Event | type[Event]) -> frozenset[State]:
    """Every state one event matching a pattern may lead to: the nondeterministic step.

    A pattern is an event (it matches itself) or an event class (it matches every event of
    that class: "a failover happened, to some node"). Give several patterns for an operation
    whose result is unknown, e.g. ``outcomes(s, Complete(write=3), TimeOut(write=3))``. An
    empty set means no matching event is enabled.
    """
    if not patterns:
        raise TypeError("outcomes() needs at least one pattern: an event or an event class")
    found: set[State] = set()
    for e in enabled(state):
        for pat in patterns:
            if (isinstance(pat, type) and isinstance(e, pat)) or e == pat:
                found.add(e._apply(state))
                break
    return frozenset(found)


# --------------------------------------------------------------------------------------
# Queries


def survivors(state: State) -> frozenset[int]:
    """Writes on the current primary (down or not): what a read there would return."""
    return frozenset(state.primary_log)


def lost(state: State) -> frozenset[int]:
    """Acknowledged writes the current primary does not hold."""
    log = set(state.primary_log)
    return frozenset(w.id for w in state.writes if w.status is Status.OK and w.id not in log)


def failover_picks(state: State) -> frozenset[str]:
    """The nodes a correct failover would promote if the primary failed now: the candidates
    (up, not stale, not the primary) with the longest log. Empty if there is no candidate."""
    cands = _candidates(state)
    if not cands:
        return frozenset()
    longest = max(len(n.log) for n in cands)
    return frozenset(n.name for n in cands if len(n.log) == longest)


def must_survive(state: State) -> frozenset[int]:
    """Writes that, by the promise, must be on whatever node a correct failover picks.

    In sync mode: every acknowledged write (``acked-writes-survive``, for one failure). In
    async and none modes no single write is promised (async bounds how much is lost, not
    what), so the set is empty.
    """
    if state.params.mode is not Mode.SYNC:
        return frozenset()
    return frozenset(w.id for w in state.writes if w.status is Status.OK)


def may_appear(state: State) -> frozenset[int]:
    """Writes some node holds: no other write can ever be read again."""
    return frozenset(w for n in state.nodes for w in n.log)


def must_not_appear(state: State) -> frozenset[int]:
    """Writes rejected cleanly (``fail``): by the promise no node may ever hold them.

    Writes never invoked (ids above ``len(state.writes)``) cannot appear either.
    """
    return frozenset(w.id for w in state.writes if w.status is Status.FAIL)


def allowed_outcomes(state: State, write: int) -> frozenset[Status]:
    """The statuses ``write`` may still end with.

    For an invoked write: its status if decided, else ``{ok, info}`` (a pending sync write
    completes or times out). For the next write (``len(state.writes) + 1``) invoked now: what
    :class:`ClientWrite` would give — ``{fail}`` when it must be rejected (e.g. sync with
    fewer than K eligible replicas connected), ``{ok, info}`` when it would wait for sync
    replicas, ``{ok}`` otherwise; empty when it cannot be invoked (the primary is down or
    ``max_writes`` is reached).
    """
    n = len(state.writes)
    if 1 <= write <= n:
        status = state.writes[write - 1].status
        if status is Status.PENDING:
            return frozenset({Status.OK, Status.INFO})
        return frozenset({status})
    if write != n + 1:
        raise ValueError(
            f"write {write} is neither invoked (1..{n}) nor the next one ({n + 1}); "
            "ask about an invoked write or the next"
        )
    if ClientWrite()._blocked(state) is not None:
        return frozenset()
    _, _, status = _write_decision(state)
    if status is Status.PENDING:
        return frozenset({Status.OK, Status.INFO})
    return frozenset({status})


EVENT_TYPES: tuple[type[Event], ...] = (
    ClientWrite,
    Complete,
    TimeOut,
    ReplicateNext,
    ReplicateSkipping,
    Acknowledge,
    ReportLag,
    Tick,
    Crash,
    AZOutage,
    Restart,
    RestartWiped,
    Cut,
    Heal,
    Failover,
    Rejoin,
)
"""Every event class. Each mirrors the action of specs/Durability.tla with the same name."""
