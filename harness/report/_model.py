"""What a conformance run leaves behind, as data: :class:`RunResult` and its parts.

The run builds one :class:`RunResult` as it goes and hands it to ``write_reports``; every
report file (results.json, junit.xml, program.txt, report.html) and the terminal's verdict
table are rendered from it and from nothing else. The JSON form is documented field by
field in docs/results.md (schema ``ackbound-results/1``).

Building a result, as the run does::

    run = RunResult.begin(argv=sys.argv, target=TargetInfo(name="bundled", backend="local"),
                          topology=Topology.of([("n1", "az1"), ("n2", "az2")], primary="n1"),
                          seed=42, budget_s=60)
    sync = run.mode("sync")
    for each example:
        check_result = check(history, params)          # harness.checker
        sync.add_example(ex_id, check_result, steps=steps, duration_s=d,
                         history=history, history_path="examples/sync-3.ndjson")
    run.record_failure("sync", example=ex_id, steps=steps, check=check_result, ...)
    run.finish(complete=True)

Verdicts merge as harness.report._merge says: a property over examples (violated if any
example violated it; valid if some had evidence and none violated; else unknown), then
properties and modes as false > unknown > true.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from harness.checker import Verdict
from harness.history import History, pair_ops
from harness.report._merge import (
    exit_code_for,
    merge_verdicts,
    percentile,
    verdict_from_counts,
)
from harness.report._program import render_program
from harness.report._redact import redact_argv

__all__ = [
    "MODES",
    "RESULTS_SCHEMA",
    "ExampleRecord",
    "Failure",
    "FirstViolation",
    "LatencySamples",
    "ModeResult",
    "ModeStats",
    "Node",
    "PropertySummary",
    "RunResult",
    "TargetInfo",
    "Topology",
    "ackbound_version",
    "utc_now",
    "write_latencies_ns",
]

RESULTS_SCHEMA: Final = "ackbound-results/1"
MODES: Final = ("none", "sync", "async")
_NS_PER_MS: Final = 1_000_000


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds, e.g. ``2024-05-01T12:00:00.123Z``."""
    now = _dt.datetime.now(_dt.UTC)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ackbound_version() -> str:
    """The installed ackbound version (``0+unknown`` when not installed as a package)."""
    from importlib import metadata

    try:
        return metadata.version("ackbound")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def write_latencies_ns(history: History) -> list[int]:
    """Latency (completion − invocation, ns) of every acknowledged client write."""
    out: list[int] = []
    for pr in pair_ops(history.ops):
        c = pr.complete
        if c is not None and c.type == "ok" and pr.invoke.f == "write" and pr.invoke.is_client:
            out.append(c.time - pr.invoke.time)
    return out


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / _NS_PER_MS, 3)


# -- figures -----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class LatencySamples:
    """Write latencies pooled over examples, kept raw so that pooled percentiles are exact.

    A result read back from results.json has only the summary (``frozen``); it can be
    printed and rendered but not pooled further.
    """

    values_ns: list[int] = field(default_factory=list)
    frozen: dict[str, Any] | None = None
    _sorted: bool = field(default=True, init=False, repr=False, compare=False)

    def add(self, values_ns: Iterable[int]) -> None:
        if self.frozen is not None:
            raise ValueError(
                "these latencies were read from results.json as a summary and cannot be "
                "pooled; pool the raw latencies of the examples instead"
            )
        before = len(self.values_ns)
        self.values_ns.extend(values_ns)
        if len(self.values_ns) != before:
            self._sorted = False

    def summary(self) -> dict[str, Any]:
        """``{"count", "p50", "p99", "max"}`` in milliseconds (None when there are none)."""
        if self.frozen is not None:
            return dict(self.frozen)
        if not self._sorted:
            self.values_ns.sort()
            self._sorted = True
        v = self.values_ns
        return {
            "count": len(v),
            "p50": _ms(percentile(v, 0.50)),
            "p99": _ms(percentile(v, 0.99)),
            "max": _ms(v[-1] if v else None),
        }


