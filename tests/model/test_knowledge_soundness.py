"""The checker, fed only what a harness could observe, never accuses the exact model.

Hypothesis drives the exact model (``models._exact``) through random schedules — writes,
replication, acknowledgements, ticks, crashes, AZ outages, wiped restarts, cuts, heals,
failovers, rejoins, lag reports. Each schedule is projected onto what a harness outside the
cluster sees: client writes (invoked, completed), fault effects (docs/history.md) and lag
observations, plus final reads of every node. The checker judges that history.

Soundness: with no bug switched on, no property may be violated — every conclusion of the
knowledge model and the checker must hold in the execution that produced the history.
Teeth: with a bug switched on, the checker catches it on a schedule that exhibits it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.checker import Params as CheckParams
from harness.checker import check
from harness.history import Header, History, Op
from models import (
    Acknowledge,
    AZOutage,
    Bug,
    ClientWrite,
    Complete,
    Crash,
    Cut,
    Event,
    Failover,
    Heal,
    Mode,
    Node,
    Params,
    Rejoin,
    ReplicateNext,
    ReportLag,
    Restart,
    RestartWiped,
    State,
    Status,
    Tick,
    enabled,
    init,
    step,
)

TICK = 1_000_000_000  # one tick of the model is one second of harness time
KEY = "l"


def _value(w: int) -> str:
    return f"w{w}"


class Projector:
    """Records what a harness would observe of an exact-model execution."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.ops: list[Op] = []
        self.seq = 0
        self.tick = 0

    def now(self) -> int:
        self.seq += 1
        return self.tick * TICK + self.seq * 1000

    def add(self, **fields: Any) -> None:
        self.ops.append(Op(index=len(self.ops), **fields))

    def nemesis(self, f: str, effects: list[dict[str, Any]]) -> None:
        t = self.now()
        self.add(time=t, process="nemesis", type="invoke", f=f)
        self.add(time=t, process="nemesis", type="ok", f=f, value={"effects": effects})

    def observe(self, before: State, e: Event, after: State) -> None:
        self._observe(before, e, after)
        # The controller's recover step: a replica seen holding exactly the primary's log.
        caught_up = [
            n.name
            for n in after.nodes
            if n.name != after.primary and n.up and not n.stale and n.log == after.primary_log
        ]
        was = {
            n.name
            for n in before.nodes
            if n.name != before.primary and n.up and not n.stale and n.log == before.primary_log
        }
        fresh = [n for n in caught_up if n not in was or before.primary != after.primary]
        if fresh and after.primary_log:
            self.nemesis("recover", [{"synced": n} for n in fresh])

    def _observe(self, before: State, e: Event, after: State) -> None:
        if isinstance(e, Tick):
            self.tick = after.now
            self.seq = 0
            return
        if isinstance(e, ClientWrite):
            w = after.writes[-1]
            t = self.now()
            self.add(
                time=t,
                process=w.id,
                type="invoke",
                f="write",
                workload="list",
                key=KEY,
                value=_value(w.id),
                node=before.primary,
            )
            if w.status is not Status.PENDING:
                self.add(
                    time=t,
                    process=w.id,
                    type=w.status.value,
                    f="write",
                    workload="list",
                    key=KEY,
                    value=_value(w.id),
                    node=before.primary,
                )
            return
        # Writes that completed with this event (Complete, TimeOut, or a crash ending them).
        for wb, wa in zip(before.writes, after.writes, strict=True):
            if wb.status is Status.PENDING and wa.status is not Status.PENDING:
                self.add(
                    time=self.now(),
                    process=wa.id,
                    type=wa.status.value,
                    f="write",
                    workload="list",
                    key=KEY,
                    value=_value(wa.id),
                    node=before.primary,
                )
        if isinstance(e, Crash):
            self.nemesis("kill", [{"down": e.node}])
        elif isinstance(e, AZOutage):
            nodes = [n.name for n in self.params.nodes if n.az == e.az]
            self.nemesis("az-outage", [{"down": n} for n in nodes if before.node(n).up])
        elif isinstance(e, Restart):
            self.nemesis("restart", [{"up": e.node}])
        elif isinstance(e, RestartWiped):
            self.nemesis("wipe-restart", [{"lose-data": e.node}, {"up": e.node}])
        elif isinstance(e, Cut):
            self.nemesis("partition", [{"cut": [e.src, e.dst]}])
        elif isinstance(e, Heal):
            self.nemesis("heal", [{"heal-link": [e.src, e.dst]}])
        elif isinstance(e, Failover):
            cands = {
                n.name: len(n.log)
                for n in before.nodes
                if n.name != before.primary and n.up and not n.stale
            }
            self.nemesis(
                "failover",
                [{"promote": e.node, "candidates": cands, "by": "named" if e.named else "offset"}],
            )
        elif isinstance(e, Rejoin):
            self.nemesis("rejoin", [{"replicate": e.node, "from": after.primary}])
        elif isinstance(e, ReportLag):
            assert after.lag_report is not None
            t = self.now()
            self.add(time=t, process="observer", type="invoke", f="lag", node=before.primary)
            self.add(
                time=t,
                process="observer",
                type="ok",
                f="lag",
                node=before.primary,
                value=after.lag_report.value * 1000,
            )

    def finish(self, s: State) -> History:
        """Final reads: every node that is up and in step with the primary, and the primary."""
        self.tick = s.now + 1
        self.seq = 0
        for w in s.writes:  # anything still pending is indeterminate at the end
            if w.status is Status.PENDING:
                self.add(
                    time=self.now(),
                    process=w.id,
                    type="info",
                    f="write",
                    workload="list",
                    key=KEY,
                    value=_value(w.id),
                    node=s.primary,
                )
        readers = [s.primary] + [
            n.name for n in s.nodes if n.name != s.primary and n.up and not n.stale
        ]
        for name in readers:
            t = self.now()
            log = [_value(w) for w in s.node(name).log]
            self.add(
                time=t,
                process=0,
                type="invoke",
                f="read",
                workload="list",
                key=KEY,
                node=name,
                final=True,
            )
            self.add(
                time=t,
                process=0,
                type="ok",
                f="read",
                workload="list",
                key=KEY,
                value=log,
                node=name,
                final=True,
            )
        header = Header(
            mode=self.params.mode.value,
            topology={
                "nodes": [{"name": n.name, "az": n.az} for n in self.params.nodes],
                "primary": self.params.primary,
            },
        )
        return History(header=header, ops=tuple(self.ops))


