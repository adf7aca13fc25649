"""``ackbound matrix``: the conformance matrix, written to docs/matrix.md and docs/matrix.json.

The matrix runs every built-in target on every backend it has an image for — bundled and
valkey on the local and the docker backend, redis on the local one — in every mode, with the
standard fault set and a fixed list of seeds. Each **cell** (target, backend, mode, seed) is
one ``ackbound run`` in a subprocess of its own, in a directory of its own (so that no cell
replays another's saved failures from the example database), and the command line of that
subprocess is recorded as the command that reproduces the cell.

From each cell's results.json the matrix keeps the verdict, the properties violated and
those left unknown, the loss window, write p50/p99, rejections and, when a property was
violated, the shrunk program from program.txt. docs/matrix.json holds that as data
(schema ``ackbound-matrix/1``); docs/matrix.md is rendered from it and from nothing else.

The document has two sections: ``full`` (the committed matrix, ``ackbound matrix``) and
``short`` (``ackbound matrix --short``: the few cells CI runs, chosen so that their verdict
does not depend on luck within a short budget). A run replaces only its own section and
re-renders the page. ``--check FILE`` compares a run's verdicts with the same section of a
committed matrix.json, cell by cell and exactly, and exits 1 on any change.

Each cell that ran to its end leaves ``cell.json`` in its directory: its settings, the
ackbound that ran it and its record. ``--resume`` with the ``--run-dir`` of an interrupted
matrix keeps those cells and runs the others; a cell's unfinished or could-not-run
directory is kept beside it as ``<cell>.earlier-N``, never overwritten.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from harness._errors import (
    EXIT_COULD_NOT_RUN,
    EXIT_INTERRUPTED,
    EXIT_VALID,
    EXIT_VIOLATED,
    AckboundError,
)
from harness.cli._check import _positive_int, _seconds
from harness.cli._paths import check_output_dir, check_output_file, path_arg
from harness.run._config import MODES_ALL

__all__ = [
    "MATRIX_SCHEMA",
    "ROWS",
    "SHORT_CELLS",
    "STANDARD_FAULTS",
    "Cell",
    "compare_sections",
    "render_markdown",
    "verdict_text",
]

MATRIX_SCHEMA: Final = "ackbound-matrix/1"
# Every built-in target on every backend the matrix can run it on, in table order. Redis
# runs on the local backend only: no registry is reachable and no image of it is built here.
ROWS: Final[tuple[tuple[str, str], ...]] = (
    ("bundled", "local"),
    ("bundled", "docker"),
    ("valkey", "local"),
    ("valkey", "docker"),
    ("redis", "local"),
)
# The images the docker rows use (built by `ackbound images build`); None: the target's own.
DOCKER_IMAGES: Final[Mapping[str, str | None]] = {
    "bundled": None,  # bundled.toml's [docker] image, ackbound-bundled:local
    "valkey": "ackbound-valkey:local",  # valkey.toml names the upstream image; build locally
}
# The standard fault set: every fault in the registry, written out so that the matrix stays
# pinned if the run's default ever changes.
STANDARD_FAULTS: Final = (
    "kill",
    "restart",
    "wipe-restart",
    "pause",
    "resume",
    "partition",
    "slow-link",
    "failover",
    "az-outage",
    "heal",
)
# Faults the standard set leaves out, each with the reason the page gives. None now:
# wipe-restart was left out while the checker dated a wiped primary's new lineage from the
# start of the fault (a false alarm on docker); that is fixed.
LEFT_OUT: Final[Mapping[str, str]] = {}
# One seed: every cell starts with the textbook scenarios (harness.run._machine.canon), which
# meet the situations the promises are written about whatever the seed; the seed decides
# only what Hypothesis explores after them.
DEFAULT_SEEDS: Final = (1,)
# Per cell (one mode). With L = 2 s the textbook scenarios take most of it.
DEFAULT_BUDGET_S: Final = 40.0
DEFAULT_SHRINK_S: Final = 30.0
# L for async mode (and so the default sync timeout). The run's fault holds and bursts scale
# with L while the stock targets' timing tolerance ε is a fixed 1 s: with L = 2 s the
# textbook slow link held on the primary for 4 L = 8 s before a failover outlasts
# L + ε = 3 s by more than scheduling noise (with L = 1 s it would not).
DEFAULT_LAG_LIMIT_S: Final = 2.0
DEFAULT_OUT: Final = Path("docs/matrix.md")


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One cell: one ``ackbound run`` of one target, backend, mode and seed."""

    target: str
    backend: str
    mode: str
    seed: int
    budget_s: float
    faults: tuple[str, ...] = STANDARD_FAULTS
    shrink_budget_s: float = DEFAULT_SHRINK_S
    lag_limit_s: float = DEFAULT_LAG_LIMIT_S
    examples: int | None = None
    # The short version only: why this cell's verdict does not depend on luck.
    why: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        return f"{self.target}/{self.backend}/{self.mode}/{self.seed}"

    @property
    def slug(self) -> str:
        return self.id.replace("/", "-")

    def run_args(self, run_dir: Path) -> list[str]:
        """The ``ackbound`` arguments of this cell (after the program name)."""
        args = ["run", "--target", self.target, "--backend", self.backend]
        image = DOCKER_IMAGES.get(self.target) if self.backend == "docker" else None
        if image:
            args += ["--image", image]
        args += ["--mode", self.mode, "--faults", ",".join(self.faults)]
        args += ["--lag-limit", _num(self.lag_limit_s)]
        args += ["--seed", str(self.seed), "--budget", _num(self.budget_s)]
        if self.examples is not None:
            args += ["--examples", str(self.examples)]
        args += ["--shrink-budget", _num(self.shrink_budget_s)]
        args += ["--report-dir", str(run_dir / self.slug / "run")]
        return args


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


