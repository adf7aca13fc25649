"""Verdict tables for the terminal (rich), rendered from result data."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["print_check_result", "verdict_text"]


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