def _check_params(p: Params) -> CheckParams:
    return CheckParams(
        mode=p.mode,
        sync_replicas=p.sync_replicas,
        sync_timeout=p.sync_timeout * TICK,
        lag_limit=p.lag_limit * TICK,
        tolerance=TICK // 100,  # within-tick ordering only; the model itself is exact
        recovery=TICK,
    )


def _run(p: Params, choose: Any, max_steps: int) -> tuple[History, list[Event]]:
    s = init(p)
    proj = Projector(p)
    trace: list[Event] = []
    for _ in range(max_steps):
        events = enabled(s)
        if not events:
            break
        e = choose(events)
        nxt = step(s, e)
        proj.observe(s, e, nxt)
        trace.append(e)
        s = nxt
    return proj.finish(s), trace


MODELS = st.builds(
    lambda mode, azs, lag_limit, timeout, writes, named: Params(
        nodes=(
            Node(name="n1", az="a"),
            Node(name="n2", az="b" if azs == 3 else "a"),
            Node(name="n3", az="c" if azs == 3 else "b"),
        ),
        primary="n1",
        mode=mode,
        sync_replicas=1,
        lag_limit=lag_limit,
        sync_timeout=timeout,
        max_writes=writes,
        max_time=5,
        max_crashes=1,
        named_failover=named,
    ),
    mode=st.sampled_from(list(Mode)),
    azs=st.sampled_from([3, 2]),
    lag_limit=st.integers(1, 2),
    timeout=st.integers(1, 2),
    writes=st.integers(2, 5),
    named=st.booleans(),
)

# The properties the projection can speak to (no heal-with-writes-after: no evidence there).
JUDGED = (
    "acked-writes-survive",
    "loss-window-bounded",
    "lag-metric-not-underreported",
    "no-holes",
    "no-phantom-writes",
    "rejected-writes-not-applied",
    "no-loss-without-failure",
)