# The short version CI runs (tests/matrix/test_matrix.py, ci/matrix.sh): few cells, pinned
# seeds and example counts, each chosen because its verdict does not hinge on what a short
# search happens to meet (docs/matrix.md, "The short version", says why each is stable).
# Every short cell starts with the textbook scenarios (docs/run.md), which do not depend on
# the seed; the seed and the example count pin what little Hypothesis explores after them.
_SLOW_LINK = (
    "the first textbook scenario holds a slow link on the primary for 4 L = 8 s under load "
    "and then fails over; {server}'s min-replicas check reads the age of the last replica "
    "acknowledgement, which stays fresh while the stream falls behind, so the failover loses "
    "writes spanning about 5.5 s against a bound of L + ε = 3 s — a margin scheduling noise "
    "does not close. The cell stops exploring there, so no later draw can change it"
)
SHORT_CELLS: Final[tuple[Cell, ...]] = (
    Cell(
        target="valkey", backend="docker", mode="async", seed=1, budget_s=40, examples=1,
        shrink_budget_s=5, why=_SLOW_LINK.format(server="valkey"),
    ),
    Cell(
        target="redis", backend="local", mode="async", seed=1, budget_s=40, examples=1,
        shrink_budget_s=5, why=_SLOW_LINK.format(server="redis"),
    ),
    Cell(
        target="bundled", backend="local", mode="async", seed=1, budget_s=40, examples=1,
        shrink_budget_s=5,
        why="the same textbook scenarios against the reference: the bundled server rejects "
        "writes once its lag passes L, so the failover loses less than L of writes (1.3 s in "
        "the full matrix), and the "
        "scenarios give every async property its evidence (rejections and lag readings while "
        "the replicas are cut off, a judged loss, writes resuming after the heal)",
    ),
    Cell(
        target="bundled", backend="docker", mode="sync", seed=1, budget_s=40, examples=1,
        shrink_budget_s=5,
        why="sync is native to the bundled server, and the textbook scenarios give every sync "
        "property its evidence on the docker backend (a failover after the primary's link "
        "lagged, clean rejections while the replicas are cut off, a replica down while "
        "clients write): valid does not hinge on one lucky observation",
    ),
)  # fmt: skip


# -- verdicts as text ----------------------------------------------------------------------


def verdict_word(verdict: Any) -> str:
    return {True: "valid", False: "violated", "unknown": "unknown"}.get(verdict, "could not run")


def verdict_text(cell: Mapping[str, Any]) -> str:
    """What the CI check compares: the verdict and the properties it rests on, e.g.
    ``violated: loss-window-bounded`` or ``unknown: lag-metric-not-underreported``."""
    verdict = cell.get("verdict")
    if verdict is False:
        return "violated: " + ", ".join(cell.get("violated") or ["?"])
    if verdict == "unknown":
        return "unknown: " + ", ".join(cell.get("unknown") or ["?"])
    if verdict is True:
        return "valid"
    return "could not run"