@dataclass(kw_only=True)
class ModeStats:
    """Figures of a mode, aggregated over its examples.

    Counts are sums; ``loss_window_s`` and ``max_lag_ms`` are maxima; the write latency is
    pooled over every acknowledged write of every example.
    """

    attempted: int = 0
    acknowledged: int = 0
    rejected: int = 0
    indeterminate: int = 0
    lost: int = 0
    acknowledged_judged: int = 0
    failovers: int = 0
    lag_observations: int = 0
    loss_window_s: float = 0.0
    max_lag_ms: int | None = None
    write_latency: LatencySamples = field(default_factory=LatencySamples)

    _SUMS: ClassVar[tuple[str, ...]] = (
        "attempted",
        "acknowledged",
        "rejected",
        "indeterminate",
        "lost",
        "acknowledged_judged",
        "failovers",
        "lag_observations",
    )

    def add(self, check_stats: Mapping[str, Any], latencies_ns: Iterable[int]) -> None:
        """Fold one example's checker ``stats`` and its raw write latencies in."""
        for name in self._SUMS:
            setattr(self, name, getattr(self, name) + int(check_stats.get(name) or 0))
        self.loss_window_s = max(self.loss_window_s, float(check_stats.get("loss_window_s") or 0))
        lag = check_stats.get("max_lag_ms")
        if lag is not None and (self.max_lag_ms is None or lag > self.max_lag_ms):
            self.max_lag_ms = lag
        self.write_latency.add(latencies_ns)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in self._SUMS}
        out["loss_window_s"] = self.loss_window_s
        out["max_lag_ms"] = self.max_lag_ms
        out["write_latency_ms"] = self.write_latency.summary()
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ModeStats:
        return cls(
            **{name: obj[name] for name in cls._SUMS},
            loss_window_s=obj["loss_window_s"],
            max_lag_ms=obj["max_lag_ms"],
            write_latency=LatencySamples(frozen=dict(obj["write_latency_ms"])),
        )


# -- verdicts ----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class FirstViolation:
    """The first example that violated a property, with the checker's proof of it."""

    example: str
    witnesses: list[dict[str, Any]]
    witness_count: int
    explanation: str

    def to_json(self) -> dict[str, Any]:
        return {
            "example": self.example,
            "witnesses": self.witnesses,
            "witness_count": self.witness_count,
            "explanation": self.explanation,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> FirstViolation:
        return cls(
            example=obj["example"],
            witnesses=list(obj["witnesses"]),
            witness_count=obj["witness_count"],
            explanation=obj["explanation"],
        )


@dataclass(kw_only=True)
class PropertySummary:
    """One property over the examples of a mode."""

    valid: Verdict = "unknown"
    summary: str = ""
    examples_with_evidence: int = 0
    examples_violated: int = 0
    examples_errored: int = 0
    first_violation: FirstViolation | None = None
    error: str | None = None  # the first crash of this property's check, if any

    def add(self, example: str, prop: Mapping[str, Any]) -> None:
        """Fold in one example's checker result for this property."""
        v = prop["valid"]
        if not self.summary:
            self.summary = prop.get("summary", "")
        if v is False:
            self.examples_violated += 1
            self.examples_with_evidence += 1
            if self.first_violation is None:
                self.first_violation = FirstViolation(
                    example=example,
                    witnesses=list(prop.get("witnesses", [])),
                    witness_count=int(prop.get("witness_count", len(prop.get("witnesses", [])))),
                    explanation=prop.get("explanation", ""),
                )
        elif v is True:
            self.examples_with_evidence += 1
        elif prop.get("error"):
            self.examples_errored += 1
            if self.error is None:
                self.error = str(prop["error"])
        self.valid = verdict_from_counts(
            with_evidence=self.examples_with_evidence,
            violated=self.examples_violated,
            errored=self.examples_errored,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "valid": self.valid,
            "summary": self.summary,
            "examples_with_evidence": self.examples_with_evidence,
            "examples_violated": self.examples_violated,
            "examples_errored": self.examples_errored,
            "first_violation": None
            if self.first_violation is None
            else self.first_violation.to_json(),
        }
        if self.error is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PropertySummary:
        fv = obj.get("first_violation")
        return cls(
            valid=obj["valid"],
            summary=obj["summary"],
            examples_with_evidence=obj["examples_with_evidence"],
            examples_violated=obj["examples_violated"],
            examples_errored=obj["examples_errored"],
            first_violation=None if fv is None else FirstViolation.from_json(fv),
            error=obj.get("error"),
        )


@dataclass(kw_only=True)
class ExampleRecord:
    """One example of a mode, briefly: enough to find its history and its verdict."""

    id: str
    steps: int
    valid: Verdict
    violated: list[str]
    duration_s: float
    history: str | None  # relative to the run directory
    error: str | None = None  # why the example has no checker result, when it has none

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "steps": self.steps,
            "valid": self.valid,
            "violated": list(self.violated),
            "duration_s": self.duration_s,
            "history": self.history,
        }
        if self.error is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ExampleRecord:
        return cls(
            id=obj["id"],
            steps=obj["steps"],
            valid=obj["valid"],
            violated=list(obj["violated"]),
            duration_s=obj["duration_s"],
            history=obj["history"],
            error=obj.get("error"),
        )


