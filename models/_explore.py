"""The promises as state invariants, and a breadth-first explorer of the exact model.

The invariants carry the names of the invariants of ``specs/Durability.tla`` and say the
same thing; ``explore`` does what TLC does with a configuration of that spec: it visits every
reachable state once, breadth first, checks each invariant in every state, and on a
violation returns a shortest trace to it. ``tests/spec`` runs both on the same constants
and requires the same number of distinct states and the same verdicts.

The promises speak of a single failure (one node or one AZ) followed by a failover, so they
are meant to be checked with ``Params.max_crashes <= 1``. ``LagMetricNotUnderreported``
compares the last lag report with the writes lost in a failover after it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from models._exact import Event, Mode, Params, State, Status, init, lost, successors

__all__ = ["INVARIANTS", "ExploreResult", "Violation", "explore"]


def _type_ok(s: State) -> bool:
    p = s.params
    max_term = None if p.named_failover else p.max_crashes + 1
    n_writes = len(s.writes)
    if not (0 <= s.now <= p.max_time and s.term >= 1):
        return False
    if max_term is not None and s.term > max_term:
        return False
    if s.primary not in p.index or n_writes > p.max_writes:
        return False
    if tuple(n.name for n in s.nodes) != p.names:
        return False
    for n in s.nodes:
        if not isinstance(n.up, bool) or not isinstance(n.stale, bool):
            return False
        if len(n.log) > p.max_writes or any(not 1 <= w <= n_writes for w in n.log):
            return False
        if not 0 <= n.acked <= p.max_writes:
            return False
    if not s.cut <= set(p.links):
        return False
    for i, w in enumerate(s.writes, start=1):
        if w.id != i or not isinstance(w.status, Status) or not isinstance(w.applied, bool):
            return False
        if not 0 <= w.invoked_at <= p.max_time or not w.term >= 1:
            return False
        if max_term is not None and w.term > max_term:
            return False
    if not 0 <= s.crashes <= p.max_crashes:
        return False
    r = s.lag_report
    return r is None or (
        0 <= r.at <= p.max_time
        and 0 <= r.value <= p.max_time
        and r.term >= 1
        and (max_term is None or r.term <= max_term)
    )


def _acked_writes_survive(s: State) -> bool:
    return s.params.mode is not Mode.SYNC or not lost(s)


def _loss_window_bounded(s: State) -> bool:
    if s.params.mode is not Mode.ASYNC:
        return True
    gone = lost(s)
    if not gone:
        return True
    times = [s.writes[w - 1].invoked_at for w in gone]
    return max(times) - min(times) <= s.params.lag_limit


def _no_holes(s: State) -> bool:
    held = set(s.primary_log)
    for w1 in s.writes:
        if w1.status is not Status.OK or w1.id in held:
            continue
        for w2 in s.writes[w1.id :]:
            if w2.term == w1.term and w2.id in held:
                return False
    return True


def _rejected_writes_not_applied(s: State) -> bool:
    rejected = {w.id for w in s.writes if w.status is Status.FAIL}
    return not any(w in rejected for n in s.nodes for w in n.log)


def _lag_metric_not_underreported(s: State) -> bool:
    r = s.lag_report
    if r is None or r.term >= s.term:
        return True
    for w in lost(s):
        at = s.writes[w - 1].invoked_at
        if at <= r.at and r.value < r.at - at:
            return False
    return True


INVARIANTS: Mapping[str, Callable[[State], bool]] = {
    "TypeOK": _type_ok,
    "AckedWritesSurvive": _acked_writes_survive,
    "LossWindowBounded": _loss_window_bounded,
    "NoHoles": _no_holes,
    "RejectedWritesNotApplied": _rejected_writes_not_applied,
    "LagMetricNotUnderreported": _lag_metric_not_underreported,
}
"""The invariants, by their names in specs/Durability.tla, in the order the configs check
them. Each maps a state to True when the state satisfies it."""


@dataclass(frozen=True, kw_only=True)
class Violation:
    """An invariant a reachable state violates, with a shortest trace to such a state.

    ``trace`` starts with ``(None, initial state)``; each later entry is the event taken and
    the state it led to; the last state violates ``invariant``.
    """

    invariant: str
    trace: tuple[tuple[Event | None, State], ...]

    def render(self) -> str:
        """The trace as a program: the events in order, ready to paste into a test."""
        lines = [f"# violates {self.invariant} after {len(self.trace) - 1} event(s)"]
        lines.append("s = init(params)")
        lines.extend(f"s = step(s, {e!r})" for e, _ in self.trace[1:])
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class ExploreResult:
    """What :func:`explore` found.

    ``distinct_states`` counts the states visited, as TLC's "distinct states found";
    ``depth`` is the number of breadth-first levels, as TLC's "depth of the complete state
    graph search" (the initial state is level 1). ``violation`` is the first violation found
    (a shortest one), ``violated`` every invariant violated somewhere (all of them only when
    the search was not stopped at the first violation). ``complete`` says whether every
    reachable state was visited.
    """

    params: Params
    distinct_states: int
    depth: int
    violation: Violation | None
    violated: frozenset[str]
    complete: bool


def _trace(
    parents: Mapping[State, tuple[State, Event] | None], last: State
) -> tuple[tuple[Event | None, State], ...]:
    steps: list[tuple[Event | None, State]] = []
    cur = last
    while True:
        parent = parents[cur]
        if parent is None:
            steps.append((None, cur))
            break
        prev, event = parent
        steps.append((event, cur))
        cur = prev
    return tuple(reversed(steps))


def explore(
    params: Params,
    *,
    invariants: Sequence[str] | None = None,
    stop_at_first: bool = True,
    max_states: int | None = None,
) -> ExploreResult:
    """Visit every state reachable from :func:`init` breadth first, checking invariants.

    ``invariants`` names the invariants to check (default: all of :data:`INVARIANTS`, in
    order; in a state that violates several, the first in this order is reported).
    With ``stop_at_first`` the search ends at the first violation, like TLC; without it,
    it visits everything and reports every invariant violated. ``max_states`` stops the
    search after that many distinct states (the result is then not ``complete``).
    """
    names = tuple(INVARIANTS) if invariants is None else tuple(invariants)
    for name in names:
        if name not in INVARIANTS:
            raise ValueError(
                f"explore(invariants=...) names {name!r}, which is not an invariant; "
                f"use names from {', '.join(INVARIANTS)}"
            )
    checks = [(name, INVARIANTS[name]) for name in names]
    start = init(params)
    parents: dict[State, tuple[State, Event] | None] = {start: None}
    first: Violation | None = None
    violated: set[str] = set()

    def check(s: State) -> bool:
        """Record violations in ``s``; True when the search must stop."""
        nonlocal first
        for name, pred in checks:
            if not pred(s):
                violated.add(name)
                if first is None:
                    first = Violation(invariant=name, trace=_trace(parents, s))
                if stop_at_first:
                    return True
        return False

    depth = 1
    if check(start):
        return ExploreResult(
            params=params,
            distinct_states=1,
            depth=1,
            violation=first,
            violated=frozenset(violated),
            complete=False,
        )
    frontier: deque[State] = deque([start])
    level_end = start
    next_level_end: State | None = None
    while frontier:
        s = frontier.popleft()
        for event, t in successors(s):
            if t in parents:
                continue
            parents[t] = (s, event)
            frontier.append(t)
            next_level_end = t
            if check(t) or (max_states is not None and len(parents) >= max_states):
                return ExploreResult(
                    params=params,
                    distinct_states=len(parents),
                    depth=depth + 1,
                    violation=first,
                    violated=frozenset(violated),
                    complete=False,
                )
        if s is level_end and next_level_end is not None:
            depth += 1
            level_end = next_level_end
            next_level_end = None
    return ExploreResult(
        params=params,
        distinct_states=len(parents),
        depth=depth,
        violation=first,
        violated=frozenset(violated),
        complete=True,
    )