@settings(
    max_examples=int(__import__("os").environ.get("SOUND_N", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(p=MODELS, data=st.data())
def test_the_checker_never_accuses_the_correct_model(p: Params, data: st.DataObject) -> None:
    history, trace = _run(p, lambda events: data.draw(st.sampled_from(events)), 40)
    result = check(history, _check_params(p))
    for name in JUDGED:
        prop = result["properties"].get(name)
        if prop is None:
            continue
        assert "error" not in prop, prop["error"]
        assert prop["valid"] is not False, (
            f"{name} accused the correct model:\n{prop['explanation']}\ntrace: {trace}"
        )


def _scripted(p: Params, script: list[Event]) -> dict[str, Any]:
    it = iter(script)
    history, _trace = _run(p, lambda events: next(it), len(script))
    return check(history, _check_params(p))


def _three(mode: Mode, *, azs: int = 3, bugs: frozenset[Bug] = frozenset(), **kw: Any) -> Params:
    return Params(
        nodes=(
            Node(name="n1", az="a"),
            Node(name="n2", az="b" if azs == 3 else "a"),
            Node(name="n3", az="c" if azs == 3 else "b"),
        ),
        primary="n1",
        mode=mode,
        bugs=bugs,
        **{"max_writes": 3, "max_time": 6, "max_crashes": 1, **kw},
    )


def test_teeth_ack_before_replication_is_caught() -> None:
    p = _three(Mode.SYNC, bugs=frozenset({Bug.ACK_BEFORE_REPLICATION}))
    r = _scripted(p, [ClientWrite(), Crash(node="n1"), Failover(node="n2")])
    assert r["properties"]["acked-writes-survive"]["valid"] is False


def test_teeth_same_az_counting_is_caught() -> None:
    p = _three(Mode.SYNC, azs=2, bugs=frozenset({Bug.COUNT_SAME_AZ}))
    # n2 shares n1's AZ; n3 (the only eligible replica) is cut off before the write.
    r = _scripted(
        p,
        [
            Cut(src="n1", dst="n3"),
            ClientWrite(),
            ReplicateNext(node="n2"),
            Acknowledge(node="n2"),
            Complete(write=1),
        ],
    )
    prop = r["properties"]["acked-writes-survive"]
    assert prop["valid"] is False
    assert prop["witnesses"][0]["kind"] == "acked-without-eligible-replica"


def test_teeth_never_reject_is_caught() -> None:
    p = _three(Mode.ASYNC, lag_limit=1, bugs=frozenset({Bug.NEVER_REJECT}))
    r = _scripted(
        p,
        [
            Cut(src="n1", dst="n2"),
            Cut(src="n1", dst="n3"),
            ClientWrite(),
            Tick(),
            Tick(),
            Tick(),
            ClientWrite(),
        ],
    )
    assert r["properties"]["loss-window-bounded"]["valid"] is False


def test_teeth_reject_by_newest_is_caught() -> None:
    p = _three(Mode.ASYNC, lag_limit=1, bugs=frozenset({Bug.REJECT_BY_NEWEST}))
    # A write every tick keeps the newest unacknowledged one young: the third is accepted
    # though the oldest is 2 ticks old.
    r = _scripted(
        p,
        [
            Cut(src="n1", dst="n2"),
            Cut(src="n1", dst="n3"),
            ClientWrite(),
            Tick(),
            ClientWrite(),
            Tick(),
            ClientWrite(),
        ],
    )
    assert r["properties"]["loss-window-bounded"]["valid"] is False


def test_teeth_underreported_lag_is_caught() -> None:
    p = _three(Mode.ASYNC, lag_limit=3, bugs=frozenset({Bug.UNDERREPORT_LAG}))
    r = _scripted(
        p,
        [
            Cut(src="n1", dst="n2"),
            Cut(src="n1", dst="n3"),
            ClientWrite(),
            Tick(),
            Tick(),
            ClientWrite(),
            ReportLag(),
        ],
    )
    assert r["properties"]["lag-metric-not-underreported"]["valid"] is False


def test_teeth_applied_rejection_is_caught() -> None:
    p = _three(Mode.SYNC, bugs=frozenset({Bug.APPLY_REJECTED}))
    r = _scripted(p, [Cut(src="n1", dst="n2"), Cut(src="n1", dst="n3"), ClientWrite()])
    assert r["properties"]["rejected-writes-not-applied"]["valid"] is False


@pytest.mark.parametrize("mode", list(Mode))
def test_a_quiet_schedule_is_judged_valid(mode: Mode) -> None:
    """Evidence, not just absence of accusation: a plain replicated write holds up."""
    p = _three(mode)
    script: list[Event] = [ClientWrite(), ReplicateNext(node="n2"), Acknowledge(node="n2")]
    if mode is Mode.SYNC:
        script.append(Complete(write=1))
    r = _scripted(p, script)
    assert r["properties"]["no-holes"]["valid"] is True
    assert r["properties"]["no-loss-without-failure"]["valid"] is True
    assert r["valid"] in (True, "unknown")
