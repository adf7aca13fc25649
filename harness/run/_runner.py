"""The conformance run: one cluster, one Hypothesis run per mode, reports at the end.

For each mode the cluster is reconfigured live, Hypothesis explores step sequences within
the mode's share of the time budget, and every example is recorded (steps, history,
verdict). When an example fails, Hypothesis shrinks it — each replay is recorded too — and
the run reports the smallest example that failed, marking it flaky when its final replay
passed. Reports are written at the end, and on Ctrl-C with what was gathered so far.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from harness._errors import EXIT_COULD_NOT_RUN, EXIT_INTERRUPTED, AckboundError
from harness.run._config import MODES_ALL, RunConfig
from harness.run._example import Example, ExampleRecord, ModeSetup
from harness.run._interrupt import interrupted_by, sigint_to_flag

if TYPE_CHECKING:
    from harness.cluster import Cluster
    from harness.report import RunResult
    from harness.targets import Target

__all__ = [
    "ModeRun",
    "Progress",
    "bundled_bugs",
    "check_new_run_dir",
    "claim_run_dir",
    "earlier_run",
    "lag_limit_note",
    "mode_setup",
    "run_conformance",
    "start_run_cluster",
]


class Progress(Protocol):
    def update(self, **figures: Any) -> None: ...


class _NoProgress:
    def update(self, **figures: Any) -> None:
        pass


def bundled_bugs() -> list[dict[str, Any]]:
    """The bundled server's seeded bugs, as it lists them (``--list-bugs``)."""
    out = subprocess.run(
        [sys.executable, "-m", "harness.server", "--list-bugs"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0:
        raise AckboundError(
            f"the bundled server could not list its bugs: {out.stderr.strip()[:200]}; "
            "reinstall ackbound (pip install -e .)"
        )
    bugs: list[dict[str, Any]] = json.loads(out.stdout)
    return bugs


def mode_setup(target: Target, mode: str, config: RunConfig) -> ModeSetup:
    """The timing a run uses in ``mode``: a small lag limit, so a run takes seconds."""
    wanted_ms = round(config.lag_limit_s * 1000) if config.lag_limit_s is not None else 500
    lag_ms = target.lag_limit_ms(max(1, wanted_ms))
    sync_timeout_ms = config.sync_timeout_ms or max(500, lag_ms)
    return ModeSetup(
        mode=mode,
        sync_replicas=config.sync_replicas,
        sync_timeout_ms=sync_timeout_ms,
        lag_limit_ms=lag_ms,
        tolerance_ms=round(target.tolerance_s * 1000),
        recovery_ms=round(target.recovery_s * 1000),
    )


def lag_limit_note(target: Target, config: RunConfig) -> str | None:
    """What a run says, once, when the target cannot enforce the ``--lag-limit`` asked
    (it takes lag limits in steps, or has a least one): the run, and its verdicts, use
    the limit the server enforces, and a user who asked for another must be told so."""
    if config.lag_limit_s is None or "async" not in config.modes:
        return None
    used_ms = mode_setup(target, "async", config).lag_limit_ms
    if math.isclose(used_ms, config.lag_limit_s * 1000, rel_tol=0, abs_tol=1e-6):
        return None  # (1.001 s is 1000.9999… ms)
    g, least = target.lag_limit_granularity_ms, target.lag_limit_min_ms
    why = f"in steps of {g / 1000:g} s" if g > 1 else "to the millisecond"
    return (
        f"ackbound: target {target.name!r} sets lag limits {why}, at least "
        f"{least / 1000:g} s, so async mode runs, and is judged, with a lag limit of "
        f"{used_ms / 1000:g} s, not the {config.lag_limit_s:g} s of --lag-limit"
    )


@dataclass
class ModeRun:
    """One mode of a run: the shared cluster, the budget, and every example recorded."""

    config: RunConfig
    cluster: Cluster
    setup: ModeSetup
    directory: Path
    deadline: float
    shrink_deadline: float
    progress: Progress = field(default_factory=_NoProgress)
    examples: list[ExampleRecord] = field(default_factory=list)
    steps: int = 0
    faults: int = 0
    broken_in_a_row: int = 0
    canon_examples: int = 0  # examples that were textbook scenarios (not counted by --examples)
    stopping: bool = False
    _count: int = 0

    def before_example(self) -> None:
        """Called as each example starts: end the run when its time is spent.

        Hypothesis is stopped the way it expects to be stopped from outside — a
        KeyboardInterrupt raised before the example draws anything, which it neither
        records nor shrinks — with :attr:`stopping` set so that the run can tell its own
        budget from the user's Ctrl-C.
        """
        now = time.monotonic()
        failing = any(r.valid is False for r in self.examples)
        explored = len(self.examples) - self.canon_examples
        done = self.config.examples is not None and explored >= self.config.examples
        spent = (failing and now > self.shrink_deadline) or (
            not failing and (now > self.deadline or done)
        )
        if spent or self.broken_in_a_row >= 3:
            self.stopping = True
            raise KeyboardInterrupt

    def new_example(self) -> Example:
        self._count += 1
        eid = f"{self.setup.mode}-{self._count:04d}"
        return Example(
            cluster=self.cluster,
            setup=self.setup,
            directory=self.directory / "examples" / eid,
            example_id=eid,
            workers=self.config.workers,
        )

    def record(self, rec: ExampleRecord) -> None:
        self.examples.append(rec)
        self.broken_in_a_row = self.broken_in_a_row + 1 if rec.error else 0
        self.progress.update(
            mode=self.setup.mode,
            examples=len(self.examples),
            violations=sum(1 for r in self.examples if r.valid is False),
        )

    def progress_step(self) -> None:
        self.steps += 1
        self.progress.update(mode=self.setup.mode, steps=self.steps)

    def progress_fault(self, name: str) -> None:
        self.faults += 1
        self.progress.update(mode=self.setup.mode, faults=self.faults)


def check_topology(target: Target, config: RunConfig) -> None:
    """Refuse, before anything starts, a cluster the run's modes cannot work on: too few nodes
    or AZs, fewer replicas outside the primary's AZ than a sync write must wait for, or none
    for async mode's lag — every write would be refused, and the server blamed for a setting."""
    from harness.cluster import topology

    if target.external is not None:
        azs = {n.name: n.az for n in target.external.nodes}
        primary_az = azs.get(target.external.primary)
        where = f"the nodes of {target.source}"
        fix = f"add nodes in other AZs to {target.source}"
    else:
        topo = topology(config.nodes, config.azs)
        azs = {n["name"]: n["az"] for n in topo["nodes"]}
        primary_az = azs[topo["primary"]]
        n_azs = len(set(azs.values()))
        where = f"{len(azs)} nodes in {n_azs} AZ{'s' if n_azs > 1 else ''}"
        fix = "add --nodes (and --azs)" if n_azs > 1 else "use --azs 2 or more"
    eligible = sum(1 for az in azs.values() if az != primary_az)
    k = config.sync_replicas
    if "sync" in config.modes and k > eligible:
        lower = "lower --sync-replicas, " if eligible else ""
        raise AckboundError(
            f"sync mode with --sync-replicas {k} needs {k} replica{'s' if k > 1 else ''} "
            f"outside the primary's AZ, and {where} have {eligible}: every write would be "
            f"refused; {lower}{fix}, or leave sync out of --mode"
        )
    if "async" in config.modes and not eligible:
        raise AckboundError(
            f"async mode measures the lag against replicas outside the primary's AZ, and "
            f"{where} have none: every write would be refused once the lag passed the limit; "
            f"{fix}, or leave async out of --mode"
        )


def check_bug_target(target: Target, bug: str | None) -> None:
    """Refuse a seeded bug on a target that is not the bundled server (only it has them)."""
    if bug is not None and target.name != "bundled":
        command = " ".join(target.start.command if target.start else ())
        if "harness.server" not in command:
            raise AckboundError(
                f"--bug {bug!r} seeds a bug into the bundled server; use --target bundled"
            )


def start_run_cluster(target: Target, config: RunConfig, run_dir: Path, first_mode: str) -> Cluster:
    from harness.cluster import start_cluster
    from harness.history import Header, HistoryWriter

    check_bug_target(target, config.bug)  # also for a replay, whose program may be edited
    setup = mode_setup(target, first_mode, config)
    boot = HistoryWriter(None, Header())
    return start_cluster(
        target,
        backend=config.backend,
        nodes=config.nodes,
        azs=config.azs,
        mode=first_mode,
        params=setup.mode_params(),
        run_dir=run_dir,
        history=boot,
        bug=config.bug,
        image=config.image,
        auto_failover=True,
    )


def _hypothesis_settings(config: RunConfig, *, max_examples: int) -> Any:
    from hypothesis import HealthCheck, Phase, Verbosity, settings

    return settings(
        max_examples=max_examples,
        stateful_step_count=config.steps,
        deadline=None,
        # A run's examples follow from its seed alone; the failures of earlier runs are
        # tried first from the run's own store (saved_failures), not Hypothesis's database,
        # which a seed turns off.
        database=None,
        suppress_health_check=list(HealthCheck),
        # No Phase.shrink: against real servers every attempt is a whole example, so the
        # run shrinks failures itself by deleting steps (harness.run._shrink).
        phases=(Phase.explicit, Phase.generate, Phase.target),
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        print_blob=False,
    )


def run_mode(run: ModeRun, seed: int, database_dir: Path) -> tuple[str | None, bool]:
    """Explore one mode with Hypothesis; returns (the error Hypothesis ended with, flaky).

    The mode's textbook scenarios come first, then the failures earlier runs saved in
    ``database_dir`` (regression use, :func:`saved_failures`), then Hypothesis generates
    examples until the budget is spent (see :meth:`ModeRun.before_example`). A failure
    among the first two ends the search there: the run shrinks and reports it.
    """
    import hypothesis
    from hypothesis.errors import Flaky
    from hypothesis.stateful import get_state_machine_test

    from harness.run._machine import DurabilityViolation, make_machine

    machine = make_machine(run)
    if _run_canon(run, machine) or _run_saved(run, machine, database_dir):
        return None, False
    size = run.config.examples if run.config.examples is not None else 1_000_000
    settings = _hypothesis_settings(run.config, max_examples=size)
    test = hypothesis.seed(seed)(get_state_machine_test(machine, settings=settings))
    try:
        test()
    except KeyboardInterrupt:
        if not run.stopping:
            raise  # the user's Ctrl-C
    except Flaky as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0], True
    except DurabilityViolation as exc:
        return str(exc).splitlines()[0], False
    except AckboundError:
        raise
    except Exception as exc:  # the run itself broke; report it with what we have
        return f"{type(exc).__name__}: {exc}".splitlines()[0], False
    if run.broken_in_a_row >= 3:
        last = run.examples[-1]
        logs = (
            f"see the nodes' own logs (ackbound does not run them: {run.cluster.target.source})"
            if run.cluster.target.external is not None
            else f"see the node logs under {run.directory.parent / 'nodes'}"
        )
        raise AckboundError(
            f"the cluster broke in {run.broken_in_a_row} examples in a row "
            f"(last: {last.error}); {logs}"
        )
    return None, False


def _run_canon(run: ModeRun, machine: type[Any]) -> bool:
    """Run the mode's textbook scenarios (:func:`harness.run._machine.canon`) as the first
    examples; True when one of them failed (the failure is recorded and then shrunk)."""
    from harness.run._machine import canon
    from harness.run._shrink import OutOfTime

    if not run.config.canon:
        return False
    for steps in canon(run):
        try:
            if _up_front(run, machine, steps):
                return True
        except OutOfTime:
            return False
    return False


def _up_front(run: ModeRun, machine: type[Any], steps: list[dict[str, Any]]) -> bool | None:
    """Run one of the examples a mode starts with (a textbook scenario, a saved failure),
    which ``--examples`` does not count: :func:`harness.run._shrink.try_judged`'s answer."""
    from harness.run._shrink import try_judged

    before = len(run.examples)
    try:
        return try_judged(run, machine, steps)
    finally:
        run.canon_examples += len(run.examples) - before


_SAVED_MAX = 20  # failures kept per target, mode and bug (the oldest go first)


def _saved_key(run: ModeRun) -> dict[str, Any]:
    """What a saved failure's steps mean depends on: the cluster (its nodes and AZs, however
    given), the mode's timing and the faults enabled (whatever their order)."""
    return {
        "backend": run.config.backend,
        "image": run.config.image,
        "nodes": [[n.name, n.az] for n in run.cluster.nodes],
        "faults": sorted(run.config.faults),
        **run.setup.mode_params(),
    }


def saved_failures(database_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The failures earlier runs saved in ``database_dir``, newest first (a file that cannot
    be read is left out; :func:`_run_saved` removes it)."""
    out = []
    try:
        files = sorted(database_dir.glob("failure-*.json"), key=lambda p: -p.stat().st_mtime)
    except OSError:
        return []
    for path in files:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = None
        out.append((path, doc if isinstance(doc, dict) else {}))
    return out


def save_failure(database_dir: Path, run: ModeRun, steps: list[dict[str, Any]]) -> None:
    """Keep a failure's steps for later runs against the same target, mode and bug (see
    docs/ci.md, "Regression use"). A store that cannot be written is left alone: it never
    costs the run its reports."""
    doc = {"key": _saved_key(run), "steps": steps}
    text = json.dumps(doc, sort_keys=True)
    name = f"failure-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    with contextlib.suppress(OSError):
        database_dir.mkdir(parents=True, exist_ok=True)
        tmp = database_dir / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, database_dir / name)
        for old, _doc in saved_failures(database_dir)[_SAVED_MAX:]:
            old.unlink(missing_ok=True)


def _run_saved(run: ModeRun, machine: type[Any], database_dir: Path) -> bool:
    """Try the failures earlier runs saved, newest first; True when one fails again (it is
    recorded, then shrunk and reported). One that now passes is removed (fixed, as
    Hypothesis's database forgets an example that no longer fails); one saved under another
    setup (cluster, faults) is kept for the runs that have it; one this ackbound cannot run
    (a rule it no longer has) is removed."""
    from harness.run._replay import _steps_problem, step_problem
    from harness.run._shrink import OutOfTime

    key = _saved_key(run)
    for path, doc in saved_failures(database_dir):
        steps = doc.get("steps")
        if doc.get("key") != key and isinstance(doc.get("key"), dict):
            continue  # another setup's: its steps may use faults this run has not enabled
        if (
            not isinstance(steps, list)
            or not all(
                isinstance(st, dict) and isinstance(st.get("args", {}), dict) for st in steps
            )
            or step_problem(machine, steps) is not None
            or _steps_problem(run.setup.mode, steps) is not None
        ):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        try:
            failed = _up_front(run, machine, steps)
        except OutOfTime:
            return False
        except AckboundError:  # a step this cluster cannot take: the entry can never run
            failed = False
        if failed:
            return True
        if failed is False:  # judged and no longer failing, or never to run here
            with contextlib.suppress(OSError):
                path.unlink()
    return False


class _Ending(TypedDict, total=False):
    """How a mode's failure was shrunk (:data:`harness.run._shrink.ShrinkEnd`, or
    ``interrupted``) and whether the reported example failed again when run once more
    (``None``: that run could not be made)."""

    shrink: str
    reproduced: bool | None


def _pick_failure(examples: list[ExampleRecord]) -> ExampleRecord | None:
    """The smallest failing example (:func:`harness.run._shrink.cost`), the first of equals."""
    from harness.run._shrink import cost

    failing = [r for r in examples if r.valid is False]
    if not failing:
        return None
    return min(failing, key=lambda r: (cost(r.steps), examples.index(r)))


def earlier_run(run_dir: Path, ignore: tuple[str, ...] = ()) -> Path | None:
    """The first file or directory in ``run_dir`` that an earlier run left there (``None``:
    nothing of a run's is there, though other files may be): its reports, its history, its
    nodes' files or a mode's directory; those named in ``ignore`` aside."""
    from harness.report._write import HTML, JUNIT, PROGRAM, RESULTS

    for name in (RESULTS, JUNIT, PROGRAM, HTML, "history.ndjson", "nodes", *MODES_ALL):
        # (lexists: False for a path the system refuses, which is said later)
        if name not in ignore and os.path.lexists(run_dir / name):
            return run_dir / name
    return None


def _target_file(spec: str, target: Target) -> str | None:
    """The target's TOML file as an absolute path (so that the run replays from anywhere),
    or ``None`` for a built-in or plugin target."""
    path = Path(spec)
    if target.source.startswith("builtin:") or not path.is_file():
        return None
    return str(path.resolve())


def check_new_run_dir(run_dir: Path, flag: str = "the run directory") -> None:
    """Refuse a run directory an earlier run wrote to: its reports would be overwritten, its
    histories mixed with this run's, and an old report taken for a new one."""
    found = earlier_run(run_dir)
    if found is not None:
        raise AckboundError(
            f"{flag} {run_dir} already holds a run ({found.name}); pass a new directory, "
            "or remove that run first"
        )


def claim_run_dir(base: Path) -> Path:
    """Create and return a new directory named ``base``, or ``base-2``, ``base-3``, ... if
    that is taken (default run directories are named by the second: two runs may start in
    the same one). Creating it is the claim, so two processes never get the same."""
    path = base
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        for n in count(2):
            try:
                path.mkdir()
            except FileExistsError:
                path = base.with_name(f"{base.name}-{n}")
                continue
            return path
    except OSError as exc:
        why = f"{base.parent} is a file" if base.parent.is_file() else exc.strerror or exc
        raise AckboundError(
            f"cannot create the run directory {path} ({why}); run from a "
            "writable directory, or pass one for the reports"
        ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def run_conformance(
    config: RunConfig,
    *,
    progress: Progress | None = None,
    run_dir: Path,
    target: Target,
) -> RunResult:
    """Run every mode of ``config`` against ``target``; the result is also written to
    ``run_dir`` (results.json, junit.xml, program.txt, report.html, histories)."""
    from harness.cluster import client_version
    from harness.report import RunResult, TargetInfo, Topology, write_reports

    check_topology(target, config)
    check_new_run_dir(run_dir)
    prog: Progress = progress or _NoProgress()
    seed = config.seed if config.seed is not None else random.randrange(1 << 32)
    run_dir.mkdir(parents=True, exist_ok=True)
    result = RunResult.begin(
        argv=["ackbound", *config.command],
        target=TargetInfo(
            name=target.name,
            backend=config.backend,
            file=_target_file(config.target, target),
            bug=config.bug,
            client=client_version(target.client),
        ),
        seed=seed,
        budget_s=config.budget_s,
    )
    error: str | None = None
    interrupted = False
    result_files: list[Any] = []
    could_not_run = False
    cluster: Cluster | None = None
    stack = contextlib.ExitStack()
    stack.enter_context(sigint_to_flag())
    try:
        cluster = start_run_cluster(target, config, run_dir, config.modes[0])
        result.topology = Topology.of(
            [(n.name, n.az) for n in cluster.nodes], primary=cluster.initial_primary
        )
        share = config.budget_s / len(config.modes)
        for i, mode in enumerate(config.modes):
            setup = mode_setup(target, mode, config)
            start = time.monotonic()
            shrink = config.shrink_budget_s
            if shrink is None:
                shrink = max(60.0, share)
            run = ModeRun(
                config=config,
                cluster=cluster,
                setup=setup,
                directory=run_dir / mode,
                deadline=start + share,
                shrink_deadline=start + share + shrink,
                progress=prog,
            )
            prog.update(mode=mode, mode_index=i, examples=0, steps=0, faults=0, violations=0)
            db = run_dir.parent / ".ackbound-db" / f"{target.name}-{mode}-{config.bug or 'none'}"
            hyp_error, flaky = None, False
            ending: _Ending = {}
            try:
                hyp_error, flaky = run_mode(run, seed, db)
                first = _pick_failure(run.examples)
                if first is not None:
                    from harness.run._machine import make_machine
                    from harness.run._shrink import reproduces, shrink_steps

                    run.shrink_deadline = time.monotonic() + shrink
                    ending["shrink"] = "interrupted"  # until the shrink returns
                    machine = make_machine(run)
                    _best, ending["shrink"] = shrink_steps(run, machine, first.steps)
                    reported = _pick_failure(run.examples)
                    assert reported is not None
                    ending["reproduced"] = reproduces(run, machine, reported.steps)
            finally:
                # Also when Ctrl-C stops the search or the shrink: the failure found so far
                # (shrunk as far as it got) is recorded, and can be replayed.
                if (found := _pick_failure(run.examples)) is not None:
                    save_failure(db, run, list(found.steps))
                _fold_mode(result, run, run_dir, seed, config)
                failure = _record_failure(result, run, run_dir, config, flaky, ending)
            if hyp_error and failure is None:  # every mode's, not only the last one's
                error = "; ".join(filter(None, (error, f"mode {mode}: {hyp_error}")))
    except KeyboardInterrupt:
        interrupted = True
        error = f"interrupted ({interrupted_by()}); the reports hold what was gathered so far"
    except AckboundError as exc:
        error = str(exc)
        could_not_run = True
        if cluster is None:
            raise  # could not even start: the command reports it in one line (exit 3)
    except Exception as exc:  # a bug of the harness: recorded, never a "complete" run
        error = f"the harness failed: {type(exc).__name__}: {exc}"
        could_not_run = True
        raise
    finally:
        stack.close()
        if cluster is not None:
            cluster.close()
        top = next(
            (
                run_dir / m / "history.ndjson"
                for m in config.modes
                if result.modes.get(m) and result.modes[m].failure
            ),
            None,
        ) or next(
            (
                run_dir / m / "history.ndjson"
                for m in config.modes
                if (run_dir / m / "history.ndjson").exists()
            ),
            None,
        )
        if top is not None and top.exists():
            _copy_history(top, run_dir / "history.ndjson")
        result.finish(
            complete=not interrupted and error is None,
            error=error,
            exit_code=EXIT_INTERRUPTED if interrupted else None,  # as the command exits
        )
        if could_not_run and result.valid is not False:
            result.exit_code = EXIT_COULD_NOT_RUN  # the harness could not drive the cluster
        files = write_reports(run_dir, result, json_path=config.json, junit_path=config.junit)
        result_files[:] = [files]
    if interrupted:
        raise KeyboardInterrupt
    if result_files:
        result.report_files = result_files[0]  # type: ignore[attr-defined]
    return result


def _record_failure(
    result: RunResult,
    run: ModeRun,
    run_dir: Path,
    config: RunConfig,
    hypothesis_flaky: bool,
    ending: _Ending,
) -> ExampleRecord | None:
    """Record the mode's failing example (the smallest found) in ``result`` and copy its
    history, or the last example's, to ``run_dir/MODE/history.ndjson``; the failure."""
    mode = run.setup.mode
    failure = _pick_failure(run.examples)
    if failure is not None:
        first_failed = next(r for r in run.examples if r.valid is False)
        # Flaky: the reported example passed when run once more after the shrink — or,
        # without that run (Ctrl-C), it is the first failure and Hypothesis's own replay of
        # it passed.
        reproduced = ending.get("reproduced")
        if reproduced is None:
            flaky = hypothesis_flaky and failure is first_failed
        else:
            flaky = not reproduced
        result.record_failure(
            mode,
            example=failure.id,
            steps=failure.steps,
            check=failure.result,
            shrunk=failure is not first_failed,
            shrink=ending.get("shrink"),
            flaky=flaky,
            history=str(failure.history.relative_to(run_dir)),
            run_dir=str(run_dir),
            replay_options=_replay_options(config, run.setup),
        )
        _copy_history(failure.history, run_dir / mode / "history.ndjson")
    elif run.examples:
        _copy_history(run.examples[-1].history, run_dir / mode / "history.ndjson")
    return failure


def _replay_options(config: RunConfig, setup: ModeSetup) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "backend": config.backend,
        "lag_limit_ms": setup.lag_limit_ms,
        "sync_timeout_ms": setup.sync_timeout_ms,
        "sync_replicas": setup.sync_replicas,
        # What a step does depends on the faults enabled (an isolation ends in a failover
        # only when kill is one): a replay with others runs another program.
        "faults": list(config.faults),
    }
    if config.nodes is not None:
        opts["nodes"] = config.nodes
    if config.azs is not None:
        opts["azs"] = config.azs
    if config.image is not None:  # --image: the replay needs the same one
        opts["image"] = config.image
    return opts


def _fold_mode(
    result: RunResult, run: ModeRun, run_dir: Path, seed: int, config: RunConfig
) -> None:
    from harness.history import load_history

    m = result.mode(run.setup.mode)
    for rec in run.examples:
        history = None
        with contextlib.suppress(Exception):
            history = load_history(rec.history)
        m.add_example(
            rec.id,
            rec.result,
            steps=rec.steps,
            duration_s=rec.duration_s,
            history=history,
            history_path=str(rec.history.relative_to(run_dir)),
            error=rec.error,
        )


def _copy_history(src: Path, dst: Path) -> None:
    if src.exists() and src != dst:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
