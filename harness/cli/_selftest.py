"""``ackbound selftest``: every seeded bug must be caught by the property it breaks."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from harness.cli._check import _seconds
from harness.cli._paths import check_output_dir, check_output_file, path_arg

# Less time than this to detect a bug detects none: its cluster must start and one example
# run (the README's selftest figures: a median of about 4 s, 11 s at most).
MIN_BUDGET_S = 5.0


def _detect_budget(text: str) -> float:
    v = _seconds(text)
    if v < MIN_BUDGET_S:
        raise argparse.ArgumentTypeError(
            f"{text!r} is too short to detect any bug (its cluster must start and an "
            f"example run); pass at least {MIN_BUDGET_S:g} seconds"
        )
    return v


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--budget",
        type=_detect_budget,
        default=60.0,
        metavar="S",
        help=f"time allowed to detect each bug (default 60, at least {MIN_BUDGET_S:g})",
    )
    p.add_argument(
        "--shrink-budget",
        type=_seconds,
        default=45.0,
        metavar="S",
        help="time allowed to shrink each bug's failing example (default 45)",
    )
    p.add_argument(
        "--bug", action="append", default=None, metavar="NAME", help="only this bug (repeatable)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report-dir", type=path_arg, default=None, metavar="DIR")
    p.add_argument(
        "--json", type=path_arg, default=None, metavar="FILE", help="write the table as JSON"
    )


def run(args: argparse.Namespace) -> int:
    from rich.measure import Measurement
    from rich.table import Table

    from harness._errors import AckboundError
    from harness.report import stdout_console
    from harness.run import bundled_bugs, check_new_run_dir, claim_run_dir
    from harness.run._selftest import BugOutcome, run_selftest

    known = {b["name"] for b in bundled_bugs()}
    for b in args.bug or ():
        if b not in known:
            raise AckboundError(
                f"--bug {b!r} is not a seeded bug; use one of {', '.join(sorted(known))}"
            )
    chosen = args.bug or sorted(known)
    if args.report_dir is not None:  # each bug's run goes to a directory of its own in it
        for b in chosen:
            check_new_run_dir(args.report_dir / b, "--report-dir")
    if args.json is not None:  # before the bugs are run, not after
        check_output_file("--json", args.json)
    if args.report_dir is None:
        root = claim_run_dir(
            Path("ackbound-runs") / time.strftime("selftest-%Y%m%d-%H%M%S", time.gmtime())
        )
    else:
        root = args.report_dir
        check_output_dir("--report-dir", root)
    con = stdout_console()

    def show(o: BugOutcome) -> None:
        mark = "[green]caught[/]" if o.caught else "[bold red]MISSED[/]"
        con.print(
            f"{o.bug:32} {mark} by {', '.join(o.caught_by) or '–'} "
            f"in {o.detect_s if o.detect_s is not None else '–'} s, "
            f"shrunk to {o.shrunk_steps if o.shrunk_steps is not None else '–'} steps"
            + (f" ({o.error})" if o.error else "")
        )

    result = run_selftest(
        root=root,
        detect_budget_s=args.budget,
        shrink_budget_s=args.shrink_budget,
        bugs=args.bug,
        seed=args.seed,
        on_outcome=show,
    )
    t = Table(title="ackbound selftest: every seeded bug must be caught", title_justify="left")
    for col in ("bug", "mode", "breaks", "caught by", "time to detect (s)", "shrunk steps"):
        t.add_column(col)
    for o in result.outcomes:
        t.add_row(
            o.bug,
            o.mode,
            o.breaks,
            ("[green]" if o.caught else "[bold red]")
            + (", ".join(o.caught_by) or "missed")
            + "[/]",
            "–" if o.detect_s is None else f"{o.detect_s:.1f}",
            "–" if o.shrunk_steps is None else str(o.shrunk_steps),
        )
    if not sys.stdout.isatty():  # a log or a pipe: as wide as the names, never cut
        natural = Measurement.get(con, con.options.update_width(1000), t).maximum
        con.width = max(con.width, natural)
    con.print(t)
    fig = result.figures()
    con.print(_figures_line(fig, root), markup=False)
    if args.json:
        args.json.write_text(
            json.dumps({"figures": fig, "bugs": [o.to_json() for o in result.outcomes]}, indent=2)
            + "\n",
            encoding="utf-8",
        )
    return 0 if result.all_caught else 1


def _figures_line(fig: dict[str, Any], root: Path) -> str:
    """The summary under the table; a figure with nothing to measure (no bug detected, none
    shrunk) is a dash, not "None"."""
    detect = (
        "–"
        if fig["detect_median_s"] is None
        else f"median {fig['detect_median_s']} s, max {fig['detect_max_s']} s"
    )
    shrunk = (
        "–"
        if fig["shrunk_median_steps"] is None
        else f"median {fig['shrunk_median_steps']}, max {fig['shrunk_max_steps']}"
    )
    return (
        f"caught {fig['caught']}/{fig['bugs']}; time to detect {detect}; shrunk steps "
        f"{shrunk}; runs in {root}"
    )
