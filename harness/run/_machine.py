"""The Hypothesis state machine of a conformance run.

Rules are client steps (writes, reads, bursts of background writes, waits) and faults, each
with its parameters. Nodes are named by role — ``primary``, ``replica-1``, ``replica-2`` —
and resolved when the step runs, so a step means the same thing before and after a failover
and the *choice* of steps never depends on what the servers did (Hypothesis needs that to
replay and shrink). A step that does not apply at that moment (resume with nothing paused)
does nothing.

After every step the history so far is judged (the model is the oracle: an outcome it does
not allow, such as a sync write acknowledged while no eligible replica could have it, ends
the example's work at once); teardown heals, waits, reads everything and judges the whole
history. A violation is raised only in teardown: Hypothesis must see every example draw
the same steps whatever the servers did, or it cannot replay and shrink them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from harness._errors import AckboundError
from harness.cluster._backend import ClusterError
from harness.run._example import WORKLOADS, Example, ExampleRecord
from harness.run._interrupt import check_interrupted

if TYPE_CHECKING:
    from harness.run._runner import ModeRun

__all__ = ["DurabilityViolation", "canon", "make_machine"]


class DurabilityViolation(AssertionError):
    """An example broke a durability property; the message names them."""


def _roles(n_nodes: int) -> list[str]:
    return ["primary"] + [f"replica-{i}" for i in range(1, n_nodes)]


def _scaled_ms(lag_ms: int, factor: float) -> int:
    """A duration of ``factor`` lag limits, in ms (at least 20 ms)."""
    return max(20, round(lag_ms * factor))


def canon(run: ModeRun) -> list[list[dict[str, Any]]]:
    """The textbook scenarios of the promises, as step programs a run tries first.

    A random search finds a bug when it happens to draw the scenario that exposes it; these
    are the scenarios the promises are written about, so every run starts with them (each
    is an ordinary example, recorded, judged and shrunk like any other) before Hypothesis
    explores. Programs using a fault the run leaves out (``--faults``) are skipped; the
    comments say what each is for (docs/run.md lists them).
    """
    lag_ms = run.setup.lag_limit_ms
    enabled = {name.replace("-", "_") for name in run.config.faults}
    hold = _scaled_ms(lag_ms, 4.0)

    def step(rule: str, **args: Any) -> dict[str, Any]:
        return {"rule": rule, "args": args}

    def burst(factor: float) -> dict[str, Any]:
        return step("burst", seconds=round(lag_ms * factor / 1000, 3))

    def wait(factor: float) -> dict[str, Any]:
        return step("wait", ms=_scaled_ms(lag_ms, factor))

    writes = step("writes", workload="list", key=0, count=4)
    read = step("read", workload="list", key=0)
    programs: list[tuple[set[str], list[dict[str, Any]]]] = [
        # No fault at all: under steady load nothing acknowledged may go missing.
        (set(), [writes, burst(1.5), wait(1.2), writes, read]),
        # The primary crashes right after acknowledging writes; the controller fails over.
        (
            {"kill", "restart"},
            [writes, step("kill", node="primary"), step("restart"), writes, read],
        ),
        # Replication falls behind under load, then the primary is lost: what an async loss
        # window bounds, and what a sync acknowledgement must survive.
        (
            {"slow_link", "kill", "heal"},
            [
                writes,
                step("isolate", fault="slow-link", node="primary", hold_ms=hold, then="failover"),
                writes,
                read,
            ],
        ),
        # No replica can acknowledge: rejections, the lag metric, writes resuming after.
        (
            {"partition", "heal"},
            [
                writes,
                step("isolate", fault="partition", node="replicas", hold_ms=hold, then="heal"),
                writes,
                read,
            ],
        ),
        # A primary that stalls (a VM freeze, a long GC pause) while its replication lags:
        # the controller fails over, the new primary takes writes, and the old one comes
        # back with a tail nobody else has, which it must discard when it rejoins.
        (
            {"slow_link", "pause", "failover", "heal"},
            [
                step("slow_link", node="primary", bandwidth=500, latency_ms=50),
                writes,
                wait(1.2),
                step("pause", node="primary"),
                step("failover"),
                burst(3.0),
                wait(2.5),
                step("heal"),
                writes,
                read,
            ],
        ),
    ]
    # A replica down while clients write: a sync acknowledgement must still come from a
    # replica in another AZ (with nodes sharing an AZ, one of these leaves only a same-AZ
    # replica up), and the replica must catch up when it returns.
    programs += [
        (
            {"kill", "restart"},
            [step("kill", node=f"replica-{k}"), writes, step("restart"), writes, read],
        )
        for k in range(1, len(run.cluster.nodes))
    ]
    return [steps for needs, steps in programs if needs <= enabled]


def make_machine(run: ModeRun) -> type[RuleBasedStateMachine]:
    """A state machine class bound to one mode of one run."""
    setup = run.setup
    lag_ms = setup.lag_limit_ms
    roles = st.sampled_from(_roles(len(run.cluster.nodes)))
    # Faults may also hit every replica at once: isolating the primary in one step is how
    # most durability bugs show, and a random search should not have to stumble on it.
    groups = st.sampled_from([*_roles(len(run.cluster.nodes)), "replicas"])
    enabled = {name.replace("-", "_") for name in run.config.faults}
    episode_faults = [
        f for f in ("partition", "pause", "kill", "slow-link") if f.replace("-", "_") in enabled
    ]
    waits = st.sampled_from(sorted({_scaled_ms(lag_ms, f) for f in (0.1, 0.3, 1.2, 2.5)}))
    # How long an episode holds its fault: long enough for the lag to build under load, and
    # past L + the target's tolerance (short faults are the single fault rules' business).
    holds = st.sampled_from(sorted({_scaled_ms(lag_ms, f) for f in (1.2, 2.5, 4.0)}))
    isolating = [f for f in ("slow-link", "partition") if f.replace("-", "_") in enabled]
    bursts = st.sampled_from([round(lag_ms * f / 1000, 3) for f in (0.5, 1.5, 3.0)])
    workloads = st.sampled_from(WORKLOADS)
    keys = st.integers(0, 2)

    class DurabilityMachine(RuleBasedStateMachine):
        """Writes, reads, load, time and faults against one cluster (see the module doc)."""

        def __init__(self) -> None:
            run.before_example()
            super().__init__()
            self.ex: Example = run.new_example()
            self.record = ExampleRecord(
                id=self.ex.id, steps=self.ex.steps, history=self.ex.dir / "history.ndjson"
            )
            self.failed = False

        # -- plumbing ----------------------------------------------------------------------
        def _step(self, name: str, **args: Any) -> bool:
            """Record a step; False once the example has failed (the step is then skipped)."""
            check_interrupted()
            if self.failed or self.ex.broken:
                return False
            self.ex.steps.append({"rule": name, "args": args})
            run.progress_step()
            return True

        def _after(self) -> None:
            """Judge the history so far; an outcome the model forbids ends the example's
            work (later steps are skipped) and is raised in teardown."""
            try:
                result = self.ex.judge()
            except ClusterError as exc:  # a node stopped on its own: nothing to judge
                self.ex.broken = str(exc)
                return
            except Exception as exc:  # a history the checker cannot read: the harness's fault
                self.ex.broken = f"judge: {type(exc).__name__}: {exc}"
                return
            if result["valid"] is False:
                self.failed = True
                self.record.result = result
                self.record.early = True
                self.ex.stop_background()
                self._finish_record()

        def _finish_record(self) -> None:
            self.record.duration_s = round(time.monotonic() - self.ex.started, 3)
            self.record.faults_fired = dict(self.ex.faults_fired)
            run.record(self.record)

        def _node(self, role: str) -> str:
            """The node playing ``role`` now (``replicas`` means the first replica)."""
            return self._nodes(role)[0]

        def _nodes(self, role: str) -> list[str]:
            """The nodes a role names now: one, or every replica for ``replicas``."""
            c = run.cluster
            primary = c.primary
            replicas = [n.name for n in c.nodes if n.name != primary]
            if role == "primary":
                return [primary]
            if role == "replicas":
                return replicas
            k = role.removeprefix("replica-")
            if not (role.startswith("replica-") and k.isdigit() and 1 <= int(k) <= len(replicas)):
                raise AckboundError(  # only a hand-edited program names another
                    f"node={role!r} is not a role of this cluster; use primary, replicas or "
                    f"replica-1..{len(replicas)}"
                )
            return [replicas[int(k) - 1]]

        def _up(self) -> list[str]:
            return [n.name for n in run.cluster.nodes if n.status == "up"]

        def _fault(self, name: str, **params: Any) -> None:
            self.ex.fault(name, **params)
            run.progress_fault(name)

        # -- client steps ------------------------------------------------------------------
        @rule(workload=workloads, key=keys)
        def write(self, workload: str, key: int) -> None:
            if not self._step("write", workload=workload, key=key):
                return
            self.ex.write(workload, key)
            self._after()

        @rule(workload=workloads, key=keys, count=st.integers(2, 6))
        def writes(self, workload: str, key: int, count: int) -> None:
            if not self._step("writes", workload=workload, key=key, count=count):
                return
            for _ in range(count):
                self.ex.write(workload, key)
            self._after()

        @rule(
            workload=workloads, key=keys, node=st.sampled_from(_roles(len(run.cluster.nodes))[1:])
        )
        def write_replica(self, workload: str, key: int, node: str) -> None:
            """A client that missed a failover writes to a replica: it must be refused."""
            if not self._step("write_replica", workload=workload, key=key, node=node):
                return
            self.ex.write(workload, key, node=self._node(node))
            self._after()

        @rule(workload=workloads, key=keys)
        def read(self, workload: str, key: int) -> None:
            if not self._step("read", workload=workload, key=key):
                return
            self.ex.read(workload, key)
            self._after()

        @rule(seconds=bursts)
        def burst(self, seconds: float) -> None:
            if not self._step("burst", seconds=seconds):
                return
            self.ex.burst(seconds)
            self._after()

        @rule(ms=waits)
        def wait(self, ms: int) -> None:
            if not self._step("wait", ms=ms):
                return
            self.ex.wait(ms)
            self._after()

        # -- faults ------------------------------------------------------------------------
        @rule(node=groups)
        def kill(self, node: str) -> None:
            if not self._step("kill", node=node):
                return
            for name in self._nodes(node):
                if len(self._up()) > 1:  # a cluster with no node left tests nothing
                    self._fault("kill", node=name)
            self._after()

        @rule()
        def restart(self) -> None:
            if not self._step("restart"):
                return
            down = sorted(n.name for n in run.cluster.nodes if n.status == "down")
            if down:
                self._fault("restart", node=down[0])
            self._after()

        @rule(node=roles)
        def wipe_restart(self, node: str) -> None:
            if not self._step("wipe_restart", node=node):
                return
            self._fault("wipe-restart", node=self._node(node))
            self._after()

        @rule(node=groups)
        def pause(self, node: str) -> None:
            if not self._step("pause", node=node):
                return
            for name in self._nodes(node):
                if len(self._up()) > 1:
                    self._fault("pause", node=name)
            self._after()

        @rule()
        def resume(self) -> None:
            if not self._step("resume"):
                return
            paused = sorted(n.name for n in run.cluster.nodes if n.status == "paused")
            if paused:
                self._fault("resume", node=paused[0])
            self._after()

        @rule(node=groups, direction=st.sampled_from(["both", "in", "out"]))
        def partition(self, node: str, direction: str) -> None:
            if not self._step("partition", node=node, direction=direction):
                return
            for name in self._nodes(node):
                self._fault("partition", node=name, direction=direction)
            self._after()

        @rule(
            node=groups,
            bandwidth=st.sampled_from([2_000, 20_000, 200_000]),
            latency_ms=st.sampled_from([0, 50, 250]),
        )
        def slow_link(self, node: str, bandwidth: int, latency_ms: int) -> None:
            if not self._step("slow_link", node=node, bandwidth=bandwidth, latency_ms=latency_ms):
                return
            for name in self._nodes(node):
                params: dict[str, Any] = {"node": name, "bandwidth": bandwidth}
                if latency_ms:
                    params["latency_ms"] = latency_ms
                self._fault("slow-link", **params)
            self._after()

        @rule()
        def failover(self) -> None:
            if not self._step("failover"):
                return
            self._fault("failover")
            self._after()

        @rule(node=roles)
        def az_outage(self, node: str) -> None:
            """Lose the AZ of ``node`` (unless that would leave no node at all)."""
            if not self._step("az_outage", node=node):
                return
            c = run.cluster
            az = c.node(self._node(node)).az
            survivors = [n for n in c.nodes if n.az != az and n.status == "up"]
            if survivors:
                self._fault("az-outage", az=az)
            self._after()

        @rule()
        def heal(self) -> None:
            if not self._step("heal"):
                return
            self._fault("heal")
            self._after()

        # -- fault episodes ----------------------------------------------------------------
        @rule(
            fault=st.sampled_from(episode_faults),
            node=groups,
            hold_ms=holds,
            then=st.sampled_from(["heal", "failover", "stay"]),
        )
        def episode(self, fault: str, node: str, hold_ms: int, then: str) -> None:
            """A fault with its schedule, as a package: break ``node`` (or every replica),
            let time pass under load, then heal — or first fail over, as a managed service
            does when its primary is lost — or leave it broken."""
            if not self._step("episode", fault=fault, node=node, hold_ms=hold_ms, then=then):
                return
            self._episode(fault, node, hold_ms, then)

        @rule(
            fault=st.sampled_from(isolating),
            node=st.sampled_from(["primary", "replicas"]),
            hold_ms=holds,
            then=st.sampled_from(["failover", "heal"]),
        )
        def isolate(self, fault: str, node: str, hold_ms: int, then: str) -> None:
            """The scenario every durability promise speaks of: the primary's replication
            falls behind (its links throttled, or its replicas cut off) while clients keep
            writing, then the primary is lost and the controller fails over — or the
            links heal and replication must catch up."""
            if not self._step("isolate", fault=fault, node=node, hold_ms=hold_ms, then=then):
                return
            self._episode(fault, node, hold_ms, then)

        def _episode(self, fault: str, node: str, hold_ms: int, then: str) -> None:
            if then not in ("heal", "failover", "stay"):  # only a hand-edited program can
                raise AckboundError(f"then={then!r}: use heal, failover or stay")
            for name in self._nodes(node):
                if fault == "partition":
                    self._fault("partition", node=name, direction="both")
                elif fault == "slow-link":
                    self._fault("slow-link", node=name, bandwidth=500, latency_ms=50)
                elif len(self._up()) > 1:
                    self._fault(fault, node=name)
            self.ex.wait(hold_ms)
            self._after()
            if self.failed or self.ex.broken:
                return
            if then == "failover" and "kill" in enabled and len(self._up()) > 1:
                self._fault("kill", node=run.cluster.primary)  # the controller fails over
            if then in ("heal", "failover") and "heal" in enabled:
                self._fault("heal")
            self._after()

        # -- the end -----------------------------------------------------------------------
        def teardown(self) -> None:
            early = self.failed
            if self.ex.broken and not early:
                # The harness could not run this example; it proves nothing either way.
                self.record.error = self.ex.broken
                try:
                    self._finish_record()
                finally:
                    self.ex.close()
                return
            try:
                if not early:
                    try:
                        self.record.result = self.ex.finish()
                    except Exception as exc:
                        self.record.error = f"{type(exc).__name__}: {exc}"
                    self._finish_record()
            finally:
                self.ex.close()
            if self.record.result and self.record.result["valid"] is False:
                raise DurabilityViolation(_summary(self.record.result, early=early))

    for fault_rule in (
        "kill",
        "restart",
        "wipe_restart",
        "pause",
        "resume",
        "partition",
        "slow_link",
        "failover",
        "az_outage",
        "heal",
    ):
        if fault_rule not in enabled:
            setattr(DurabilityMachine, fault_rule, _disabled(fault_rule))
    if not episode_faults:
        DurabilityMachine.episode = _disabled("episode")  # type: ignore[method-assign]
    if not isolating:
        DurabilityMachine.isolate = _disabled("isolate")  # type: ignore[method-assign]
    DurabilityMachine.__name__ = DurabilityMachine.__qualname__ = (
        f"Durability_{run.cluster.target.name}_{setup.mode}".replace("-", "_")
    )
    return DurabilityMachine


def _disabled(name: str) -> Callable[..., None]:
    def step(self: Any, **_: Any) -> None:
        raise RuntimeError(f"fault rule {name!r} is not enabled in this run (--faults)")

    return step


def _summary(result: dict[str, Any], *, early: bool) -> str:
    names = [n for n, p in result["properties"].items() if p["valid"] is False]
    when = "during the steps" if early else "in the final reads"
    first = next(p for p in result["properties"].values() if p["valid"] is False)
    return f"{', '.join(names)} violated {when}: {first['explanation']}"
