"""What a client library does when async writes are rejected: a measured, scripted scenario.

:func:`probe_client` runs one writer through the target's client (valkey-py or GLIDE, with
the target's settings) against a cluster in ``async`` mode and moves it through phases:

``healthy``   the replicas acknowledge; writes should simply succeed;
``rejecting`` every replica is partitioned away, so the durability lag passes the limit
              and the primary rejects writes (``CLUSTERDOWN``, Valkey's ``NOREPLICAS``);
``draining``  healed: the replicas resync, the lag drains, writes are accepted again;
``down``      (optional) the primary is killed: nothing answers;
``restarted`` it is started again; the client must reconnect.

Each write is timed and classified exactly as in a conformance run (:func:`perform`). The
figures answer the questions a user has about their client: does it retry a rejected write
(the primary counts the rejections it sent; a client that retried inside one call shows
more server rejections than rejected calls, and slower calls), does it back off, how long
after the buffer drains (or the primary returns) is the first write accepted.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from harness.cluster._client import ClientError, client_version
from harness.cluster._cluster import Cluster, _parse_info, history_header, start_cluster
from harness.history import HistoryWriter
from harness.targets import Target, load_target

__all__ = ["PHASES", "ClientProbe", "PhaseFigures", "probe_client"]

PHASES: Final = ("healthy", "rejecting", "draining", "down", "restarted")
_PAUSE_S: Final = 0.01  # between writes, as an application's loop would


@dataclass(frozen=True, kw_only=True)
class _Write:
    phase: str
    start: float
    end: float
    outcome: str  # ok | fail | info
    error: str | None


@dataclass(frozen=True, kw_only=True)
class PhaseFigures:
    """Writes issued during one phase: outcomes, error words, call latency."""

    phase: str
    seconds: float
    writes: int
    ok: int
    fail: int
    info: int
    errors: dict[str, int]
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass(frozen=True, kw_only=True)
class ClientProbe:
    """Per-client figures of one probe (see the module doc)."""

    target: str
    client: str
    settings: dict[str, Any]
    lag_limit_ms: int
    phases: list[PhaseFigures]
    server_rejections: int | None
    """Rejections the primary counted (None: the server does not report them)."""
    client_rejections: int
    """Calls that ended with a rejection."""
    hidden_retries: int | None
    """server_rejections - client_rejections: rejections the client absorbed by retrying."""
    first_ok_after_heal_ms: float | None
    first_ok_after_restart_ms: float | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 2)


def _figures(phase: str, seconds: float, writes: list[_Write]) -> PhaseFigures:
    mine = [w for w in writes if w.phase == phase]
    latencies = [(w.end - w.start) * 1000 for w in mine]
    errors = Counter((w.error or "").split(" ", 1)[0].rstrip(":") for w in mine if w.error)
    return PhaseFigures(
        phase=phase,
        seconds=round(seconds, 3),
        writes=len(mine),
        ok=sum(w.outcome == "ok" for w in mine),
        fail=sum(w.outcome == "fail" for w in mine),
        info=sum(w.outcome == "info" for w in mine),
        errors=dict(errors.most_common()),
        p50_ms=_percentile(latencies, 0.5),
        p99_ms=_percentile(latencies, 0.99),
        max_ms=round(max(latencies), 2) if latencies else None,
    )


# The errors an async primary rejects with: the bundled server's CLUSTERDOWN, or stock
# Valkey's and Redis's NOREPLICAS (min-replicas-to-write); both are counted.
_REJECTIONS: Final = ("CLUSTERDOWN", "NOREPLICAS")


class _Writer:
    """One application thread writing through the client as fast as a small pause allows."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.phase = "healthy"
        self.writes: list[_Write] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ackbound-probe", daemon=True)

    def __enter__(self) -> _Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        client = None
        i = 0
        while not self._stop.is_set():
            i += 1
            phase = self.phase
            start = time.monotonic()
            try:
                if client is None:
                    client = self.cluster.client()
                outcome, _v, error = self.cluster.perform(
                    client, "register", "write", f"probe{i % 16}", f"v{i}"
                )
            except ClientError as exc:
                outcome, error = "info", str(exc)
            self.writes.append(
                _Write(phase=phase, start=start, end=time.monotonic(), outcome=outcome, error=error)
            )
            if outcome == "info" and client is not None:
                with contextlib.suppress(Exception):
                    client.close()
                client = None
            self._stop.wait(_PAUSE_S)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def first_ok_after(self, moment: float) -> float | None:
        for w in self.writes:
            if w.start >= moment and w.outcome == "ok":
                return round((w.end - moment) * 1000, 1)
        return None


