"""Property tests of the exact model (models._exact) and its explorer (models._explore).

Schedules are drawn by Hypothesis one enabled event at a time, so every schedule is a real
behaviour of the model. The promises are checked in every state of every schedule; each bug
is shown, on an explicit schedule, to break the promise it is named for.
"""

from __future__ import annotations

import doctest

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models._exact as exact
from models._exact import (
    Acknowledge,
    AZOutage,
    Bug,
    ClientWrite,
    Complete,
    Crash,
    Cut,
    DisabledEvent,
    Event,
    Failover,
    Mode,
    Node,
    Params,
    ReplicateNext,
    ReplicateSkipping,
    ReportLag,
    Restart,
    RestartWiped,
    State,
    Status,
    Tick,
    TimeOut,
    allowed_outcomes,
    enabled,
    failover_picks,
    init,
    lag,
    lost,
    may_appear,
    must_not_appear,
    must_survive,
    outcomes,
    step,
    successors,
    survivors,
)
from models._explore import INVARIANTS, explore

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def three(mode: Mode, **kw: object) -> Params:
    """Three nodes in three AZs, n1 primary: the topology of the spec's small configs."""
    nodes = (Node(name="n1", az="a"), Node(name="n2", az="b"), Node(name="n3", az="c"))
    return Params(nodes=nodes, primary="n1", mode=mode, **kw)  # type: ignore[arg-type]


@st.composite
def params(draw: st.DrawFn, bugs: frozenset[Bug] = frozenset()) -> Params:
    n = draw(st.integers(2, 4))
    names = [f"n{i}" for i in range(1, n + 1)]
    nodes = tuple(Node(name=x, az=draw(st.sampled_from("abc"))) for x in names)
    return Params(
        nodes=nodes,
        primary=draw(st.sampled_from(names)),
        mode=draw(st.sampled_from(list(Mode))),
        sync_replicas=draw(st.integers(1, 2)),
        lag_limit=draw(st.integers(0, 3)),
        sync_timeout=draw(st.integers(1, 3)),
        max_writes=draw(st.integers(0, 5)),
        max_time=draw(st.integers(0, 6)),
        max_crashes=draw(st.integers(0, 1)),
        bugs=bugs,
    )


def schedule(data: st.DataObject, p: Params, length: int = 40) -> list[tuple[Event, State]]:
    """A behaviour of the model: up to ``length`` events, each drawn among those enabled."""
    s = init(p)
    out: list[tuple[Event, State]] = []
    for _ in range(data.draw(st.integers(0, length), label="length")):
        choices = enabled(s)
        if not choices:
            break
        e = data.draw(st.sampled_from(choices), label="event")
        s = step(s, e)
        out.append((e, s))
    return out


def states_of(p: Params, sched: list[tuple[Event, State]]) -> list[State]:
    return [init(p), *(s for _, s in sched)]


# ---------------------------------------------------------------------------------------
# The promises, in every state of every schedule (correct model, one failure at most)


@SETTINGS
@given(p=params(), data=st.data())
def test_every_invariant_holds_in_every_state(p: Params, data: st.DataObject) -> None:
    for s in states_of(p, schedule(data, p)):
        for name, pred in INVARIANTS.items():
            assert pred(s), f"{name} fails in {s!r}"


@SETTINGS
@given(p=params(), data=st.data())
def test_sync_must_survive_is_on_every_node_a_correct_failover_picks(
    p: Params, data: st.DataObject
) -> None:
    for s in states_of(p, schedule(data, p)):
        # Within the promise: no failure yet (the primary may be the one), or the primary
        # is the node that failed.
        if s.crashes > 0 and s.node(s.primary).up:
            continue
        for name in failover_picks(s):
            assert must_survive(s) <= set(s.node(name).log), (name, s)
        # The failover itself, when it can happen now.
        for t in outcomes(s, Failover):
            assert must_survive(s) <= set(t.primary_log)
            assert must_survive(s) <= survivors(t)


@SETTINGS
@given(p=params(), data=st.data())
def test_rejected_writes_never_appear_in_any_log(p: Params, data: st.DataObject) -> None:
    for s in states_of(p, schedule(data, p)):
        assert not must_not_appear(s) & may_appear(s)
        for w in s.writes:
            assert w.applied == (w.status is not Status.FAIL)
            assert (w.applied_at is None) == (not w.applied)


