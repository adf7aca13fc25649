"""Replaying a failing example: the printed program, and ``ackbound replay RUN_DIR``.

A failed run prints its shrunk example as a program::

    from harness.run import replay_program
    state = replay_program(target="bundled", mode="sync", bug="...", seed=42)
    state.write(workload="list", key=0)
    state.kill(node="primary")
    state.teardown()

``replay_program`` starts a cluster like the run's and returns the run's state machine,
whose rule methods can be called directly; ``teardown()`` heals, reads, judges — raising
``DurabilityViolation`` if the example fails again — and stops the cluster.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness._errors import AckboundError
from harness.run._config import RunConfig
from harness.run._example import KEYS_PER_WORKLOAD, WORKLOADS
from harness.run._runner import (
    ModeRun,
    check_topology,
    claim_run_dir,
    mode_setup,
    start_run_cluster,
)

__all__ = ["load_failures", "replay_program", "replay_steps", "results_file"]


def replay_program(
    *,
    target: str = "bundled",
    mode: str,
    bug: str | None = None,
    seed: int | None = None,
    backend: str = "local",
    lag_limit_ms: int | None = None,
    sync_timeout_ms: int | None = None,
    sync_replicas: int = 1,
    nodes: int | None = None,
    azs: int | None = None,
    run_dir: str | None = None,
    image: str | None = None,
    faults: tuple[str, ...] | None = None,
) -> Any:
    """A live state machine for replaying steps by hand (see the module docstring)."""
    from harness.faults import FAULT_NAMES
    from harness.run._config import DEFAULT_FAULTS
    from harness.run._machine import make_machine
    from harness.targets import load_target

    del seed  # the steps are given; nothing is drawn
    if faults is not None:
        if isinstance(faults, str) or any(f not in FAULT_NAMES for f in faults):
            raise AckboundError(
                f"replay option faults={faults!r}: give a list of fault names, each one of "
                f"{', '.join(FAULT_NAMES)}"
            )
        faults = tuple(faults)
    tgt = load_target(target)
    config = RunConfig(
        target=target,
        backend=backend,
        modes=(mode,),
        faults=DEFAULT_FAULTS if faults is None else faults,
        lag_limit_s=None if lag_limit_ms is None else lag_limit_ms / 1000,
        sync_timeout_ms=sync_timeout_ms,
        sync_replicas=sync_replicas,
        nodes=nodes,
        azs=azs,
        bug=bug,
        image=image,
    )
    check_topology(tgt, config)  # as a run does: a cluster its mode cannot work on is refused
    root = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="ackbound-replay-"))
    # Named by the second, and claimed: replays in the same second each get their own.
    directory = claim_run_dir(root / "replay" / time.strftime("%Y%m%d-%H%M%S"))
    cluster = start_run_cluster(tgt, config, directory, mode)
    run = ModeRun(
        config=config,
        cluster=cluster,
        setup=mode_setup(tgt, mode, config),
        directory=directory / mode,
        deadline=float("inf"),
        shrink_deadline=float("inf"),
    )
    machine_cls = make_machine(run)

    class Replay(machine_cls):  # type: ignore[valid-type, misc]
        def close(self) -> None:
            """Stop the example's clients and the cluster without judging anything (the
            steps were never run)."""
            try:
                self.ex.close()
            finally:
                cluster.close()

        def teardown(self) -> None:
            try:
                super().teardown()
            finally:
                cluster.close()
            if self.record.error and self.record.result is None:
                # A step the harness could not take (a fault the target cannot do, say):
                # the later steps were skipped, so the replay proved nothing either way.
                raise AckboundError(
                    f"the replay could not run its steps ({self.record.error}); check the "
                    f"program's steps, and see {self.record.history}"
                )

    state = Replay()
    state.run = run
    return state


def replay_steps(state: Any, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Run ``steps`` on a replay ``state`` and return the example's checker result."""
    from harness.run._machine import DurabilityViolation

    problem = step_problem(type(state), steps)
    if problem is not None:
        state.close()
        raise AckboundError(problem)
    try:
        for step in steps:
            getattr(state, step["rule"])(**step.get("args", {}))
    except DurabilityViolation:
        pass
    finally:
        with contextlib.suppress(DurabilityViolation):
            state.teardown()
    result: dict[str, Any] | None = state.record.result
    if result is None:
        raise AckboundError(
            f"the replay could not be judged: {state.record.error or 'no result'}; "
            f"see {state.record.history}"
        )
    return result


def step_problem(machine: type[Any], steps: list[dict[str, Any]]) -> str | None:
    """Why ``steps`` cannot be run on the state machine class ``machine`` (a rule it does
    not have, arguments its rule does not take), before any is: a results.json edited by
    hand, or from another version."""
    for i, step in enumerate(steps):
        name = step.get("rule")
        method = getattr(machine, name, None) if isinstance(name, str) else None
        if method is None or not hasattr(method, "hypothesis_stateful_rule"):
            return (
                f"step {i + 1}: {name!r} is not a rule of the run's state machine; the "
                "results.json was edited or written by another version of ackbound"
            )
        try:
            inspect.signature(method).bind(None, **step.get("args", {}))  # None: self
        except TypeError as exc:
            return (
                f"step {i + 1} ({name}): {exc}; the results.json was edited or written by "
                "another version of ackbound"
            )
    return None