def _rejections(cluster: Cluster, node: str, prefixes: tuple[str, ...]) -> int | None:
    """Rejections ``node`` counted: the bundled server's field, else Valkey's errorstats."""
    with contextlib.suppress(ClientError, ValueError):
        info = _parse_info(cluster._cmd(node, "INFO", "durability"))
        if "durability_buffer_exceeded_error_count" in info:
            return int(info["durability_buffer_exceeded_error_count"])
    with contextlib.suppress(ClientError, ValueError, KeyError):
        text = cluster._cmd(node, "INFO", "errorstats")
        if "errorstats" not in str(text).lower():
            return None  # the server has no such section
        stats = _parse_info(text)
        lines = [stats.get(f"errorstat_{prefix}") for prefix in prefixes]
        return sum(
            int(dict(p.split("=") for p in line.split(","))["count"]) for line in lines if line
        )
    return None


@contextlib.contextmanager
def _phase(writer: _Writer, name: str, seconds: float, spans: dict[str, float]) -> Iterator[None]:
    writer.phase = name
    start = time.monotonic()
    yield
    rest = seconds - (time.monotonic() - start)
    if rest > 0:
        time.sleep(rest)
    spans[name] = time.monotonic() - start


def probe_client(
    target: Target | str,
    *,
    run_dir: str | Path,
    lag_limit_ms: int = 300,
    healthy_s: float = 1.0,
    rejecting_s: float = 2.0,
    draining_s: float = 3.0,
    restart: bool = True,
    down_s: float = 1.0,
    restarted_s: float = 3.0,
) -> ClientProbe:
    """Run the scenario against a fresh cluster of ``target`` (async mode) and measure."""
    tgt = load_target(target) if isinstance(target, str) else target
    root = Path(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    params = {"lag_limit_ms": lag_limit_ms}
    header = history_header(tgt, "async", params)
    spans: dict[str, float] = {}
    notes: list[str] = []
    with (
        HistoryWriter(root / "probe.ndjson", header) as history,
        start_cluster(tgt, mode="async", params=params, run_dir=root, history=history) as cluster,
    ):
        primary = cluster.primary
        effective_ms = cluster.params.lag_limit_ms
        before = _rejections(cluster, primary, _REJECTIONS)
        heal_at = restart_at = 0.0
        with _Writer(cluster) as writer:
            with _phase(writer, "healthy", healthy_s, spans):
                pass
            with _phase(writer, "rejecting", rejecting_s, spans):
                for node in cluster.node_names:
                    if node != primary:
                        cluster.apply("partition", node=node, direction="both")
            with _phase(writer, "draining", draining_s, spans):
                cluster.apply("heal")
                heal_at = time.monotonic()
            after = _rejections(cluster, primary, _REJECTIONS)
            if restart:
                with _phase(writer, "down", down_s, spans):
                    cluster.apply("kill", node=primary)
                with _phase(writer, "restarted", restarted_s, spans):
                    cluster.apply("restart", node=primary)
                    restart_at = time.monotonic()
        writes = writer.writes
    phases = [_figures(p, spans[p], writes) for p in PHASES if p in spans]
    client_rejections = sum(
        1
        for w in writes
        if w.phase in ("healthy", "rejecting", "draining")
        and (w.error or "").startswith(_REJECTIONS)
    )
    hidden = None
    server = None
    if before is not None and after is not None:
        server = after - before
        hidden = server - client_rejections
    else:
        notes.append(
            f"the server does not count {' or '.join(_REJECTIONS)} rejections; hidden retries unknown"
        )
    return ClientProbe(
        target=tgt.name,
        client=client_version(tgt.client),
        settings=_settings(tgt),
        lag_limit_ms=effective_ms,
        phases=phases,
        server_rejections=server,
        client_rejections=client_rejections,
        hidden_retries=hidden,
        first_ok_after_heal_ms=writer.first_ok_after(heal_at) if heal_at else None,
        first_ok_after_restart_ms=writer.first_ok_after(restart_at) if restart_at else None,
        notes=notes,
    )


def _settings(target: Target) -> dict[str, Any]:
    if target.glide is not None:
        return {k: v for k, v in asdict(target.glide).items() if v is not None}
    return {"timeout_ms": target.client_timeout_ms, "retries": 0}


def render_probes(probes: list[ClientProbe]) -> str:
    """A Markdown table of per-client figures, one row per client and phase."""
    lines = [
        "| client | phase | writes | ok | rejected/failed | indeterminate | p50 ms | p99 ms | max ms | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for probe in probes:
        for ph in probe.phases:
            errors = ", ".join(f"{k} {v}" for k, v in ph.errors.items()) or "-"
            lines.append(
                f"| {probe.client} | {ph.phase} | {ph.writes} | {ph.ok} | {ph.fail} | {ph.info} "
                f"| {_show(ph.p50_ms)} | {_show(ph.p99_ms)} | {_show(ph.max_ms)} | {errors} |"
            )
    return "\n".join(lines)


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def summary(probe: ClientProbe) -> Mapping[str, Any]:
    return {
        "client": probe.client,
        "server rejections": probe.server_rejections,
        "rejected calls": probe.client_rejections,
        "hidden retries": probe.hidden_retries,
        "first ok after heal ms": probe.first_ok_after_heal_ms,
        "first ok after restart ms": probe.first_ok_after_restart_ms,
    }