@SETTINGS
@given(p=params(), data=st.data())
def test_replica_logs_are_prefixes_of_the_primary_log(p: Params, data: st.DataObject) -> None:
    for s in states_of(p, schedule(data, p)):
        primary_log = s.primary_log
        for n in s.nodes:
            if not n.stale:
                assert primary_log[: len(n.log)] == n.log, (n, s)
                assert n.acked <= len(n.log)
        # Within a term the primary's log only grows.
        if s.writes:
            assert set(survivors(s)) <= may_appear(s)


@SETTINGS
@given(p=params(), data=st.data())
def test_the_lag_rule(p: Params, data: st.DataObject) -> None:
    sched = schedule(data, p)
    before = init(p)
    for e, s in sched:
        assert 0 <= lag(before) <= before.now
        if isinstance(e, ClientWrite):
            status = s.writes[-1].status
            allowed = allowed_outcomes(before, len(before.writes) + 1)
            if status is Status.PENDING:
                assert allowed == {Status.OK, Status.INFO}
            else:
                assert allowed == {status}
            if p.mode is Mode.ASYNC:
                # Reject exactly while the lag exceeds the limit; otherwise acknowledge.
                assert (status is Status.FAIL) == (lag(before) > p.lag_limit)
                assert status in (Status.FAIL, Status.OK)
            elif p.mode is Mode.NONE:
                assert status is Status.OK
        before = s


@SETTINGS
@given(p=params(), data=st.data())
def test_sync_writes_wait_for_k_eligible_replicas(p: Params, data: st.DataObject) -> None:
    if p.mode is not Mode.SYNC:
        return
    before = init(p)
    for e, s in schedule(data, p):
        if isinstance(e, Complete):
            off = before.primary_log.index(e.write) + 1
            paz = p.az_of[before.primary]
            ackers = [n for n in before.nodes if n.name != before.primary and n.az != paz]
            # Only running replicas count: a down replica's acknowledgement does not.
            assert sum(n.up and n.acked >= off for n in ackers) >= p.sync_replicas
        if isinstance(e, ClientWrite) and s.writes[-1].status is Status.FAIL:
            # Rejected only with fewer than K eligible replicas connected.
            paz = p.az_of[before.primary]
            connected = [
                n
                for n in before.nodes
                if n.name != before.primary
                and n.az != paz
                and n.up
                and not n.stale
                and (before.primary, n.name) not in before.cut
                and (n.name, before.primary) not in before.cut
            ]
            assert len(connected) < p.sync_replicas
        if isinstance(e, TimeOut):
            assert s.writes[e.write - 1].status is Status.INFO
            assert e.write in s.primary_log  # an indeterminate write stays applied
        before = s


# ---------------------------------------------------------------------------------------
# The machine itself: determinism, step / enabled / successors / outcomes agree


@settings(SETTINGS, max_examples=60)
@given(p=params(), data=st.data())
def test_step_enabled_successors_and_outcomes_agree(p: Params, data: st.DataObject) -> None:
    for s in states_of(p, schedule(data, p, length=25)):
        evs = enabled(s)
        succ = successors(s)
        assert [e for e, _ in succ] == list(evs)
        for e, t in succ:
            assert step(s, e) == t  # deterministic
            assert hash(step(s, e)) == hash(t)
        for cls in exact.EVENT_TYPES:
            assert outcomes(s, cls) == {t for e, t in succ if isinstance(e, cls)}
        # Every event the machine knows of but does not enable is refused, with a reason.
        for e in exact._possible_events(s):
            if e not in evs:
                with pytest.raises(DisabledEvent, match=r"cannot happen now: .+"):
                    step(s, e)


@SETTINGS
@given(p=params(), data=st.data())
def test_allowed_outcomes_cover_what_happens(p: Params, data: st.DataObject) -> None:
    sched = schedule(data, p)
    final = sched[-1][1] if sched else init(p)
    seen: dict[int, frozenset[Status]] = {}
    for s in states_of(p, sched):
        for w in s.writes:
            seen.setdefault(w.id, allowed_outcomes(s, w.id))
    for w in final.writes:
        if w.status is not Status.PENDING:
            assert w.status in seen[w.id]


def test_allowed_outcomes_in_sync_with_no_eligible_replica_reachable() -> None:
    p = three(Mode.SYNC, max_crashes=2)
    s = step(step(init(p), Crash(node="n2")), Crash(node="n3"))
    assert allowed_outcomes(s, 1) == {Status.FAIL}
    s = step(s, ClientWrite())
    assert s.writes[0].status is Status.FAIL
    assert must_not_appear(s) == {1}
    assert allowed_outcomes(s, 1) == {Status.FAIL}
    with pytest.raises(ValueError, match="neither invoked"):
        allowed_outcomes(s, 5)


