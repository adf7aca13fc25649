"""Verdict tables for the terminal (rich), rendered from result data."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.report._model import RunResult
from harness.report._view import key_figure_text, property_rows, stopped_how

__all__ = [
    "print_check_result",
    "print_run_result",
    "run_verdict_table",
    "stdout_console",
    "verdict_text",
]


def stdout_console() -> Console:
    """A console on stdout: a terminal's width, or 120 columns in a log or a pipe (rich's
    80 cut the tables' names)."""
    return Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 120)


def verdict_text(valid: object) -> str:
    if valid is True:
        return "[green]valid[/]"
    if valid is False:
        return "[bold red]violated[/]"
    return "[yellow]unknown[/]"


def _fmt(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def print_check_result(
    result: dict[str, Any], *, quiet: bool = False, source: str = "", console: Console | None = None
) -> None:
    """Print the verdict of one checked history: a table per property, then the witnesses."""
    con = console or Console(file=sys.stdout, highlight=False, soft_wrap=True)
    st = result["stats"]
    if not quiet:
        t = Table(title=f"ackbound check {source} — mode {result['mode']}", title_justify="left")
        t.add_column("property")
        t.add_column("verdict")
        t.add_column("evidence")
        for name, p in result["properties"].items():
            ev = ", ".join(f"{k.replace('_', ' ')}={_fmt(v)}" for k, v in p["evidence"].items())
            t.add_row(name, verdict_text(p["valid"]), ev)
        con.print(t)
        lat = st["write_latency_ms"]
        con.print(
            f"writes: {st['attempted']} attempted, {st['acknowledged']} acknowledged, "
            f"{st['rejected']} rejected, {st['indeterminate']} indeterminate, {st['lost']} lost "
            f"(of {st['acknowledged_judged']} judged); loss window {st['loss_window_s']:g} s; "
            f"max lag {_fmt(st['max_lag_ms'])} ms; write latency p50 {_fmt(lat['p50'])} ms, "
            f"p99 {_fmt(lat['p99'])} ms"
        )
        for p in result["properties"].values():
            if p["valid"] is not True:
                con.print(p["explanation"], markup=False)
    con.print(f"verdict: {verdict_text(result['valid'])}")


# -- the conformance run's verdict table -----------------------------------------------------

# (column header, key of key_figure_text)
_RUN_FIGURES = (
    ("acked", "acknowledged"),
    ("lost", "lost"),
    ("loss\nwindow s", "loss window"),
    ("max lag\nms", "max lag"),
    ("rejected", "rejected"),
    ("write\np50 ms", "write p50"),
    ("write\np99 ms", "write p99"),
)


def run_verdict_table(result: RunResult) -> Table:
    """One row per (mode, property): verdict, examples judged, and the mode's key figures.

    A mode's figures are shown on its first row; rows of one mode form one section.
    ``judged`` is "examples with evidence / examples".
    """
    title = f"ackbound run — target {result.target.name}"
    if result.target.bug:
        title += f" (bug {result.target.bug})"
    if result.seed is not None:
        title += f", seed {result.seed}"
    t = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    t.add_column("mode", no_wrap=True)
    t.add_column("property", no_wrap=True)
    t.add_column("verdict", no_wrap=True)
    t.add_column("judged", justify="right", no_wrap=True)
    for header, _key in _RUN_FIGURES:
        t.add_column(header, justify="right", no_wrap=True)
    for m in result.modes.values():
        rows = property_rows(m)
        figures = key_figure_text(m, units=False)
        if not rows:
            t.add_row(
                m.mode,
                "–",
                verdict_text("unknown"),
                f"0/{m.examples}",
                *(figures[key] for _h, key in _RUN_FIGURES),
                end_section=True,
            )
            continue
        for i, row in enumerate(rows):
            first = i == 0
            t.add_row(
                m.mode if first else "",
                row.name,
                verdict_text(row.valid),
                f"{row.with_evidence}/{row.examples}",
                *((figures[key] if first else "") for _h, key in _RUN_FIGURES),
                end_section=i == len(rows) - 1,
            )
    return t


def print_run_result(
    result: RunResult,
    *,
    console: Console | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    files: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> None:
    """The end of a run on the terminal: the verdict table, each violation explained with
    its replay program, the unknowns, where the report files are, and the verdict line.

    ``files`` and ``errors`` are what ``write_reports`` returned (``ReportFiles.written``
    and ``.errors``); without ``files``, the report files found in ``run_dir`` are listed.
    """
    con = console or stdout_console()
    con.print(run_verdict_table(result))
    n_examples = sum(m.examples for m in result.modes.values())
    con.print(
        f"{len(result.modes)} mode(s), {n_examples} example(s) in {result.duration_s:g} s",
        markup=False,
    )
    if (stopped := stopped_how(result)) is not None:
        # The error line below says what ended a run that stopped early.
        con.print(f"[yellow]{stopped}:[/] these are the results gathered so far")
    if result.error:
        con.print(f"[red]error:[/] {escape(result.error)}")
    rows = [r for m in result.modes.values() for r in property_rows(m)]
    programs_shown: set[str] = set()
    for row in rows:
        if row.valid is not False:
            continue
        where = f" in {row.violated} of {row.examples} example(s)" if row.violated else ""
        if row.example:
            where += f"; shown: example {row.example}"
        con.print(f"\n[bold red]✗ {row.mode} · {row.name}[/] violated{escape(where)}")
        con.print(row.explanation, markup=False, soft_wrap=True)
        if row.program and row.mode not in programs_shown:
            programs_shown.add(row.mode)
            con.print("replay it (paste into Python, or run the replay command):", markup=False)
            # Never wrapped: the program must stay pasteable.
            con.print(row.program.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
    unknown = [r for r in rows if r.valid is not True and r.valid is not False]
    if unknown:
        con.print("")
        for row in unknown:
            con.print(f"[yellow]? {row.mode} ·[/] {escape(row.explanation)}")
    for mode in result.modes.values():
        # Examples the harness could not run to a verdict prove nothing; say why, once.
        broken = [e for e in mode.example_records if e.error is not None]
        if broken:
            first = broken[0]
            con.print(
                f"\n[yellow]! {mode.mode} ·[/] {len(broken)} of {mode.examples} example(s) "
                f"could not be judged; the first, {escape(first.id)}: {escape(first.error or '')}"
            )
    if files is None and run_dir is not None:
        d = Path(run_dir)
        names = ("report.html", "results.json", "junit.xml", "program.txt", "history.ndjson")
        files = {n: d / n for n in names if (d / n).exists()}
    if files:
        con.print("")
        con.print("reports:", markup=False)
        for name, path in files.items():
            con.print(f"  {name}: {path}", markup=False)
    for name, message in (errors or {}).items():
        con.print(f"[red]could not write {escape(name)}:[/] {escape(message)}")
    con.print(f"verdict: {verdict_text(result.valid)} (exit {result.exit_code})")