def compare_sections(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Every cell whose verdict text differs between two sections, one line each, in cell
    order; cells present in only one of them are differences too. [] when they agree."""
    want: Mapping[str, Any] = expected.get("cells") or {}
    got: Mapping[str, Any] = actual.get("cells") or {}
    out = []
    for cid in [*want, *(c for c in got if c not in want)]:
        if cid not in got:
            out.append(f"{cid}: in the committed matrix ({verdict_text(want[cid])}) but not run")
        elif cid not in want:
            out.append(f"{cid}: not in the committed matrix (now {verdict_text(got[cid])})")
        elif verdict_text(want[cid]) != verdict_text(got[cid]):
            out.append(
                f"{cid}: was {verdict_text(want[cid])}, now {verdict_text(got[cid])} "
                f"(reproduce: {got[cid].get('command', '?')})"
            )
    return out


# -- running cells -------------------------------------------------------------------------


def cell_record(cell: Cell, command: str, results: Mapping[str, Any] | None) -> dict[str, Any]:
    """The matrix's record of one cell, from the run's results.json (None: it did not run)."""
    rec: dict[str, Any] = {
        "target": cell.target,
        "backend": cell.backend,
        "mode": cell.mode,
        "seed": cell.seed,
        "budget_s": cell.budget_s,
        "examples_asked": cell.examples,
        "command": command,
        "verdict": "error",
        "violated": [],
        "unknown": [],
        "exit_code": EXIT_COULD_NOT_RUN,
        "examples": 0,
        "acknowledged": 0,
        "lost": 0,
        "rejected": 0,
        "loss_window_s": None,
        "write_p50_ms": None,
        "write_p99_ms": None,
        "max_lag_ms": None,
        "lag_limit_s": None,
        "tolerance_s": None,
        "duration_s": None,
        "failure": None,
        "error": None,
    }
    if cell.why:
        rec["why_stable"] = cell.why
    if results is None:
        return rec
    mode = (results.get("modes") or {}).get(cell.mode)
    rec["exit_code"] = results.get("exit_code", EXIT_COULD_NOT_RUN)
    rec["error"] = results.get("error")
    if mode is None:
        rec["error"] = rec["error"] or f"the run has no result for mode {cell.mode}"
        return rec
    props: Mapping[str, Any] = mode.get("properties") or {}
    stats: Mapping[str, Any] = mode.get("stats") or {}
    latency: Mapping[str, Any] = stats.get("write_latency_ms") or {}
    rec["verdict"] = mode.get("valid", "unknown")
    if rec["exit_code"] in (EXIT_COULD_NOT_RUN, EXIT_INTERRUPTED) and rec["verdict"] is not False:
        # The run stopped early (a cluster that kept breaking, Ctrl-C): what its modes had
        # gathered is no verdict on the cell. (A violation found is one all the same.)
        rec["verdict"] = "error"
        rec["error"] = rec["error"] or f"the run exited {rec['exit_code']}"
    rec["violated"] = [p for p, r in props.items() if r.get("valid") is False]
    rec["unknown"] = [p for p, r in props.items() if r.get("valid") == "unknown"]
    rec["examples"] = mode.get("examples", 0)
    for key in ("acknowledged", "lost", "rejected", "max_lag_ms"):
        rec[key] = stats.get(key, rec[key])
    rec["loss_window_s"] = stats.get("loss_window_s")
    rec["write_p50_ms"] = latency.get("p50")
    rec["write_p99_ms"] = latency.get("p99")
    params: Mapping[str, Any] = mode.get("params") or {}
    rec["lag_limit_s"] = params.get("lag_limit_s")
    rec["tolerance_s"] = params.get("tolerance_s")
    failure = mode.get("failure")
    if failure:
        first = next((p for p in failure.get("violated") or [] if p in props), None)
        explanation = None
        if first is not None:
            explanation = (props[first].get("first_violation") or {}).get("explanation")
        rec["failure"] = {
            "example": failure.get("example"),
            "violated": list(failure.get("violated") or []),
            "steps": len(failure.get("steps") or []),
            "shrunk": bool(failure.get("shrunk")),
            "flaky": bool(failure.get("flaky")),
            "program": failure.get("program"),
            "explanation": explanation or failure.get("error"),
        }
    return rec


CELL_FILE: Final = "cell.json"


def _settings(cell: Cell) -> dict[str, Any]:
    """What makes two cells the same run (as JSON): everything but the reason it is short."""
    settings = dataclasses.asdict(cell)
    del settings["why"]
    settings["faults"] = list(cell.faults)
    return settings


def _run_cell(cell: Cell, run_dir: Path, log: Any, built_by: str) -> dict[str, Any]:
    from harness.report._model import utc_now
    from harness.run import earlier_run

    args = cell.run_args(run_dir)
    command = shlex.join(["ackbound", *args])
    report = run_dir / cell.slug / "run"
    if earlier_run(report) is not None:
        raise AckboundError(
            f"{report} already holds a run; pass a fresh --run-dir so that no cell replays an "
            "earlier run's failures"
        )
    report.parent.mkdir(parents=True, exist_ok=True)
    timeout = cell.budget_s + cell.shrink_budget_s + 300
    started_at, started = utc_now(), time.monotonic()
    with (
        (report.parent / "ackbound.log").open("w", encoding="utf-8") as out,
        subprocess.Popen(
            [sys.executable, "-m", "harness", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_take_sigint,
        ) as proc,
    ):
        code = _wait_cell(proc, timeout)
    elapsed = round(time.monotonic() - started, 1)
    results = None
    with contextlib.suppress(OSError, ValueError):
        results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    rec = cell_record(cell, command, results)
    rec["duration_s"] = elapsed
    if results is None:
        tail = _last_line(report.parent / "ackbound.log")
        why = f"timed out after {timeout:.0f} s" if code is None else f"exit {code}: {tail}"
        rec["error"] = f"no results.json ({why})"
    # Written last: a cell interrupted before this line has no cell.json, and --resume
    # runs it again.
    finished = {"cell": _settings(cell), "ackbound": built_by, "started": started_at, "record": rec}
    (report.parent / CELL_FILE).write_text(json.dumps(finished, indent=2) + "\n", encoding="utf-8")
    print(
        f"  {cell.id}: {verdict_text(rec)} ({rec['examples']} examples, {elapsed:.0f} s)",
        file=log,
        flush=True,
    )
    return rec


# How long a cell's run may take to stop by itself once interrupted (it writes its reports
# and stops its cluster), and again after a SIGINT of its own, before it is killed.
_STOP_GRACE_S: Final = 60.0


def _take_sigint() -> None:
    """In a cell's run, before it starts: take SIGINT as Ctrl-C even when the matrix was
    started with SIGINT ignored (in the background of a script), so that the run can be
    stopped cleanly (:func:`_stop_cell`)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_cell(proc: subprocess.Popen[Any], timeout: float) -> int | None:
    """The exit code of a cell's run; ``None`` if it ran past ``timeout`` (it is stopped).

    A Ctrl-C reaches the run too (the terminal signals the whole process group), and the
    run then writes its partial reports and stops its servers: the matrix waits for that
    rather than kill it halfway, which would leave servers running.
    """
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_cell(proc, already_asked=False)
        return None
    except KeyboardInterrupt:
        _stop_cell(proc, already_asked=True)
        raise


def _stop_cell(proc: subprocess.Popen[Any], *, already_asked: bool) -> None:
    """Stop a cell's run as Ctrl-C does (SIGINT: it cleans up), killing it only when it
    does not stop within the grace period."""
    for ask in (not already_asked, True):
        if ask and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_STOP_GRACE_S)
            return
    proc.kill()
    proc.wait()


def _finished_cell(cell: Cell, run_dir: Path, built_by: str) -> dict[str, Any] | None:
    """What an earlier invocation left of ``cell`` in ``run_dir``, for ``--resume``: its
    cell.json (``None``: run the cell, it did not finish or could not run).

    Raises when the cell finished with other settings or another ackbound: a matrix mixes
    neither, and the user must choose between the earlier flags and a fresh directory.
    """
    path = run_dir / cell.slug / CELL_FILE
    try:
        finished = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # not finished, or its record is unreadable: run it again
    if not isinstance(finished, dict):
        return None
    settings = finished.get("cell")
    wanted = _settings(cell)
    if settings != wanted:
        had = settings if isinstance(settings, dict) else {}
        changed = ", ".join(
            f"{k} {_setting_text(had.get(k))} → {_setting_text(wanted.get(k))}"
            for k in [*wanted, *(k for k in had if k not in wanted)]
            if had.get(k) != wanted.get(k)
        )
        raise AckboundError(
            f"--resume: {cell.id} in {run_dir} ran with other settings ({changed}); resume "
            "with the flags of the matrix being resumed, or pass a fresh --run-dir"
        )
    if finished.get("ackbound") != built_by:
        raise AckboundError(
            f"--resume: {cell.id} in {run_dir} was run by ackbound {finished.get('ackbound')}, "
            f"and this is {built_by}; a matrix mixes no versions: pass a fresh --run-dir"
        )
    if _fields_problem("record", finished.get("record"), _CELL_FIELDS) is not None:
        return None  # a record this ackbound cannot read: run the cell again
    if finished["record"]["verdict"] == "error":
        return None  # it could not run: try it again
    return finished