def test_outcomes_of_a_pending_write_with_unknown_result() -> None:
    p = three(Mode.SYNC, sync_timeout=1, max_time=3)
    s = init(p)
    for e in (ClientWrite(), ReplicateNext(node="n2"), Acknowledge(node="n2"), Tick()):
        s = step(s, e)
    ends = outcomes(s, Complete(write=1), TimeOut(write=1))
    assert {t.writes[0].status for t in ends} == {Status.OK, Status.INFO}
    assert allowed_outcomes(s, 1) == {Status.OK, Status.INFO}
    assert outcomes(s, Failover) == frozenset()  # the primary is up
    with pytest.raises(TypeError, match="at least one pattern"):
        outcomes(s)


def test_disabled_event_names_the_rule_and_the_fix() -> None:
    s = init(three(Mode.SYNC))
    with pytest.raises(DisabledEvent, match=r"ReplicateNext\(node='n2'\).*holds 0 of"):
        step(s, ReplicateNext(node="n2"))
    with pytest.raises(DisabledEvent, match="no node 'n9'"):
        step(s, Crash(node="n9"))
    with pytest.raises(DisabledEvent, match="Crash it"):
        step(s, Failover(node="n2"))
    with pytest.raises(DisabledEvent, match="named failovers are off"):
        step(s, Failover(node="n2", named=True))
    with pytest.raises(DisabledEvent, match=r"add Bug\.SKIP_ENTRY"):
        step(s, ReplicateSkipping(node="n2"))
    with pytest.raises(DisabledEvent, match=r"add the pair to Params\.cuttable"):
        step(init(three(Mode.SYNC, cuttable=frozenset())), Cut(src="n1", dst="n2"))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"mode": "fast"}, "is not a mode"),
        ({"bugs": frozenset({"typo"})}, "is not a bug"),
        ({"primary": "n9"}, "not among the nodes"),
        ({"sync_replicas": 0}, "sync_replicas=0 must be at least 1"),
        ({"cuttable": frozenset({frozenset({"n1"})})}, "two distinct nodes"),
    ],
)
def test_params_are_validated(kw: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"mode": Mode.SYNC, "primary": "n1"}
    base.update(kw)
    nodes = (Node(name="n1", az="a"), Node(name="n2", az="b"))
    with pytest.raises(ValueError, match=message):
        Params(nodes=nodes, **base)  # type: ignore[arg-type]


def test_named_failover_demotes_a_running_primary() -> None:
    p = three(Mode.SYNC, named_failover=True, sync_timeout=2)
    s = init(p)
    for e in (ClientWrite(), ReplicateNext(node="n2")):
        s = step(s, e)
    assert Failover(node="n3", named=True) in enabled(s)
    t = step(s, Failover(node="n3", named=True))
    assert t.primary == "n3" and t.term == 2
    assert t.writes[0].status is Status.INFO  # the demoted primary's waiting write
    assert t.node("n1").stale and t.node("n2").stale  # both hold write 1, n3 does not
    assert all(pred(t) for pred in INVARIANTS.values())


def test_restart_wiped_rejoin_and_stale_nodes() -> None:
    p = three(Mode.NONE, max_writes=3)
    s = init(p)
    for e in (
        ClientWrite(),
        ReplicateNext(node="n2"),
        ClientWrite(),
        Crash(node="n1"),
        Failover(node="n2"),
    ):
        s = step(s, e)
    assert s.node("n1").stale and not s.node("n3").stale
    assert lost(s) == {2}
    with pytest.raises(DisabledEvent, match="Restart it first"):
        step(s, exact.Rejoin(node="n1"))
    with pytest.raises(DisabledEvent, match="Rejoin it first"):
        step(step(s, Restart(node="n1")), ReplicateNext(node="n1"))
    r = step(step(s, Restart(node="n1")), exact.Rejoin(node="n1"))
    assert r.node("n1").log == (1,) and not r.node("n1").stale
    w = step(s, RestartWiped(node="n1"))
    assert w.node("n1").log == () and not w.node("n1").stale


