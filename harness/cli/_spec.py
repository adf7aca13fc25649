"""``ackbound spec ...``: the TLA+ spec of the durability semantics.

Actions:

- ``check``: model-check configurations of specs/ with TLC and compare each result (pass or
  the violated invariant, and the distinct-state count) with specs/manifest.json.
- ``validate``: trace validation: check with TLC that a recorded run (a history) is a
  behaviour of the spec, or name the first event no behaviour explains.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from harness._errors import EXIT_COULD_NOT_RUN, EXIT_VALID, EXIT_VIOLATED
from harness.cli._check import _positive_int, whole_count

if TYPE_CHECKING:
    from collections.abc import Callable

    from harness.spec import Tlc
    from harness.spec._validate import TraceModel, Validation


_workers = whole_count("worker")
_jobs = whole_count("job")


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < v <= 86_400:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of seconds in (0, 86400]")
    return v


# Open writes at one point up to which a timeout is blamed on the trace's length.
_FEW_OPEN = 4
# Pairs of writes overlapping before a failover or a wipe up to which a timeout is blamed
# on the trace's length (with more, TLC's states run into the millions: with a wipe to
# come, 13 pairs took 388,014 states, 35 s, and each pair more about 1.7 times as many).
_FEW_PAIRS = 16

_SPECS_HELP = (
    "the specs directory (default: the one installed with ackbound; in a checkout, specs/)"
)


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="spec_action", metavar="ACTION", parser_class=type(parser))
    help_text = "model-check configurations with TLC and compare with specs/manifest.json"
    check = actions.add_parser("check", help=help_text, description=help_text)
    which = check.add_mutually_exclusive_group()
    which.add_argument(
        "--config",
        action="append",
        metavar="NAME",
        help="check this configuration (repeatable; any tier, including large)",
    )
    which.add_argument(
        "--all",
        action="store_true",
        help="check every small and buggy configuration (the default; what CI runs)",
    )
    which.add_argument(
        "--tier",
        choices=("small", "large", "buggy"),
        action="append",
        help="check every configuration of this tier (repeatable)",
    )
    check.add_argument(
        "--workers",
        type=_workers,
        default=2,
        metavar="N",
        help="TLC worker threads for passing configs (default 2; buggy configs use 1)",
    )
    check.add_argument(
        "--traces",
        action="store_true",
        help="print the counterexample of every refuted configuration, not only unexpected ones",
    )
    check.add_argument(
        "--specs",
        metavar="DIR",
        help=_SPECS_HELP,
    )

    help_text = "check with TLC that a recorded run is a behaviour of the spec (trace validation)"
    validate = actions.add_parser(
        "validate",
        help=help_text,
        description=help_text
        + ". Exit 0: validated; 1: the run left the spec (the report names the event); "
        "3: could not validate (no TLC, or a history outside the spec's assumptions).",
    )
    validate.add_argument(
        "run_dir",
        nargs="?",
        metavar="RUN_DIR",
        help="a run directory (validates its history.ndjson: the failing or last example)",
    )
    pick = validate.add_mutually_exclusive_group()
    pick.add_argument("--example", metavar="ID", help="validate this example of the run")
    pick.add_argument(
        "--history",
        metavar="FILE",
        help="validate this history file (history.ndjson, gzipped or not, or a .txt history "
        "in the text language of harness.history.parse_text)",
    )
    validate.add_argument(
        "--mode",
        choices=("none", "sync", "async"),
        help="the mode's history in RUN_DIR (its failing or last example)",
    )
    validate.add_argument(
        "--all",
        action="store_true",
        help="validate every example of the run (one line each)",
    )
    validate.add_argument(
        "--jobs",
        type=_jobs,
        metavar="N",
        help="with --all, validate N examples at a time, one TLC each (default 1; more "
        "than the machine's cores only makes each TLC slower)",
    )
    validate.add_argument(
        "--max-events",
        type=_positive_int,
        metavar="N",
        help="validate only the first N observed events (a prefix of the run)",
    )
    validate.add_argument(
        "--timeout",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="give up (exit 3) when TLC takes longer (default 600)",
    )
    validate.add_argument(
        "--specs",
        metavar="DIR",
        help=_SPECS_HELP,
    )


def run(args: argparse.Namespace) -> int:
    if args.spec_action == "check":
        return _check(args)
    if args.spec_action == "validate":
        return _validate(args)
    print(
        "ackbound spec: error: name an action: check or validate (see 'ackbound spec --help')",
        file=sys.stderr,
    )
    return EXIT_COULD_NOT_RUN


def _check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from harness.spec import (
        check_config,
        find_tlc,
        load_manifest,
        render_trace,
    )

    manifest = load_manifest(Path(args.specs) if args.specs else None)
    if args.config:
        entries = tuple(manifest.get(name) for name in args.config)
    elif args.tier:
        entries = manifest.tier(*args.tier)
    else:
        entries = manifest.tier("small", "buggy")
    tlc = find_tlc()
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=140)
    checks = []
    for entry in entries:
        with console.status(f"TLC: {entry.name} ..."):
            checks.append(check_config(tlc, manifest, entry, workers=args.workers))

    table = Table(title=f"TLC on {manifest.specs_dir} ({tlc.source})")
    numeric = ("states", "states/s", "seconds")
    for col in ("config", "tier", "expected", "got", *numeric, ""):
        table.add_column(
            col,
            justify="right" if col in numeric else "left",
            min_width=25 if col in ("expected", "got") else None,
        )
    for c in checks:
        r = c.result
        states = f"{r.distinct_states:,}" if r.distinct_states is not None else "-"
        table.add_row(
            c.entry.name,
            c.entry.tier,
            c.entry.expect,
            r.outcome,
            states,
            f"{r.states_per_second:,.0f}" if r.states_per_second is not None else "-",
            f"{r.seconds:.1f}",
            "[green]ok[/green]" if c.ok else "[red]MISMATCH[/red]",
        )
    console.print(table)
    for c in checks:
        for problem in c.problems:
            console.print(f"[red]{c.entry.name}[/red]: {problem}")
        r = c.result
        unexpected = r.outcome != c.entry.expect
        if r.trace and (unexpected or args.traces or bool(args.config)):
            console.print(
                f"\n[bold]{c.entry.name}[/bold]: counterexample to {r.outcome} "
                f"({len(r.trace)} states)"
            )
            for line in render_trace(r.trace, c.entry):
                console.print(line, markup=False, soft_wrap=True)
        if r.outcome == "error" and r.error:
            console.print(f"{c.entry.name}: TLC said: {r.error}", markup=False)
    bad = sum(not c.ok for c in checks)
    if bad:
        console.print(f"{bad} of {len(checks)} configuration(s) did not give their pinned result")
        return EXIT_VIOLATED
    console.print(f"all {len(checks)} configuration(s) gave their pinned result")
    return EXIT_VALID


def _history_path(args: argparse.Namespace) -> Path:
    """The history file ``validate`` reads (see its --help)."""
    from harness._errors import AckboundError

    if args.history:
        if args.run_dir or args.mode:
            given = "RUN_DIR" if args.run_dir else "--mode"
            raise AckboundError(
                f"--history names the history to validate, and {given} would pick another "
                f"(its header gives its mode); give {given} or --history, not both"
            )
        path = Path(args.history)
        if not path.is_file():
            raise AckboundError(f"{path}: no such history file; pass a history.ndjson")
        return path
    if not args.run_dir:
        raise AckboundError(
            "spec validate needs a run directory (RUN_DIR) or --history FILE; "
            "e.g. 'ackbound spec validate runs/latest'"
        )
    run_dir = Path(args.run_dir)
    if run_dir.is_file():
        raise AckboundError(
            f"{run_dir}: is a file, not a run directory; to validate one history, "
            f"pass --history {run_dir}"
        )
    if not run_dir.is_dir():
        raise AckboundError(f"{run_dir}: no such run directory; pass the directory of a run")
    if args.example:
        modes: list[str] = [args.mode] if args.mode else ["none", "sync", "async"]
        for mode in modes:
            found_path: Path = run_dir / mode / "examples" / args.example / "history.ndjson"
            if found_path.is_file():
                return found_path
        found = sorted(p.parent.name for p in run_dir.glob("*/examples/*/history.ndjson"))
        shown = ", ".join(found[:3]) + (f", ... ({len(found)} in all)" if len(found) > 3 else "")
        raise AckboundError(
            f"{run_dir}: no example {args.example!r}; its examples are {shown or 'none'} "
            f"(under {run_dir}/<mode>/examples/)"
        )
    path = run_dir / args.mode / "history.ndjson" if args.mode else run_dir / "history.ndjson"
    if not path.is_file():
        raise AckboundError(
            f"{path}: no such file; is {run_dir} a run directory? (name a history with --history)"
        )
    return path


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _validate(args: argparse.Namespace) -> int:
    from harness.spec import find_tlc

    if args.all:
        return _validate_all(args)
    if args.jobs is not None:
        from harness._errors import AckboundError

        raise AckboundError(
            "--jobs validates several examples at a time, so it goes with --all; "
            "drop it, or add --all"
        )
    path = _history_path(args)
    tlc = find_tlc()
    v = _validate_one(path, tlc, args)
    if v.outcome == "error":
        print(f"ackbound: error: {path}: could not validate: {_error_text(v)}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    _print_verdict(v, path)
    return EXIT_VALID if v.outcome == "validated" else EXIT_VIOLATED


def _validate_one(path: Path, tlc: Tlc, args: argparse.Namespace, *, label: str = "") -> Validation:
    """Validate the history at ``path``, saying first (on stderr, after ``label``) when its
    trace is one TLC may take long over."""
    from harness.cli._check import _load
    from harness.spec._validate import build_trace, validate_trace

    trace = build_trace(_load(str(path)), source=str(path), max_events=args.max_events)
    busy = _busy(trace)
    if busy is not None:
        print(
            f"{label}note: {busy[0]}; TLC may take long (it stops after --timeout {args.timeout:g} s)"
            + (f"; --max-events {busy[1]} validates the events before it" if busy[1] else ""),
            file=sys.stderr,
            flush=True,
        )
    specs = Path(args.specs) if args.specs else None
    return validate_trace(trace, tlc, timeout=args.timeout, specs_dir=specs)


def _error_text(v: Validation) -> str:
    lines = v.error.splitlines() or ["TLC failed"]
    first = lines[0]
    where = next((ln for ln in lines[1:] if " of module " in ln), None)
    if where is not None:  # where SANY found the error (a spec of --specs, say)
        first += f" (at {where})"
    if "did not finish" in v.error:
        first += "; " + _timeout_hint(v.trace, v.matched)
    return first


def _busy(trace: TraceModel) -> tuple[str, int] | None:
    """When many writes are open at once, or many pairs of writes have overlapped before a
    failover or a wipe (what makes TLC's search long): saying so, and the events before the
    first point where they are (0: none), whichever comes first; ``None`` otherwise."""
    from harness.spec._validate import write_load

    n = len(trace.events)
    sizes, pairs = write_load(trace)
    reasons: list[tuple[list[int], int, Callable[[int], str]]] = [
        (
            sizes,
            _FEW_OPEN,
            lambda event: (
                f"up to {max(sizes)} writes may be applied in any order, more than "
                f"{_FEW_OPEN} from event {event} of {n} on (an indeterminate write stays open "
                "until a read shows it)"
            ),
        ),
        (
            pairs,
            _FEW_PAIRS,
            lambda event: (
                f"{pairs[-1]} pairs of writes overlap before a failover or a wipe, more than "
                f"{_FEW_PAIRS} by event {event} of {n} (TLC keeps the order it tried for each "
                "pair until then, so every pair multiplies its states)"
            ),
        ),
    ]
    found: list[tuple[int, str]] = []
    for counts, limit, say in reasons:
        first = next((i for i, c in enumerate(counts) if c > limit), None)
        if first is not None:
            found.append((first, say(first + 1)))
    if not found:
        return None
    first, text = min(found)
    return text, first


def _timeout_hint(trace: TraceModel, matched: int = 0) -> str:
    """What to do when TLC ran out of time, from what makes its search large and from how
    many of the trace's first events it had ``matched`` by then."""
    n = len(trace.events)
    busy = _busy(trace)
    reached = (
        f"TLC had matched the first {matched} of {n} events when it stopped, "
        f"which --max-events {matched} validates"
        if matched
        else ""
    )
    if busy is None:
        return reached or f"validate a prefix with --max-events N (the trace has {n} events)"
    if busy[1]:
        hint = (
            f"{busy[0]}; validate the events before it with --max-events {busy[1]}, "
            "or allow more --timeout"
        )
    else:
        hint = (
            f"{busy[0]}; allow more --timeout, or validate an example with fewer writes in flight"
        )
    return f"{hint}; {reached}" if reached else hint


def _print_verdict(v: Validation, path: Path) -> None:
    from harness.spec._validate import describe_state, summary_line

    print(summary_line(v))
    if v.outcome == "left" and v.state is not None:
        for line in describe_state(v.trace, v.state):
            print(f"  {line}")
    t = v.trace
    states = v.tlc.distinct_states if v.tlc is not None and v.tlc.distinct_states else 0
    print(f"  history: {path} (mode {t.mode})")
    print(
        f"  trace: {_plural(len(t.writes), 'write')}, "
        f"{_plural(len(t.checks), 'read or lag check')}"
        f", {_plural(len(t.steps), 'fault step')}; TLC: {states:,} distinct states in "
        f"{v.seconds:.1f} s"
    )
    for note in t.notes:
        print(f"  not modelled: {note}")


def _validate_all(args: argparse.Namespace) -> int:
    """Every example of the run, one line each, then a count; exit 1 if any left the spec,
    0 if at least one validated, 3 if none could be judged."""
    from harness._errors import AckboundError
    from harness.spec import find_tlc
    from harness.spec._tlc import stop_running

    if args.history or args.example or not args.run_dir:
        raise AckboundError(
            "spec validate --all takes a run directory and no --history or --example; "
            "e.g. 'ackbound spec validate runs/latest --all'"
        )
    run_dir = Path(args.run_dir)
    modes = [args.mode] if args.mode else ["none", "sync", "async"]
    paths = [p for m in modes for p in sorted(run_dir.glob(f"{m}/examples/*/history.ndjson"))]
    if not paths:
        raise AckboundError(
            f"{run_dir}: no examples (looked for <mode>/examples/<id>/history.ndjson); "
            "pass the directory of a run"
        )
    tlc = find_tlc()
    counts = {"validated": 0, "left": 0, "error": 0}

    def one(path: Path) -> Validation | AckboundError:
        try:
            return _validate_one(path, tlc, args, label=f"{_example_name(path)}: ")
        except AckboundError as exc:
            return exc

    # Each validation is one TLC process: threads only wait for them. The lines come out
    # in the examples' order, each as soon as the ones before it are done.
    with ThreadPoolExecutor(max_workers=args.jobs or 1) as pool:
        results = [pool.submit(one, path) for path in paths]
        try:
            for path, result in zip(paths, results, strict=True):
                _print_one(path, result.result(), counts)
        except BaseException:  # interrupted: no more TLCs, and none left running
            pool.shutdown(wait=False, cancel_futures=True)
            stop_running()
            raise
    print(
        f"{counts['validated']} of {len(paths)} example(s) validated, "
        f"{counts['left']} left the spec, {counts['error']} could not be judged"
    )
    if counts["left"]:
        return EXIT_VIOLATED
    return EXIT_VALID if counts["validated"] else EXIT_COULD_NOT_RUN


def _example_name(path: Path) -> str:
    """``<mode>/<example>`` of a run's ``<mode>/examples/<example>/history.ndjson``."""
    return f"{path.parent.parent.parent.name}/{path.parent.name}"


def _print_one(path: Path, v: Validation | Exception, counts: dict[str, int]) -> None:
    """The line of ``--all`` for the example at ``path``, counted in ``counts``."""
    from harness.spec._validate import summary_line

    name = _example_name(path)
    if isinstance(v, Exception):
        counts["error"] += 1
        print(f"{name}: not judged: {v}", flush=True)
        return
    counts[v.outcome] += 1
    if v.outcome == "error":
        print(f"{name}: not judged: {_error_text(v)}", flush=True)
    else:
        line = summary_line(v).removesuffix(":").removesuffix("; the state before was")
        print(f"{name}: {line}", flush=True)