def _setting_text(v: Any) -> str:
    return ",".join(map(str, v)) if isinstance(v, list) else str(v)


def _move_aside(cell_dir: Path) -> Path | None:
    """Keep what an unfinished cell left, beside it as ``<cell>.earlier-N``, so that the
    cell runs afresh and nothing is lost."""
    if not os.path.lexists(cell_dir):
        return None
    n = 1
    while os.path.lexists(aside := cell_dir.with_name(f"{cell_dir.name}.earlier-{n}")):
        n += 1
    cell_dir.rename(aside)
    return aside


def _last_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
        lines = [ln.strip() for ln in lines if ln.strip()]
        if lines:
            return lines[-1][:200]
    return "(no output)"


def _versions(rows: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Versions of what the matrix ran: Python, each server binary, the Docker engine."""
    out = {"python": platform.python_version()}
    commit = _commit()
    if commit:
        out["commit"] = commit
    for name in sorted({t for t, _ in rows} - {"bundled"}):
        with contextlib.suppress(Exception):
            from harness.targets import load_target

            binary = load_target(name).locate_binary()
            text = subprocess.run(
                [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
            out[name] = next((w[2:] for w in text.split() if w.startswith("v=")), text.strip())
    if any(b == "docker" for _, b in rows):
        with contextlib.suppress(Exception):
            from harness.cluster._docker import docker_client

            out["docker"] = str(docker_client().version().get("Version"))
    return out


def _commit() -> str | None:
    """The git commit the harness runs from (``+dirty`` if harness/ or models/ have
    uncommitted changes); None outside a git checkout."""
    import harness

    root = Path(harness.__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "harness", "models"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head or None


def _build_images(cells: Sequence[Cell], log: Any) -> None:
    needed = sorted({c.target for c in cells if c.backend == "docker"})
    if not needed:
        return
    from harness.cluster._docker import docker_client
    from harness.cluster._images import ensure_image

    try:
        client = docker_client()
    except AckboundError as exc:
        raise AckboundError(
            f"the matrix's docker rows ({', '.join(f'{t}/docker' for t in needed)}) need a "
            f"Docker engine: {exc}; or leave them out with --targets"
        ) from None
    for name in needed:
        print(f"  image {ensure_image(client, name).line()}", file=log, flush=True)


# -- the command ---------------------------------------------------------------------------


def _parse_rows(text: str | None) -> list[tuple[str, str]]:
    if text is None:
        return list(ROWS)
    if not text.strip(", "):
        raise AckboundError(
            "--targets is empty; name rows (bundled, valkey, redis, or target/backend), or "
            "drop it for every row"
        )
    rows: list[tuple[str, str]] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        target, _, backend = item.partition("/")
        matches = [r for r in ROWS if r[0] == target and (not backend or r[1] == backend)]
        if not matches:
            choices = ", ".join(f"{t}/{b}" for t, b in ROWS)
            raise AckboundError(
                f"--targets {item!r} is not a row of the matrix; use target names (bundled, "
                f"valkey, redis) or target/backend pairs: {choices}"
            )
        rows += [r for r in matches if r not in rows]
    return [r for r in ROWS if r in rows]


def _parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        seeds = ()
    if not seeds:
        raise AckboundError(f"--seeds {text!r}: give a comma-separated list of whole numbers")
    return tuple(dict.fromkeys(seeds))


def plan(args: argparse.Namespace) -> list[Cell]:
    """The cells a matrix invocation runs, in order."""
    from harness.run import parse_faults, parse_modes

    if args.short:
        cells = list(SHORT_CELLS)
        if args.targets is not None:
            rows = _parse_rows(args.targets)
            cells = [c for c in cells if (c.target, c.backend) in rows]
        if args.modes is not None:
            modes = parse_modes(args.modes, "--modes")
            cells = [c for c in cells if c.mode in modes]
        return cells
    rows = _parse_rows(args.targets)
    modes = parse_modes("all" if args.modes is None else args.modes, "--modes")
    faults = parse_faults(args.faults) if args.faults is not None else STANDARD_FAULTS
    seeds = _parse_seeds(args.seeds) if args.seeds is not None else DEFAULT_SEEDS
    return [
        Cell(
            target=t,
            backend=b,
            mode=m,
            seed=s,
            budget_s=args.budget,
            faults=faults,
            shrink_budget_s=args.shrink_budget,
            lag_limit_s=args.lag_limit,
        )
        for t, b in rows
        for m in MODES_ALL
        if m in modes
        for s in seeds
    ]


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--targets",
        default=None,
        metavar="LIST",
        help="rows to run: target names or target/backend pairs, comma-separated (default: "
        + ", ".join(f"{t}/{b}" for t, b in ROWS)
        + ")",
    )
    p.add_argument("--modes", default=None, metavar="LIST", help="none, sync, async (default all)")
    p.add_argument(
        "--seeds",
        default=None,
        metavar="LIST",
        help="comma-separated seeds; one cell per seed (default "
        + ",".join(map(str, DEFAULT_SEEDS))
        + ")",
    )
    p.add_argument(
        "--budget",
        type=_seconds,
        default=DEFAULT_BUDGET_S,
        metavar="SECONDS",
        help=f"exploration budget of each cell (default {DEFAULT_BUDGET_S:.0f})",
    )
    p.add_argument(
        "--shrink-budget",
        type=_seconds,
        default=DEFAULT_SHRINK_S,
        metavar="SECONDS",
        help=f"time each cell may spend shrinking a failure (default {DEFAULT_SHRINK_S:.0f})",
    )
    p.add_argument(
        "--lag-limit",
        type=_seconds,
        default=DEFAULT_LAG_LIMIT_S,
        metavar="S",
        help=f"async lag limit L of every cell (default {DEFAULT_LAG_LIMIT_S:g})",
    )
    p.add_argument(
        "--faults",
        default=None,
        metavar="LIST",
        help="the fault set (default the standard set: every fault)",
    )
    p.add_argument(
        "--short",
        action="store_true",
        help="the short version CI runs: its own few cells, seeds and budgets",
    )
    p.add_argument(
        "--out",
        type=path_arg,
        default=None,
        metavar="FILE",
        help="the page to write; FILE with .json is the data (default docs/matrix.md; "
        "with --short nothing unless given)",
    )
    p.add_argument(
        "--run-dir",
        type=path_arg,
        default=None,
        metavar="DIR",
        help="where the cells' runs go, one directory each (default "
        "ackbound-runs/matrix-full-<time>, or matrix-short-<time>); must not hold a matrix "
        "already",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="with --run-dir: keep the cells an interrupted matrix there finished (same flags, "
        "same ackbound) and run the rest",
    )
    p.add_argument(
        "--check",
        type=path_arg,
        default=None,
        metavar="FILE",
        help="compare the verdicts with this committed matrix.json; exit 1 on any change",
    )
    p.add_argument(
        "--render",
        type=path_arg,
        default=None,
        metavar="JSON",
        help="run nothing: render this matrix.json as the page --out names",
    )
    p.add_argument(
        "--examples",
        type=_positive_int,
        default=None,
        metavar="N",
        help=argparse.SUPPRESS,  # developers: cap every cell's examples
    )


def _argv_text(argv: Sequence[str]) -> str:
    return shlex.join(["ackbound", "matrix", *argv])


def load_matrix(path: Path) -> dict[str, Any]:
    """Read a matrix.json; a missing file is an empty document."""
    if not path.exists():
        return {"schema": MATRIX_SCHEMA, "full": None, "short": None}
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AckboundError(f"{path}: not a readable matrix.json ({exc}); regenerate it") from None
    if not isinstance(doc, dict) or doc.get("schema") != MATRIX_SCHEMA:
        schema = doc.get("schema") if isinstance(doc, dict) else None
        raise AckboundError(
            f"{path}: schema {schema!r} is not {MATRIX_SCHEMA!r}; regenerate it with "
            "ackbound matrix"
        )
    problem = _matrix_problem(doc)
    if problem is not None:
        raise AckboundError(f"{path}: {problem}; regenerate it with ackbound matrix")
    return doc


_NUMBER = (int, float)
_NUMBER_OR_NONE = (int, float, type(None))
# What the page and the comparison read of a section and of a cell, and their types.
_SECTION_FIELDS: dict[str, tuple[type, ...]] = {
    "command": (str,),
    "version": (str,),
    "started": (str,),
    "duration_s": _NUMBER,
    "machine": (str,),
    "versions": (dict,),
    "run_dir": (str,),
    "cells": (dict,),
}
_CELL_FIELDS: dict[str, tuple[type, ...]] = {
    "target": (str,),
    "backend": (str,),
    "mode": (str,),
    "seed": (int,),
    "command": (str,),
    "verdict": (bool, str),
    "violated": (list,),
    "unknown": (list,),
    "exit_code": (int,),
    "examples": (int,),
    "acknowledged": (int,),
    "lost": (int,),
    "rejected": (int,),
    "budget_s": _NUMBER_OR_NONE,
    "examples_asked": (int, type(None)),
    "loss_window_s": _NUMBER_OR_NONE,
    "write_p50_ms": _NUMBER_OR_NONE,
    "write_p99_ms": _NUMBER_OR_NONE,
    "max_lag_ms": _NUMBER_OR_NONE,
    "lag_limit_s": _NUMBER_OR_NONE,
    "tolerance_s": _NUMBER_OR_NONE,
    "duration_s": _NUMBER_OR_NONE,
    "failure": (dict, type(None)),
    "error": (str, type(None)),
}


def _fields_problem(where: str, obj: Any, fields: Mapping[str, tuple[type, ...]]) -> str | None:
    if not isinstance(obj, dict):
        return f"{where} must be an object"
    for name, kinds in fields.items():
        if name not in obj:
            return f"{where} has no {name!r}"
        v = obj[name]
        if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
            return f"{where}.{name} has the wrong type ({type(v).__name__})"
    return None


def _matrix_problem(doc: Mapping[str, Any]) -> str | None:
    """What makes ``doc`` not a matrix.json as ackbound writes it (None: nothing)."""
    for name in ("full", "short"):
        section = doc.get(name)
        if section is None:
            continue
        problem = _fields_problem(name, section, _SECTION_FIELDS)
        if problem is not None:
            return problem
        for cid, cell in section["cells"].items():
            where = f"{name}.cells[{cid!r}]"
            problem = _fields_problem(where, cell, _CELL_FIELDS)
            if problem is not None:
                return problem
            for listed in ("violated", "unknown"):
                if not all(isinstance(p, str) for p in cell[listed]):
                    return f"{where}.{listed} must list property names (strings)"
    return None


def load_matrix_strict(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise AckboundError(f"{path}: no such file; pass the matrix.json to render")
    return load_matrix(path)


def run(args: argparse.Namespace) -> int:
    from harness.report._model import ackbound_version, utc_now
    from harness.run import earlier_run

    argv = sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] == "matrix" else []
    if args.out is not None and args.out.suffix == ".json":
        raise AckboundError(
            f"--out {args.out} is the page (Markdown), and its data goes beside it as .json; "
            f"pass the page's name, e.g. --out {args.out.with_suffix('.md')}"
        )
    if args.render is not None:
        page = args.out or DEFAULT_OUT
        if page.resolve() == args.render.resolve():
            raise AckboundError(
                f"--out {page} is the matrix.json --render reads; pass another file for the page"
            )
        check_output_file("--out", page)
        page.write_text(render_markdown(load_matrix_strict(args.render)), encoding="utf-8")
        print(f"wrote {page} from {args.render}")
        return EXIT_VALID
    cells = plan(args)
    if args.examples is not None:
        cells = [dataclasses.replace(c, examples=args.examples) for c in cells]
    if not cells:
        raise AckboundError("no cells to run; widen --targets/--modes")
    section_name = "short" if args.short else "full"
    out: Path | None = args.out if args.out is not None else (None if args.short else DEFAULT_OUT)
    if args.check is not None and not args.check.exists():
        raise AckboundError(
            f"--check {args.check}: no such file; pass the committed matrix.json (docs/matrix.json)"
        )
    expected = load_matrix(args.check).get(section_name) if args.check else None
    if args.check and not expected:
        raise AckboundError(
            f"{args.check} has no {section_name!r} section to compare with; run "
            f"ackbound matrix{' --short' if args.short else ''} --out docs/matrix.md first"
        )
    if args.resume and args.run_dir is None:
        raise AckboundError(
            "--resume needs the matrix to resume: pass its directory as --run-dir DIR"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    run_dir: Path = args.run_dir or Path("ackbound-runs") / f"matrix-{section_name}-{stamp}"
    if out is not None:  # both are written only after every cell has run
        check_output_file("--out", out)
        check_output_file("--out", out.with_suffix(".json"))
    check_output_dir("--run-dir", run_dir)
    built_by = " ".join(filter(None, (ackbound_version(), _commit())))
    done: dict[str, dict[str, Any]] = {}
    if args.resume:
        for c in cells:
            finished = _finished_cell(c, run_dir, built_by)
            if finished is not None:
                done[c.id] = finished
    else:
        used = [c.id for c in cells if earlier_run(run_dir / c.slug / "run") is not None]
        if used:
            raise AckboundError(
                f"--run-dir {run_dir} already holds runs of {', '.join(used)}; pass a fresh "
                "directory so that no cell replays an earlier run's saved failures, or "
                "--resume to finish that matrix"
            )
    log = sys.stderr
    resumed = f", {len(done)} finished earlier" if args.resume else ""
    print(f"ackbound matrix: {len(cells)} cell(s) in {run_dir}{resumed}", file=log, flush=True)
    started, t0 = utc_now(), time.monotonic()
    _build_images([c for c in cells if c.id not in done], log)
    records: dict[str, Any] = {}
    for i, cell in enumerate(cells, 1):
        print(f"[{i}/{len(cells)}] {cell.id}", file=log, flush=True)
        if cell.id in done:
            records[cell.id] = rec = done[cell.id]["record"]
            print(f"  {cell.id}: {verdict_text(rec)} (finished earlier, kept)", file=log)
            continue
        aside = _move_aside(run_dir / cell.slug) if args.resume else None
        if aside is not None:
            print(f"  what an earlier try left is kept in {aside}", file=log, flush=True)
        try:
            records[cell.id] = _run_cell(cell, run_dir, log, built_by)
        except KeyboardInterrupt:
            again = ["ackbound", "matrix", *argv] + ["--resume"] * (not args.resume)
            if args.run_dir is None:
                again += ["--run-dir", str(run_dir)]
            print(
                f"ackbound matrix: interrupted in {cell.id}, {_count(len(records), 'cell')} "
                f"finished; run the rest with: {shlex.join(again)}",
                file=log,
            )
            return EXIT_INTERRUPTED
    rows = list(dict.fromkeys((c.target, c.backend) for c in cells))
    earlier = [str(f["started"]) for f in done.values() if isinstance(f.get("started"), str)]
    section = {
        "command": _argv_text(argv),
        "version": ackbound_version(),
        # A resumed matrix started when its first cell did, and took its cells' time in all.
        "started": min([started, *earlier]),
        "duration_s": round(
            time.monotonic() - t0 + sum(f["record"]["duration_s"] or 0 for f in done.values()),
            1,
        ),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "versions": _versions(rows),
        "run_dir": str(run_dir),
        "cells": records,
    }
    if done:
        section["resumed"] = list(done)
    (run_dir / "matrix.json").write_text(
        json.dumps({"schema": MATRIX_SCHEMA, section_name: section}, indent=2) + "\n",
        encoding="utf-8",
    )
    if out is not None:
        data = out.with_suffix(".json")
        doc = load_matrix(data)
        doc[section_name] = section
        data.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        out.write_text(render_markdown(doc), encoding="utf-8")
        print(f"wrote {out} and {data}", file=log)
    for rec in records.values():
        print(f"{rec['target']}/{rec['backend']}/{rec['mode']}: {verdict_text(rec)}")
    print(f"{len(records)} cell(s) in {section['duration_s']:.0f} s")
    failed_to_run = [cid for cid, r in records.items() if r["verdict"] == "error"]
    if expected is not None:
        changes = compare_sections(expected, section)
        if changes:
            print(f"verdicts changed from {args.check} ({section_name}):")
            for line in changes:
                print(f"  {line}")
            return EXIT_VIOLATED
        print(f"verdicts match {args.check} ({section_name}): {len(records)} cell(s)")
    if failed_to_run:
        print(f"could not run: {', '.join(failed_to_run)} (see their ackbound.log)")
        return EXIT_COULD_NOT_RUN
    return EXIT_VALID


# -- the page ------------------------------------------------------------------------------

# Why a property can have no evidence in a cell (the checker's "unknown").
_UNKNOWN_WHY: Final[Mapping[str, str]] = {
    "lag-metric-not-underreported": "the server reports no durability lag at all. Stock Valkey "
    "and Redis have no such metric (min-replicas-max-lag reads the age of the last replica "
    "acknowledgement, which is not the lag of the semantics), so there is nothing to hold "
    "against the truth. It stays unknown however long the run: no evidence is never a pass",
    "rejected-writes-not-applied": "no write was cleanly rejected in the cell's examples, so "
    "there was no rejected write to look for in the final reads",
    "acked-writes-survive": "no acknowledged write met a failure the final reads could judge",
    "loss-window-bounded": "no failover lost acknowledged writes that the final reads could judge",
    "writes-resume-after-heal": "no heal was followed by writes the checker could time",
    "no-loss-without-failure": "every acknowledged write came before a failure, so none was judged",
    "no-holes": "the final reads judged no acknowledged write",
    "no-phantom-writes": "the final reads read nothing",
}

# What a violation means, for the cases the matrix has shown: (target, mode, property).
_STOCK_ASYNC: Final = (
    "Stock {server} has no async durability mode; the target builds one from "
    "`min-replicas-to-write 1` with `min-replicas-max-lag L`. That check measures how long ago "
    "a replica last *acknowledged* (replicas send `REPLCONF ACK` once a second), in whole "
    "seconds — not how old the oldest unreplicated write is. Two consequences follow. Over a "
    "slow link the acknowledgements keep arriving on time while the replication stream falls "
    "ever further behind, so the primary keeps accepting writes and a failover then loses "
    "more than L + ε of them (the bundled server's seeded bug `async-lag-from-last-ack`, as "
    "shipped). And once no replica can acknowledge at all, writes go on being accepted until "
    "the rounded acknowledgement age passes L, which can be later than L + ε after the first "
    "write no replica received. The checker's explanation below says which one this "
    "counterexample shows."
)
# What a violation means, for the cases the matrix has shown: (target, mode, property).
_FINDING_NOTES: Final[Mapping[tuple[str, str, str], str]] = {
    ("valkey", "async", "loss-window-bounded"): _STOCK_ASYNC.format(server="Valkey"),
    ("redis", "async", "loss-window-bounded"): _STOCK_ASYNC.format(server="Redis"),
}
_HOW_TO_READ: Final = (
    "A verdict is **valid** (every property held, each with evidence), **violated** (a "
    "property failed; the findings below give the counterexample), **unknown** (some "
    "property had no evidence either way; never a pass) or *could not run*. The figures are "
    "the run's, over all its examples: *loss window* is the largest span of acknowledged "
    "writes one failover lost (async mode promises at most the lag limit L plus the "
    "target's timing tolerance ε: the *limit* column), "
    "*rejected* counts writes refused cleanly (a rejection is never a loss), *acked* the "
    "acknowledged writes and *lost* those missing from the final reads — most of them lost "
    "to a failure the mode allows (none mode promises nothing across a failover; a restart "
    "without persistence empties a node).",
)
_BUNDLED_NOTE: Final = (
    "The bundled server is the reference implementation of the semantics: a violation here is "
    "a bug in the server or in the harness, not a finding about a store."
)


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _window_limit(rec: Mapping[str, Any]) -> float | None:
    """L + ε, the loss window async mode promises; None in other modes."""
    lag, tol = rec.get("lag_limit_s"), rec.get("tolerance_s")
    if rec.get("mode") != "async" or lag is None or tol is None:
        return None
    return float(lag) + float(tol)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _row_name(target: str, backend: str) -> str:
    return f"{target} ({backend})"


def _summary_cell(rec: Mapping[str, Any]) -> str:
    word = verdict_word(rec.get("verdict"))
    if rec.get("verdict") is False:
        return f"**violated**: {', '.join(rec.get('violated') or [])}"
    if rec.get("verdict") == "unknown":
        return f"unknown: {', '.join(rec.get('unknown') or [])}"
    return word


def _grid(cells: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, list[Mapping[str, Any]]]]:
    grid: dict[tuple[str, str], dict[str, list[Mapping[str, Any]]]] = {}
    for rec in cells.values():
        row = grid.setdefault((rec["target"], rec["backend"]), {})
        row.setdefault(rec["mode"], []).append(rec)
    order = {r: i for i, r in enumerate(ROWS)}
    return dict(sorted(grid.items(), key=lambda kv: order.get(kv[0], len(order))))


def _section_header(section: Mapping[str, Any]) -> list[str]:
    versions = section.get("versions") or {}
    vtext = ", ".join(f"{k} {v}" for k, v in versions.items())
    minutes = (section.get("duration_s") or 0) / 60
    resumed = section.get("resumed") or []
    kept = f" ({len(resumed)} of them finished before a `--resume`)" if resumed else ""
    return [
        f"Produced by `{section.get('command')}` (ackbound {section.get('version')}), "
        f"started {section.get('started')}, {_count(len(section.get('cells') or {}), 'cell')}"
        f"{kept} in {minutes:.0f} min on {section.get('machine')}; {vtext}.",
    ]


def _cell_table(rows: Mapping[str, list[Mapping[str, Any]]]) -> list[str]:
    lines = [
        "| mode | seed | verdict | failed property | loss window s | limit s | write p50 ms "
        "| write p99 ms | rejected | acked | lost | examples | time s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in MODES_ALL:
        for rec in rows.get(mode, []):
            verdict = verdict_word(rec.get("verdict"))
            if rec.get("verdict") is False:
                verdict = "**violated**"
            lines.append(
                f"| {mode} | {rec['seed']} | {verdict} | {', '.join(rec.get('violated') or []) or '–'} "
                f"| {_fmt(rec.get('loss_window_s'), 3)} | {_fmt(_window_limit(rec), 3)} "
                f"| {_fmt(rec.get('write_p50_ms'))} "
                f"| {_fmt(rec.get('write_p99_ms'))} | {_fmt(rec.get('rejected'))} "
                f"| {_fmt(rec.get('acknowledged'))} | {_fmt(rec.get('lost'))} "
                f"| {_fmt(rec.get('examples'))} | {_fmt(rec.get('duration_s'), 0)} |"
            )
    lines.append("")
    for mode in MODES_ALL:
        for rec in rows.get(mode, []):
            lines.append(f"- {mode}, seed {rec['seed']}: `{rec['command']}`")
            if rec.get("verdict") == "error":
                lines.append(f"  — could not run: {rec.get('error')}")
    return lines


def _findings(cells: Mapping[str, Any]) -> list[str]:
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for rec in cells.values():
        for prop in rec.get("violated") or []:
            groups.setdefault((rec["target"], rec["mode"], prop), []).append(rec)
    if not groups:
        return ["No cell violated a property: every promise the servers made held, or had no "
                "evidence (below)."]  # fmt: skip
    lines: list[str] = []
    for (target, mode, prop), recs in groups.items():
        where = "; ".join(f"{r['backend']}, seed {r['seed']}" for r in recs)
        lines += [f"### {target}, {mode} mode: `{prop}` violated ({where})", ""]
        note = _BUNDLED_NOTE if target == "bundled" else _FINDING_NOTES.get((target, mode, prop))
        if note:
            lines += [note, ""]
        shown = next((r for r in recs if (r.get("failure") or {}).get("program")), None)
        if shown is None:
            continue
        failure = shown["failure"]
        how = "shrunk" if failure.get("shrunk") else "not shrunk"
        if failure.get("flaky"):
            how += ", flaky: it passed when replayed"
        lines += [
            f"What the checker saw ({shown['backend']}, seed {shown['seed']}, example "
            f"{failure.get('example')}, {_count(failure.get('steps') or 0, 'step')}, {how}):",
            "",
            "```",
            str(failure.get("explanation") or "").strip(),
            "```",
            "",
            "The counterexample, as the run printed it (program.txt; paste it into Python or "
            "`ackbound replay` the cell's run directory):",
            "",
            "```python",
            str(failure.get("program") or "").strip(),
            "```",
            "",
            f"Reproduce the cell: `{shown['command']}`",
            "",
        ]
    return lines[:-1] if lines and lines[-1] == "" else lines


def _unknowns(cells: Mapping[str, Any]) -> list[str]:
    groups: dict[str, list[str]] = {}
    for rec in cells.values():
        for prop in rec.get("unknown") or []:
            groups.setdefault(prop, []).append(f"{rec['target']}/{rec['backend']}/{rec['mode']}")
    if not groups:
        return ["Every property of every cell had evidence."]
    lines = [
        '"unknown" means no example of the cell gave evidence either way: the property was '
        "never put to the test. It is never a pass (`ackbound run` exits 2), and the matrix "
        "says why each one is unknown:",
        "",
    ]
    for prop, where in groups.items():
        why = _UNKNOWN_WHY.get(prop, "no example met the situation the property judges")
        lines.append(f"- `{prop}` in {', '.join(where)}: {why}.")
    return lines


def _short_section(short: Mapping[str, Any], full: Mapping[str, Any] | None) -> list[str]:
    lines = [
        "CI runs `ackbound matrix --short --check docs/matrix.json` (tests/matrix/test_matrix.py, "
        "`bash ci/matrix.sh`) and fails when any of these verdicts changes: the verdict and "
        "the properties it rests on, exactly. Each short cell pins its seed and its number of "
        "examples, so Hypothesis draws the same steps every time. That also makes it a run of "
        "its own, not a prefix of the full cell (Hypothesis sizes its first examples by the "
        "number asked for), so the verdicts it is compared with come from a real "
        "`ackbound matrix --short` run (`bash ci/matrix.sh short-update`). A cell is in the "
        "short version only if its verdict cannot hinge on timing within that many examples; "
        "the reason is given for each. " + " ".join(_section_header(short)),
        "",
        "| cell | verdict | examples | time s | same cell in the full matrix |",
        "|---|---|---|---|---|",
    ]
    full_cells: Mapping[str, Any] = (full or {}).get("cells") or {}
    for cid, rec in (short.get("cells") or {}).items():
        match = next(
            (
                f for f in full_cells.values()
                if (f["target"], f["backend"], f["mode"], f["seed"])
                == (rec["target"], rec["backend"], rec["mode"], rec["seed"])
            ),
            None,
        )  # fmt: skip
        lines.append(
            f"| {cid} | {verdict_text(rec)} | {_fmt(rec.get('examples'))} "
            f"| {_fmt(rec.get('duration_s'), 0)} | {verdict_text(match) if match else '–'} |"
        )
    lines += ["", "Why each verdict is stable, and its command:", ""]
    for cid, rec in (short.get("cells") or {}).items():
        why = rec.get("why_stable") or "(no reason recorded)"
        lines.append(f"- {cid}: {why}. `{rec['command']}`")
    return lines


def render_markdown(doc: Mapping[str, Any]) -> str:
    """docs/matrix.md, rendered from a matrix.json document and nothing else."""
    full: Mapping[str, Any] | None = doc.get("full")
    short: Mapping[str, Any] | None = doc.get("short")
    lines = [
        "# The conformance matrix",
        "",
        "<!-- Generated by `ackbound matrix` from docs/matrix.json; do not edit by hand. -->",
        "",
        "Every built-in target, on every backend it runs on here, in every mode, under the "
        "standard fault set ("
        + ", ".join(f"`{f}`" for f in STANDARD_FAULTS)
        + "".join(f"; left out: `{f}`, because {why}" for f, why in LEFT_OUT.items())
        + ") with a fixed seed. Each cell is one `ackbound run` in a directory of its own; "
        "its command, given under each table, reproduces it (build the docker images first "
        "with `ackbound images build`). Servers are not deterministic: the same seed tries "
        "the same steps, but timing can still change what a short search meets.",
        "",
    ]
    if full:
        cells: Mapping[str, Any] = full.get("cells") or {}
        lines += [*_section_header(full), "", *_HOW_TO_READ, ""]
        lines += [
            "## Summary",
            "",
            "| target | " + " | ".join(MODES_ALL) + " |",
            "|---|---|---|---|",
        ]
        grid = _grid(cells)
        for (target, backend), row in grid.items():
            lines.append(
                f"| {_row_name(target, backend)} | "
                + " | ".join(
                    "<br>".join(_summary_cell(r) for r in row.get(m, [])) or "–" for m in MODES_ALL
                )
                + " |"
            )
        lines += ["", "## Findings", "", *_findings(cells)]
        lines += ["", '## What "unknown" means here', "", *_unknowns(cells)]
        lines += ["", "## Cells", ""]
        for (target, backend), row in grid.items():
            lines += [f"### {_row_name(target, backend)}", "", *_cell_table(row), ""]
        if lines[-1] == "":
            lines.pop()
    else:
        lines += ["The full matrix has not been run yet: `ackbound matrix`."]
    if short:
        lines += ["", "## The short version (CI)", "", *_short_section(short, full)]
    return "\n".join(lines) + "\n"