def test_a_crash_keeps_the_acknowledgement_a_wipe_clears_it() -> None:
    # Async, L = 1: n2 and n3 acknowledge write 1, then both go down (a crash keeps the data).
    p = three(Mode.ASYNC, lag_limit=1, max_writes=3, max_time=3)
    s = init(p)
    for e in (
        ClientWrite(),
        ReplicateNext(node="n2"),
        Acknowledge(node="n2"),
        Tick(),
        Crash(node="n2"),
        ClientWrite(),
        Tick(),
        Tick(),
    ):
        s = step(s, e)
    # Write 1 stays acknowledged by the crashed n2: the lag counts from write 2 (tick 1).
    assert s.node("n2").acked == 1 and not s.node("n2").up
    assert lag(s) == 2
    # Had the primary forgotten n2's acknowledgement, the lag would count from write 1.
    w = step(s, RestartWiped(node="n2"))
    assert w.node("n2").acked == 0 and w.node("n2").log == ()
    assert lag(w) == 3  # the wiped replica no longer holds write 1
    r = step(s, Restart(node="n2"))
    assert r.node("n2").acked == 1 and lag(r) == 2


def test_a_down_replica_does_not_complete_a_sync_write() -> None:
    p = three(Mode.SYNC, max_writes=2, sync_timeout=2)
    s = init(p)
    for e in (
        ClientWrite(),
        ReplicateNext(node="n2"),
        ClientWrite(),
        ReplicateNext(node="n2"),
        Acknowledge(node="n2"),
        Crash(node="n2"),
    ):
        s = step(s, e)
    assert s.node("n2").acked == 2
    with pytest.raises(DisabledEvent, match="acknowledged by 0 running eligible"):
        step(s, Complete(write=1))
    r = step(s, Restart(node="n2"))
    assert Complete(write=1) in enabled(r) and Complete(write=2) in enabled(r)


def test_the_module_docstring_tutorial_runs() -> None:
    result = doctest.testmod(exact, raise_on_error=False, verbose=False)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------------
# Each bug breaks its promise on an explicit schedule, and only because of the bug

SYNC = three(Mode.SYNC)
ASYNC = three(Mode.ASYNC)
NONE = three(Mode.NONE)
# Three writes: the newest unacknowledged write must be young while the oldest is not.
ASYNC_3 = three(Mode.ASYNC, max_writes=3)
SAME_AZ = Params(
    nodes=(Node(name="n1", az="a"), Node(name="n2", az="a"), Node(name="n3", az="b")),
    primary="n1",
    mode=Mode.SYNC,
)

BUG_SCHEDULES: list[tuple[Bug, Params, str, list[Event]]] = [
    (
        Bug.ACK_BEFORE_REPLICATION,
        SYNC,
        "AckedWritesSurvive",
        [ClientWrite(), Crash(node="n1"), Failover(node="n2")],
    ),
    (
        Bug.COUNT_SAME_AZ,
        SAME_AZ,
        "AckedWritesSurvive",
        [
            ClientWrite(),
            ReplicateNext(node="n2"),
            Acknowledge(node="n2"),
            Complete(write=1),
            AZOutage(az="a"),
            Failover(node="n3"),
        ],
    ),
    (
        Bug.PROMOTE_STALE,
        SYNC,
        "AckedWritesSurvive",
        [
            ClientWrite(),
            ReplicateNext(node="n2"),
            Acknowledge(node="n2"),
            Complete(write=1),
            Crash(node="n1"),
            Failover(node="n3"),
        ],
    ),
    (
        Bug.NEVER_REJECT,
        ASYNC,
        "LossWindowBounded",
        [ClientWrite(), Tick(), Tick(), ClientWrite(), Crash(node="n1"), Failover(node="n2")],
    ),
    (
        Bug.UNDERREPORT_LAG,
        ASYNC,
        "LagMetricNotUnderreported",
        [
            ClientWrite(),
            Tick(),
            ClientWrite(),
            ReportLag(),
            Crash(node="n1"),
            Failover(node="n2"),
        ],
    ),
    (
        Bug.REJECT_BY_NEWEST,
        ASYNC_3,
        "LossWindowBounded",
        [
            ClientWrite(),
            Tick(),
            ClientWrite(),
            Tick(),
            ClientWrite(),
            Crash(node="n1"),
            Failover(node="n2"),
        ],
    ),
    (
        Bug.APPLY_REJECTED,
        SYNC,
        "RejectedWritesNotApplied",
        [Crash(node="n3"), Cut(src="n2", dst="n1"), ClientWrite()],
    ),
    (
        Bug.SKIP_ENTRY,
        NONE,
        "NoHoles",
        [
            ClientWrite(),
            ClientWrite(),
            ReplicateSkipping(node="n2"),
            Crash(node="n1"),
            Failover(node="n2"),
        ],
    ),
]


def run(p: Params, events: list[Event]) -> State:
    s = init(p)
    for e in events:
        s = step(s, e)
    return s