@dataclass(kw_only=True)
class Failure:
    """The failing example of a mode: its steps, the program that replays it, its proof."""

    example: str
    steps: list[dict[str, Any]]  # [{"rule": name, "args": {...}}, ...]
    program: str
    shrunk: bool
    flaky: bool  # failed, then passed when run again
    violated: list[str]
    history: str | None  # relative to the run directory
    check: dict[str, Any] | None  # the checker result of the failing example
    error: str | None = None  # what failed, when it was not the checker (e.g. the oracle)
    # How the run set the cluster up: replay_program's keyword arguments (backend, lag_limit_ms,
    # sync_timeout_ms, sync_replicas, nodes, azs), so that a replay sets it up alike.
    options: dict[str, Any] = field(default_factory=dict)
    # How its shrink ended: complete, budget (--shrink-budget ran out) or interrupted
    # (Ctrl-C); None when it was not shrunk (or recorded before shrinks said so).
    shrink: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "example": self.example,
            "steps": self.steps,
            "program": self.program,
            "shrunk": self.shrunk,
            "flaky": self.flaky,
            "violated": list(self.violated),
            "history": self.history,
            "check": self.check,
            "options": dict(self.options),
        }
        if self.error is not None:
            out["error"] = self.error
        if self.shrink is not None:
            out["shrink"] = self.shrink
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Failure:
        return cls(
            example=obj["example"],
            steps=[dict(s) for s in obj["steps"]],
            program=obj["program"],
            shrunk=obj["shrunk"],
            flaky=obj["flaky"],
            violated=list(obj["violated"]),
            history=obj["history"],
            check=obj["check"],
            error=obj.get("error"),
            options=dict(obj.get("options") or {}),
            shrink=obj.get("shrink"),
        )


@dataclass(kw_only=True)
class ModeResult:
    """Everything the run learned in one durability mode (``none``, ``sync`` or ``async``)."""

    mode: str
    valid: Verdict = "unknown"
    params: dict[str, Any] = field(default_factory=dict)
    examples: int = 0
    steps: int = 0
    duration_s: float = 0.0
    faults_fired: dict[str, int] = field(default_factory=dict)
    properties: dict[str, PropertySummary] = field(default_factory=dict)
    stats: ModeStats = field(default_factory=ModeStats)
    failure: Failure | None = None
    example_records: list[ExampleRecord] = field(default_factory=list)

    def add_example(
        self,
        example: str | int,
        check: Mapping[str, Any] | None,
        *,
        steps: int | Sequence[Any],
        duration_s: float,
        history: History | None = None,
        history_path: str | None = None,
        latencies_ns: Iterable[int] | None = None,
        error: str | None = None,
    ) -> ExampleRecord:
        """Fold one finished example in; returns its record.

        ``check`` is ``harness.checker.check``'s result for the example's history (``None``
        when the example could not be judged; say why in ``error``). The raw write
        latencies come from ``history`` (or ``latencies_ns``), so that pooled percentiles
        are exact.
        """
        eid = str(example)
        n_steps = steps if isinstance(steps, int) else len(steps)
        self.examples += 1
        self.steps += n_steps
        self.duration_s = round(self.duration_s + duration_s, 6)
        violated: list[str] = []
        valid: Verdict = "unknown"
        if check is not None:
            if not self.params:
                self.params = dict(check.get("params", {}))
            for name, prop in check["properties"].items():
                self.properties.setdefault(name, PropertySummary()).add(eid, prop)
                if prop["valid"] is False:
                    violated.append(name)
            valid = check["valid"]
            if latencies_ns is None:
                latencies_ns = write_latencies_ns(history) if history is not None else ()
            stats = check["stats"]
            self.stats.add(stats, latencies_ns)
            for f, n in stats.get("faults", {}).items():
                self.faults_fired[f] = self.faults_fired.get(f, 0) + int(n)
        self.valid = self._merged()
        rec = ExampleRecord(
            id=eid,
            steps=n_steps,
            valid=valid,
            violated=violated,
            duration_s=round(duration_s, 6),
            history=history_path,
            error=error,
        )
        self.example_records.append(rec)
        return rec

    def _merged(self) -> Verdict:
        verdicts = [p.valid for p in self.properties.values()]
        if self.failure is not None and self.failure.violated:
            verdicts.append(False)
        return merge_verdicts(verdicts)

    def violations(self) -> int:
        """How many examples violated some property so far (for progress displays)."""
        return sum(1 for r in self.example_records if r.violated)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "valid": self.valid,
            "params": self.params,
            "examples": self.examples,
            "steps": self.steps,
            "duration_s": self.duration_s,
            "faults_fired": dict(sorted(self.faults_fired.items())),
            "properties": {k: v.to_json() for k, v in self.properties.items()},
            "stats": self.stats.to_json(),
            "failure": None if self.failure is None else self.failure.to_json(),
            "example_records": [r.to_json() for r in self.example_records],
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ModeResult:
        f = obj.get("failure")
        return cls(
            mode=obj["mode"],
            valid=obj["valid"],
            params=dict(obj["params"]),
            examples=obj["examples"],
            steps=obj["steps"],
            duration_s=obj["duration_s"],
            faults_fired=dict(obj["faults_fired"]),
            properties={k: PropertySummary.from_json(v) for k, v in obj["properties"].items()},
            stats=ModeStats.from_json(obj["stats"]),
            failure=None if f is None else Failure.from_json(f),
            example_records=[ExampleRecord.from_json(r) for r in obj["example_records"]],
        )