def _number(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and lo <= v <= hi


def _integer(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _one_of(*choices: str) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v in choices), "one of " + ", ".join(choices)


_DAY_MS = 86_400_000  # longer than any step a run draws, however long its lag limit
_ROLE = re.compile(r"primary|replicas|replica-[1-9][0-9]*")

# What each argument of a step may be: what the state machine draws (harness.run._machine),
# a little wider. A hand-edited step is refused when the document is read, before a cluster
# starts, instead of failing in the middle of the replay (or waiting for ever).
_STEP_ARGS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "workload": _one_of(*WORKLOADS),
    "key": (_integer(0, KEYS_PER_WORKLOAD - 1), f"an integer 0..{KEYS_PER_WORKLOAD - 1}"),
    "count": (_integer(1, 1000), "an integer 1..1000"),
    "node": (
        lambda v: isinstance(v, str) and _ROLE.fullmatch(v) is not None,
        "a role: primary, replicas or replica-N",
    ),
    "seconds": (_number(0, _DAY_MS / 1000), "a number of seconds 0..86400 (a day)"),
    "ms": (_number(0, _DAY_MS), f"a number of milliseconds 0..{_DAY_MS} (a day)"),
    "hold_ms": (_number(0, _DAY_MS), f"a number of milliseconds 0..{_DAY_MS} (a day)"),
    "direction": _one_of("both", "in", "out"),
    "bandwidth": (_integer(1, 10_000_000_000), "bytes per second, 1..10000000000"),
    "latency_ms": (_number(0, 60_000), "a number of milliseconds 0..60000"),
    "fault": _one_of("partition", "pause", "kill", "slow-link"),
    "then": _one_of("heal", "failover", "stay"),
}


def _steps_problem(mode: str, steps: list[dict[str, Any]]) -> str | None:
    """What is wrong with the steps of ``mode``'s failure (None: nothing this can see; the
    rule names and argument names are checked against the state machine later)."""
    for i, step in enumerate(steps):
        for name, value in (step.get("args") or {}).items():
            valid, expect = _STEP_ARGS.get(name, (None, ""))
            if valid is not None and not valid(value):
                shown = json.dumps(value)
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                return (
                    f"the {mode} failure's step {i + 1} ({step.get('rule')}): {name} is "
                    f"{shown}, not {expect}"
                )
    return None


def results_file(path: Path) -> Path:
    """The results document ``ackbound replay PATH`` reads: PATH itself when it is a file
    (a run's results.json, or a --json copy), else the results.json of the run directory."""
    return path if path.is_file() else path / "results.json"


def load_failures(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The failing example of each mode in ``run_dir/results.json`` (or in ``run_dir``
    itself when it is a file), with what the run set (``options``: the keyword arguments
    of :func:`replay_program`)."""
    from harness.report import newer_schema, validate_results

    path = results_file(run_dir)
    if path.exists() and not path.is_file():
        raise AckboundError(f"{path}: not a file; pass the directory of a run")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AckboundError(
            f"{path}: no such file; pass the directory of a run (it holds results.json)"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise AckboundError(f"{path}: not valid JSON ({exc}); is this a run directory?") from None
    except OSError as exc:
        raise AckboundError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if not isinstance(schema, str) or not schema.startswith("ackbound-results/"):
        raise AckboundError(f"{path}: not an ackbound results file (schema ackbound-results/1)")
    if newer_schema(schema):
        raise AckboundError(
            f"{path}: {schema} is newer than this ackbound reads; upgrade ackbound to replay it"
        )
    problems = validate_results(doc, strict=False)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise AckboundError(
            f"{path}: not a valid results document: {problems[0]}{more}; replay the directory "
            "of a run as ackbound wrote it"
        )
    out = {}
    for mode, m in doc["modes"].items():
        failure = m.get("failure")
        if failure:
            problem = _steps_problem(mode, failure["steps"])
            if problem is not None:
                raise AckboundError(
                    f"{path}: {problem}; the results.json was edited or written by another "
                    "version of ackbound"
                )
            out[mode] = {
                "failure": failure,
                "target": doc["target"],
                "seed": doc["seed"],
                "options": _options(doc, m, failure),
            }
    return out


def _options(doc: dict[str, Any], mode: dict[str, Any], failure: dict[str, Any]) -> dict[str, Any]:
    """How the run set up the failing mode's cluster: the failure's own record when it has
    one (results written since it was added), else what the mode's parameters and the
    topology say."""
    from harness.report import REPLAY_OPTIONS

    recorded = failure.get("options")
    if isinstance(recorded, dict) and recorded:
        # Only what replay_program takes: a newer ackbound may record more.
        return {k: v for k, v in recorded.items() if k in REPLAY_OPTIONS}
    params, topo = mode.get("params") or {}, doc.get("topology") or {}
    opts: dict[str, Any] = {"backend": doc["target"].get("backend", "local")}
    for key in ("lag_limit", "sync_timeout"):
        if isinstance(params.get(f"{key}_s"), int | float):
            opts[f"{key}_ms"] = round(params[f"{key}_s"] * 1000)
    if isinstance(params.get("sync_replicas"), int):
        opts["sync_replicas"] = params["sync_replicas"]
    nodes = topo.get("nodes")
    if isinstance(nodes, list) and nodes:
        opts["nodes"] = len(nodes)
        opts["azs"] = len({n.get("az") for n in nodes if isinstance(n, dict)})
    return opts