@pytest.mark.parametrize(
    ("bug", "base", "invariant", "events"), BUG_SCHEDULES, ids=[b.value for b, *_ in BUG_SCHEDULES]
)
def test_each_bug_breaks_its_invariant(
    bug: Bug, base: Params, invariant: str, events: list[Event]
) -> None:
    from dataclasses import replace

    buggy = replace(base, bugs=frozenset({bug}))
    end = run(buggy, events)
    assert not INVARIANTS[invariant](end)
    # Every state before the last satisfies every invariant: the last event breaks it.
    s = init(buggy)
    for e in events[:-1]:
        s = step(s, e)
        assert all(pred(s) for pred in INVARIANTS.values())
    # Without the bug the same schedule is impossible, or harmless.
    try:
        correct_end = run(base, events)
    except DisabledEvent:
        return
    assert INVARIANTS[invariant](correct_end)


def test_every_bug_has_a_schedule() -> None:
    assert {b for b, *_ in BUG_SCHEDULES} == set(Bug)
    assert set(INVARIANTS) - {inv for *_, inv, _ in BUG_SCHEDULES} == {"TypeOK"}


@pytest.mark.parametrize(
    ("bug", "base", "invariant", "events"), BUG_SCHEDULES, ids=[b.value for b, *_ in BUG_SCHEDULES]
)
def test_explore_finds_a_shortest_violation_for_each_bug(
    bug: Bug, base: Params, invariant: str, events: list[Event]
) -> None:
    from dataclasses import replace

    r = explore(
        replace(base, bugs=frozenset({bug}), max_writes=max(2, base.max_writes), max_time=2)
    )
    assert r.violation is not None and r.violation.invariant == invariant
    # Breadth first: no shorter trace exists than the one found, and ours is not shorter.
    assert len(r.violation.trace) - 1 <= len(events)
    rendered = r.violation.render()
    assert rendered.splitlines()[0].startswith(f"# violates {invariant}")
    # The rendered program replays.
    s = init(r.params)
    for e, t in r.violation.trace[1:]:
        assert e is not None
        s = step(s, e)
        assert s == t
    assert not INVARIANTS[invariant](s)


# ---------------------------------------------------------------------------------------
# The explorer


def test_explore_small_correct_model_exhaustively() -> None:
    p = Params(
        nodes=(Node(name="n1", az="a"), Node(name="n2", az="b")),
        primary="n1",
        mode=Mode.SYNC,
        max_writes=2,
        max_time=1,
        cuttable=frozenset({frozenset({"n1", "n2"})}),
    )
    r = explore(p)
    assert r.complete and r.violation is None and not r.violated
    assert r.distinct_states > 100 and r.depth > 5
    again = explore(p)
    assert (again.distinct_states, again.depth) == (r.distinct_states, r.depth)
    partial = explore(p, max_states=50)
    assert not partial.complete and partial.distinct_states == 50


def test_explore_without_stopping_lists_every_violated_invariant() -> None:
    from dataclasses import replace

    p = replace(NONE, bugs=frozenset({Bug.SKIP_ENTRY}), max_time=0, cuttable=frozenset())
    r = explore(p, stop_at_first=False)
    assert r.complete and r.violated == {"NoHoles"}
    only = explore(p, invariants=["TypeOK"])
    assert only.violation is None
    with pytest.raises(ValueError, match="not an invariant"):
        explore(p, invariants=["NoSuchThing"])


def test_type_ok_rejects_states_outside_the_types() -> None:
    # No bug produces an ill-typed state (TypeOK has no buggy config), so show its teeth on
    # hand-made states.
    from dataclasses import replace

    from models._exact import LagReport

    s = run(SYNC, [ClientWrite()])
    type_ok = INVARIANTS["TypeOK"]
    assert type_ok(s)
    n2 = s.node("n2")
    bad = [
        replace(s, now=SYNC.max_time + 1),
        replace(s, term=0),
        replace(s, term=SYNC.max_crashes + 2),
        replace(s, primary="n9"),
        replace(s, nodes=(s.nodes[0], replace(n2, log=(7,)), s.nodes[2])),
        replace(s, nodes=(s.nodes[0], replace(n2, acked=SYNC.max_writes + 1), s.nodes[2])),
        replace(s, cut=frozenset({("n1", "n4")})),
        replace(s, writes=(replace(s.writes[0], id=2),)),
        replace(s, crashes=SYNC.max_crashes + 1),
        replace(s, lag_report=LagReport(at=0, value=SYNC.max_time + 1, term=1)),
    ]
    for state in bad:
        assert not type_ok(state), state