# -- the run -----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class TargetInfo:
    """What was tested: the target's name, how it ran, and which client spoke to it."""

    name: str
    backend: str | None = None  # local | docker
    file: str | None = None  # the target TOML file, when one was given
    bug: str | None = None  # a seeded bug of the bundled server
    client: str | None = None  # the client library, e.g. "valkey-py 6.1.0"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.backend,
            "file": self.file,
            "bug": self.bug,
            "client": self.client,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TargetInfo:
        return cls(**{k: obj[k] for k in ("name", "backend", "file", "bug", "client")})


@dataclass(frozen=True, kw_only=True)
class Node:
    name: str
    az: str


@dataclass(kw_only=True)
class Topology:
    """The cluster: its nodes with their availability zones, and the initial primary."""

    nodes: list[Node] = field(default_factory=list)
    primary: str | None = None

    @classmethod
    def of(cls, nodes: Iterable[tuple[str, str]], primary: str | None = None) -> Topology:
        ns = [Node(name=n, az=az) for n, az in nodes]
        return cls(
            nodes=ns, primary=primary if primary is not None else (ns[0].name if ns else None)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": [{"name": n.name, "az": n.az} for n in self.nodes],
            "primary": self.primary,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Topology:
        return cls(
            nodes=[Node(name=n["name"], az=n["az"]) for n in obj["nodes"]],
            primary=obj["primary"],
        )


@dataclass(kw_only=True)
class RunResult:
    """A whole conformance run: what ran, against what, and what it found in each mode."""

    schema: str = RESULTS_SCHEMA
    version: str = field(default_factory=ackbound_version)
    started: str = field(default_factory=utc_now)
    finished: str | None = None
    duration_s: float = 0.0
    complete: bool = False
    argv: list[str] = field(default_factory=list)  # redacted
    target: TargetInfo
    topology: Topology = field(default_factory=Topology)
    seed: int | None = None
    budget_s: float | None = None
    valid: Verdict = "unknown"
    exit_code: int = 2
    error: str | None = None  # why the run could not finish, when it could not
    modes: dict[str, ModeResult] = field(default_factory=dict)

    @classmethod
    def begin(
        cls,
        *,
        argv: Sequence[str],
        target: TargetInfo,
        topology: Topology | None = None,
        seed: int | None = None,
        budget_s: float | None = None,
    ) -> RunResult:
        """A new result stamped with the start time; ``argv`` is redacted here."""
        return cls(
            argv=redact_argv(argv),
            target=target,
            topology=topology or Topology(),
            seed=seed,
            budget_s=budget_s,
        )

    def mode(self, name: str) -> ModeResult:
        """The result of mode ``name``, created on first use (in the order modes ran)."""
        if name not in MODES:
            raise ValueError(f"unknown mode {name!r}; modes are none, sync and async")
        if name not in self.modes:
            self.modes[name] = ModeResult(mode=name)
        return self.modes[name]

    def record_failure(
        self,
        mode: str,
        *,
        example: str | int,
        steps: Sequence[Mapping[str, Any]],
        check: Mapping[str, Any] | None,
        shrunk: bool,
        flaky: bool = False,
        history: str | None = None,
        violated: Sequence[str] | None = None,
        error: str | None = None,
        run_dir: str | None = None,
        replay_options: Mapping[str, Any] | None = None,
        shrink: str | None = None,
    ) -> Failure:
        """Set mode ``mode``'s failing example, rendering its program; returns it.

        ``violated`` defaults to the properties ``check`` says are violated; pass it when
        the failure was found another way (the oracle during the steps), with ``error``
        saying what failed.
        """
        names = list(violated) if violated is not None else []
        if violated is None and check is not None:
            names = [n for n, p in check["properties"].items() if p["valid"] is False]
        step_list = [{"rule": s["rule"], "args": dict(s.get("args") or {})} for s in steps]
        header = {
            "properties": names,
            "mode": mode,
            "target": self.target.file or self.target.name,  # what replay_program loads
            "bug": self.target.bug,
            "seed": self.seed,
            "run_dir": run_dir,
            "shrunk": shrunk,
            "shrink": shrink,
            "flaky": flaky,
            "options": dict(replay_options or {}),
        }
        failure = Failure(
            example=str(example),
            steps=step_list,
            program=render_program(header, step_list),
            shrunk=shrunk,
            flaky=flaky,
            violated=names,
            history=history,
            check=None if check is None else dict(check),
            error=error,
            options=dict(replay_options or {}),
            shrink=shrink,
        )
        m = self.mode(mode)
        m.failure = failure
        m.valid = m._merged()
        return failure

    def finish(
        self,
        *,
        complete: bool = True,
        error: str | None = None,
        finished: str | None = None,
        exit_code: int | None = None,
    ) -> RunResult:
        """Stamp the end and merge the verdict; an incomplete run never claims ``valid``.

        The exit code is 0 valid, 1 violated, 2 unknown — or 3 (could not run) when
        ``error`` is given and no example ran — unless ``exit_code`` overrides it.
        """
        self.finished = finished or utc_now()
        self.complete = complete
        self.error = error
        try:
            start = _dt.datetime.fromisoformat(self.started)
            end = _dt.datetime.fromisoformat(self.finished)
            self.duration_s = round(max(0.0, (end - start).total_seconds()), 3)
        except ValueError:
            self.duration_s = 0.0
        valid = merge_verdicts(m.valid for m in self.modes.values())
        if valid is True and (not complete or error is not None):
            valid = "unknown"
        self.valid = valid
        if exit_code is not None:
            self.exit_code = exit_code
        elif error is not None and not any(m.examples for m in self.modes.values()):
            self.exit_code = 3
        else:
            self.exit_code = exit_code_for(valid)
        return self

    def to_json(self) -> dict[str, Any]:
        """The results.json document (docs/results.md)."""
        return {
            "schema": self.schema,
            "version": self.version,
            "started": self.started,
            "finished": self.finished,
            "duration_s": self.duration_s,
            "complete": self.complete,
            "argv": list(self.argv),
            "target": self.target.to_json(),
            "topology": self.topology.to_json(),
            "seed": self.seed,
            "budget_s": self.budget_s,
            "valid": self.valid,
            "exit_code": self.exit_code,
            "error": self.error,
            "modes": {k: v.to_json() for k, v in self.modes.items()},
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> RunResult:
        """Rebuild a result from a results.json document (validate it first)."""
        return cls(
            schema=obj["schema"],
            version=obj["version"],
            started=obj["started"],
            finished=obj["finished"],
            duration_s=obj["duration_s"],
            complete=obj["complete"],
            argv=list(obj["argv"]),
            target=TargetInfo.from_json(obj["target"]),
            topology=Topology.from_json(obj["topology"]),
            seed=obj["seed"],
            budget_s=obj["budget_s"],
            valid=obj["valid"],
            exit_code=obj["exit_code"],
            error=obj.get("error"),
            modes={k: ModeResult.from_json(v) for k, v in obj["modes"].items()},
        )
