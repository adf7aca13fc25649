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
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from harness._errors import AckboundError
from harness.run._config import RunConfig
from harness.run._runner import ModeRun, mode_setup, start_run_cluster

__all__ = ["load_failures", "replay_program", "replay_steps"]


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
    from harness.run._config import DEFAULT_FAULTS
    from harness.run._machine import make_machine
    from harness.targets import load_target

    del seed  # the steps are given; nothing is drawn
    tgt = load_target(target)
    config = RunConfig(
        target=target,
        backend=backend,
        modes=(mode,),
        faults=faults or DEFAULT_FAULTS,
        lag_limit_s=None if lag_limit_ms is None else lag_limit_ms / 1000,
        sync_timeout_ms=sync_timeout_ms,
        sync_replicas=sync_replicas,
        nodes=nodes,
        azs=azs,
        bug=bug,
        image=image,
    )
    root = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="ackbound-replay-"))
    directory = root / "replay" / time.strftime("%Y%m%d-%H%M%S")
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
        def teardown(self) -> None:
            try:
                super().teardown()
            finally:
                cluster.close()

    state = Replay()
    state.run = run
    return state


def replay_steps(state: Any, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Run ``steps`` on a replay ``state`` and return the example's checker result."""
    from harness.run._machine import DurabilityViolation

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


def load_failures(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The failing example of each mode in ``run_dir/results.json``."""
    path = run_dir / "results.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AckboundError(
            f"{path}: no such file; pass the directory of a run (it holds results.json)"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise AckboundError(f"{path}: not valid JSON ({exc}); is this a run directory?") from None
    if not isinstance(doc, dict) or doc.get("schema") != "ackbound-results/1":
        raise AckboundError(f"{path}: not an ackbound results file (schema ackbound-results/1)")
    out = {}
    for mode, m in doc.get("modes", {}).items():
        if m.get("failure"):
            out[mode] = {"failure": m["failure"], "target": doc["target"], "seed": doc["seed"]}
    return out
