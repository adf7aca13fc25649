"""``ackbound spec ...``: the TLA+ spec of the durability semantics.

Actions:

- ``check``: model-check configurations of specs/ with TLC and compare each result (pass or
  the violated invariant, and the distinct-state count) with specs/manifest.json.

Validating a recorded run against the spec (``validate RUN_DIR``, issue 6) will be a second
action registered next to ``check`` in :func:`register`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness._errors import EXIT_COULD_NOT_RUN, EXIT_VALID, EXIT_VIOLATED


def _workers(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of workers") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1 worker")
    return v


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
        "--specs", metavar="DIR", help="the specs directory (default: this checkout's specs/)"
    )
    # `validate RUN_DIR` (trace validation of a recorded run) is registered here once it exists.


def run(args: argparse.Namespace) -> int:
    if args.spec_action == "check":
        return _check(args)
    print(
        "ackbound spec: error: name an action: check (see 'ackbound spec --help')", file=sys.stderr
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
