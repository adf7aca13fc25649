"""One example of the stateful run: a fresh cluster state, a history, clients and load.

An :class:`Example` is what a Hypothesis example acts on. It records every client op, fault
and observation into its own ``history.ndjson`` as it happens, runs background writers
(bursts) while the steps go on, polls the durability lag in async mode, and at the end heals
everything, checks that writes resume, waits for recovery, reads every key from every node
and judges the history with the checker.

Only the *choice* of steps comes from Hypothesis; everything an example does with a real
server is recorded, so a run that fails once is reported with its history even if it passes
when replayed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.checker import Params, check
from harness.cluster._backend import ClusterError
from harness.cluster._client import NOT_RESP
from harness.history import HistoryWriter
from harness.run._interrupt import INTERRUPTED, check_interrupted

if TYPE_CHECKING:
    from harness.cluster import Cluster, RespClient

__all__ = ["WORKLOADS", "Example", "ExampleRecord", "ModeSetup", "checker_params"]

WORKLOADS = ("register", "list", "set", "counter")
KEYS_PER_WORKLOAD = 3
LAG_POLL_S = 0.1
STEADY_PAUSE_S = 0.02  # the steady writer's pause between writes (about 40 writes/s)
MS = 1_000_000


@dataclass(frozen=True, kw_only=True)
class ModeSetup:
    """The mode an example runs in and the timing it is judged by (milliseconds)."""

    mode: str
    sync_replicas: int
    sync_timeout_ms: int
    lag_limit_ms: int
    tolerance_ms: int
    recovery_ms: int

    def mode_params(self) -> dict[str, int]:
        return {
            "sync_replicas": self.sync_replicas,
            "sync_timeout_ms": self.sync_timeout_ms,
            "lag_limit_ms": self.lag_limit_ms,
        }


def checker_params(setup: ModeSetup) -> Params:
    from models import Mode

    return Params(
        mode=Mode(setup.mode),
        sync_replicas=setup.sync_replicas,
        sync_timeout=setup.sync_timeout_ms * MS,
        lag_limit=setup.lag_limit_ms * MS,
        tolerance=setup.tolerance_ms * MS,
        recovery=setup.recovery_ms * MS,
    )


@dataclass
class ExampleRecord:
    """What one example did and how it was judged (kept for reports, also when it passed)."""

    id: str
    steps: list[dict[str, Any]]
    history: Path
    result: dict[str, Any] | None = None
    error: str | None = None  # the run could not judge it (e.g. the cluster broke)
    early: bool = False  # stopped at a step, before the final phase
    duration_s: float = 0.0
    faults_fired: dict[str, int] = field(default_factory=dict)

    @property
    def valid(self) -> object:
        if self.result is None:
            return "unknown"
        return self.result["valid"]

    @property
    def violated(self) -> list[str]:
        if self.result is None:
            return []
        return [n for n, p in self.result["properties"].items() if p["valid"] is False]


class _Values:
    """Unique write values and distinct powers of two per counter key.

    Values carry the example's tag (``x7w1``, ``x7w2``, …) and counter keys too, so that a
    value left over from an earlier example can never pass for one of this example's.
    """

    def __init__(self, tag: str = "") -> None:
        self._lock = threading.Lock()
        self._tag = tag
        self._n = 0
        self._counter_bits: dict[str, int] = {}
        self._counter_gen: dict[str, int] = {}

    def next(self, workload: str, key: str) -> tuple[str, Any]:
        """The key to use (counters roll over to a fresh key) and the value to write."""
        with self._lock:
            if workload == "counter":
                gen = self._counter_gen.get(key, 0)
                full = f"{key}.{gen}"
                bit = self._counter_bits.get(full, 0)
                if bit >= 62:  # INCRBY is 64-bit signed: start a fresh key
                    gen += 1
                    self._counter_gen[key] = gen
                    full, bit = f"{key}.{gen}", 0
                self._counter_bits[full] = bit + 1
                return full, 1 << bit
            self._n += 1
            return key, f"{self._tag}w{self._n}"


class Example:
    """The cluster, reset to its initial state, with a fresh history (see the module doc)."""

    def __init__(
        self,
        *,
        cluster: Cluster,
        setup: ModeSetup,
        directory: Path,
        example_id: str,
        workers: int = 2,
        steady: bool = True,
    ) -> None:
        from harness.cluster import history_header

        self.cluster = cluster
        self.setup = setup
        self.id = example_id
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        target = cluster.target
        header = history_header(
            target,
            setup.mode,
            setup.mode_params(),
            nodes=len(cluster.nodes),
            azs=len(cluster.azs),
        )
        # The run's own timing choices override the target's defaults in the header.
        header.params.update(tolerance_ms=setup.tolerance_ms, recovery_ms=setup.recovery_ms)
        self.writer = HistoryWriter(self.dir / "history.ndjson", header)
        self.started = time.monotonic()
        # Why the example cannot go on (the cluster broke under it), if it cannot.
        self.broken: str | None = None
        # The first reply that was not RESP, from any node, to a client or the controller.
        self.not_resp: str | None = None
        try:
            cluster.reset(history=self.writer, mode=setup.mode, params=setup.mode_params())
        except Exception as exc:
            self.broken = f"reset: {type(exc).__name__}: {exc}"
        # Long enough for any answer a healthy server gives (a sync write waits up to the
        # sync timeout), short enough that a partitioned primary does not stall the example.
        self.client_timeout_s = (max(setup.sync_timeout_ms, 500) + 500) / 1000
        self.values = _Values(tag=f"x{example_id.rsplit('-', 1)[-1].lstrip('0') or '0'}")
        self.keys: set[tuple[str, str]] = set()
        self._keys_lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[RespClient] = []
        self._clients_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._next_process = 1
        self.steps: list[dict[str, Any]] = []
        self.faults_fired: dict[str, int] = {}
        if setup.mode == "async" and target.lag is not None and self.broken is None:
            self._spawn(self._observe_lag, "lag-observer")
        if steady and self.broken is None:
            # A steady trickle of writes for the whole example: faults and waits then always
            # meet load, which is when lag builds and when durability bugs show.
            self._spawn(
                self._writer, "steady-p1", self._new_process(), float("inf"), STEADY_PAUSE_S
            )

    # -- clients -------------------------------------------------------------------------
    def _client(self, node: str) -> RespClient:
        cache: dict[str, RespClient] | None = getattr(self._local, "clients", None)
        if cache is None:
            cache = self._local.clients = {}
        client = cache.get(node)
        if client is None:
            client = self.cluster.client(node, timeout_s=self.client_timeout_s)
            cache[node] = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _drop_client(self, node: str) -> None:
        cache: dict[str, RespClient] | None = getattr(self._local, "clients", None)
        if cache and node in cache:
            with contextlib.suppress(Exception):
                cache.pop(node).close()

    def op(
        self,
        process: int,
        workload: str,
        f: str,
        key: str,
        value: Any = None,
        *,
        node: str | None = None,
        final: bool = False,
    ) -> tuple[str, Any, str | None]:
        """Run and record one client op against ``node`` (default: the current primary)."""
        target_node = self.cluster.primary if node is None else node
        w = self.writer
        w.record(
            process=process,
            type="invoke",
            f=f,
            workload=workload,
            key=key,
            value=value if f == "write" else None,
            node=target_node,
            final=final,
        )
        try:
            client = self._client(target_node)
            typ, got, err = self.cluster.perform(client, workload, f, key, value)
        except Exception as exc:  # connection refused, reset, … : it may have happened
            typ, got, err = "info", None, f"{type(exc).__name__}: {exc}"
        if typ == "info":
            self._drop_client(target_node)
            self._note_not_resp(err)
        w.record(
            process=process,
            type=typ,
            f=f,
            workload=workload,
            key=key,
            value=value if f == "write" else got,
            error=err,
            node=target_node,
            final=final,
        )
        return typ, got, err

    def write(
        self, workload: str, key_index: int, process: int = 0, node: str | None = None
    ) -> str:
        key, value = self.values.next(workload, f"{workload[0]}{key_index}")
        with self._keys_lock:
            self.keys.add((workload, key))
        typ, _got, _err = self.op(process, workload, "write", key, value, node=node)
        return typ

    def read(self, workload: str, key_index: int, process: int = 0) -> str:
        key = f"{workload[0]}{key_index}"
        if workload == "counter":
            key = f"{key}.{self.values._counter_gen.get(key, 0)}"
        with self._keys_lock:
            self.keys.add((workload, key))
        typ, _got, _err = self.op(process, workload, "read", key)
        return typ

    # -- background work -----------------------------------------------------------------
    def _spawn(self, fn: Any, name: str, *args: Any) -> None:
        t = threading.Thread(target=fn, args=args, name=f"ackbound-{self.id}-{name}", daemon=True)
        self._threads.append(t)
        t.start()

    def _new_process(self) -> int:
        process = self._next_process
        self._next_process += 1
        return process

    def burst(self, seconds: float, workers: int | None = None) -> None:
        """Start background writers for ``seconds``; they run while later steps go on."""
        until = time.monotonic() + seconds
        for _ in range(self.workers if workers is None else workers):
            process = self._new_process()
            self._spawn(self._writer, f"burst-p{process}", process, until, 0.0)

    def _writer(self, process: int, until: float, pause: float) -> None:
        i = process
        # A closed cluster (closed under a live example) refuses every op: stop, not spin.
        while not self._stop.is_set() and not self.cluster.closed and time.monotonic() < until:
            workload = ("list", "set", "register", "list")[i % 4]
            i += 1
            typ = self.write(workload, i % KEYS_PER_WORKLOAD, process=process)
            if typ != "ok":
                self._stop.wait(0.02)  # do not spin on rejections and timeouts
            elif pause:
                self._stop.wait(pause)

    def _observe_lag(self) -> None:
        while not self._stop.wait(LAG_POLL_S) and not self.cluster.closed:
            with contextlib.suppress(Exception):
                self.cluster.observe_lag()

    def stop_background(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self._threads = [t for t in self._threads if t.is_alive()]

    # -- faults and time -------------------------------------------------------------------
    def fault(self, name: str, **params: Any) -> bool:
        """Apply a fault if it applies now; returns whether it was applied.

        A fault the controller cannot carry out breaks the example (``broken``): the run
        records why and moves on, rather than blaming the server for the harness's trouble.
        """
        try:
            if self.cluster.applicable(name, **params) is not None:
                return False
            self.cluster.apply(name, **params)
        except Exception as exc:
            self.broken = f"{name}: {type(exc).__name__}: {exc}"
            return False
        self.faults_fired[name] = self.faults_fired.get(name, 0) + 1
        return True

    def wait(self, ms: int) -> None:
        INTERRUPTED.wait(ms / 1000)
        check_interrupted()

    # -- the end ----------------------------------------------------------------------------
    def judge(self) -> dict[str, Any]:
        """Check the history recorded so far (used after every step for early violations).

        A violation found while a node had stopped on its own is not the server's to
        answer for (see :meth:`nodes_intact`): that raises instead."""
        result = check(self.writer.history(), checker_params(self.setup))
        if result["valid"] is False:
            self.nodes_intact()
        return result

    def nodes_intact(self) -> None:
        """Raise ``ClusterError`` when a node stopped though no fault stopped it (a crash, or
        a tool outside ackbound): the example then proves nothing either way."""
        gone = self.cluster.stopped_on_their_own()
        if gone:
            raise ClusterError("; ".join(gone) + "; this example cannot be judged")

    def _note_not_resp(self, error: str | None) -> None:
        """Keep the first error that says a reply was not RESP (see :meth:`finish`)."""
        if error is not None and NOT_RESP in error and self.not_resp is None:
            self.not_resp = error

    def finish(self) -> dict[str, Any]:
        """Heal, wait for writes to resume and for recovery, read everything, judge."""
        self.stop_background()
        self.nodes_intact()
        healed_ok = True
        try:
            self.cluster.heal()
        except Exception:
            healed_ok = False
        self.nodes_intact()
        self._probe_writes()
        try:
            self.cluster.wait_recovered()
        except Exception as exc:
            self._note_not_resp(str(exc))
        self._final_reads()
        if self.not_resp is not None:
            # Bytes that are not RESP say nothing of durability: writes and reads that met
            # them are indeterminate, and the verdict would blame the wrong promise.
            raise ClusterError(
                f"a node answered with bytes that are not RESP ({self.not_resp}); this "
                "example cannot be judged"
            )
        result = self.judge()
        if not healed_ok:
            result.setdefault("notes", []).append("heal failed; see the history")
        return result

    def _probe_writes(self) -> None:
        """Write until a write is accepted or the resume allowance has surely passed."""
        s = self.setup
        if s.mode == "async":
            allowance_ms = s.lag_limit_ms + s.tolerance_ms + s.recovery_ms
        elif s.mode == "sync":
            allowance_ms = s.sync_timeout_ms + s.tolerance_ms + s.recovery_ms
        else:
            allowance_ms = s.tolerance_ms + s.recovery_ms
        deadline = time.monotonic() + allowance_ms / 1000 + 0.5
        while time.monotonic() < deadline:
            if self.write("register", 0) == "ok":
                return
            time.sleep(0.05)

    def _final_reads(self) -> None:
        for info in self.cluster.nodes:
            if info.status != "up":
                continue
            for workload, key in sorted(self.keys):
                self.op(0, workload, "read", key, node=info.name, final=True)

    def close(self) -> None:
        self.stop_background()
        with self._clients_lock:
            for c in self._clients:
                with contextlib.suppress(Exception):
                    c.close()
            self._clients.clear()
        self.writer.close()
