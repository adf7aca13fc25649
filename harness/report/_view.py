"""What every report shows, computed once from a RunResult (pure; no formatting library).

The terminal table, junit.xml and report.html all show the same rows: one per (mode,
property), with the verdict, the evidence counts and the mode's key figures. They take
them from here so that the three never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness._errors import EXIT_INTERRUPTED
from harness.checker import Verdict
from harness.report._merge import verdict_name
from harness.report._model import ModeResult, RunResult

__all__ = [
    "PropertyRow",
    "all_rows",
    "fmt_count",
    "fmt_ms",
    "fmt_seconds",
    "key_figure_text",
    "key_figures",
    "property_rows",
    "stopped_how",
]


@dataclass(frozen=True, kw_only=True)
class PropertyRow:
    """One (mode, property): its verdict and, when violated, where and why."""

    mode: str
    name: str
    valid: Verdict
    summary: str
    examples: int
    with_evidence: int
    violated: int
    errored: int
    example: str | None  # the example that shows the violation (the shrunk one if any)
    explanation: str  # the checker's paragraph for that example, or why it is unknown
    program: str | None  # the program that replays it, when this mode has a failure
    error: str | None

    @property
    def verdict(self) -> str:
        return verdict_name(self.valid)

    @property
    def evidence(self) -> str:
        """Examples with evidence of all examples: ``"judged 2/3"``, ``"judged 3/3, violated 1"``."""
        text = f"judged {self.with_evidence}/{self.examples}"
        if self.violated:
            text += f", violated {self.violated}"
        if self.errored:
            text += f", check errors {self.errored}"
        return text


def _failure_explanation(m: ModeResult, name: str) -> str | None:
    f = m.failure
    if f is None or f.check is None:
        return None
    prop = f.check.get("properties", {}).get(name)
    if prop is None or prop.get("valid") is not False:
        return None
    text = prop.get("explanation")
    return text if isinstance(text, str) else None


def property_rows(m: ModeResult) -> list[PropertyRow]:
    """The rows of a mode, in the checker's property order.

    A property named by the mode's failure counts as violated even when no checked example
    showed it (the run's oracle caught it during the steps). For a violation the row cites
    the failing (shrunk) example when it shows that property, else the first example that
    violated it.
    """
    rows: list[PropertyRow] = []
    failure = m.failure
    failing = set(failure.violated) if failure is not None else set()
    names = list(m.properties) + [
        n for n in (failure.violated if failure else []) if n not in m.properties
    ]
    for name in names:
        s = m.properties.get(name)
        valid: Verdict = s.valid if s is not None else "unknown"
        if name in failing:
            valid = False
        example: str | None = None
        explanation = ""
        program: str | None = None
        if valid is False:
            shrunk_text = _failure_explanation(m, name)
            if failure is not None and (shrunk_text is not None or name in failing):
                example = failure.example
                explanation = (
                    shrunk_text
                    or failure.error
                    or (s.first_violation.explanation if s and s.first_violation else "")
                )
                program = failure.program
            elif s is not None and s.first_violation is not None:
                example = s.first_violation.example
                explanation = s.first_violation.explanation
        elif s is not None and s.error:
            explanation = f"{name}: unknown — the check failed: {s.error}"
        elif valid == "unknown":
            explanation = f"{name}: unknown — no example gave evidence either way"
        rows.append(
            PropertyRow(
                mode=m.mode,
                name=name,
                valid=valid,
                summary=s.summary if s is not None else "",
                examples=m.examples,
                with_evidence=s.examples_with_evidence if s is not None else 0,
                violated=s.examples_violated if s is not None else 0,
                errored=s.examples_errored if s is not None else 0,
                example=example,
                explanation=explanation,
                program=program,
                error=s.error if s is not None else None,
            )
        )
    return rows


def stopped_how(result: RunResult) -> str | None:
    """``None`` for a complete run; ``"interrupted"`` for one Ctrl-C stopped; ``"stopped
    early"`` for one an error ended (a cluster that kept breaking, say)."""
    if result.complete:
        return None
    error = result.error
    ctrl_c = (
        result.exit_code == EXIT_INTERRUPTED or error is None or error.startswith("interrupted")
    )
    return "interrupted" if ctrl_c else "stopped early"


def all_rows(result: RunResult) -> list[PropertyRow]:
    return [row for m in result.modes.values() for row in property_rows(m)]


def fmt_ms(v: float | int | None, *, unit: bool = True) -> str:
    """Milliseconds with about three significant figures: ``0.42 ms``, ``12.5 ms``, ``870 ms``."""
    if v is None:
        return "–"
    u = " ms" if unit else ""
    if v < 10:
        return f"{v:.2f}{u}"
    if v < 100:
        return f"{v:.1f}{u}"
    return f"{v:.0f}{u}"


def fmt_seconds(v: float | None, *, unit: bool = True) -> str:
    return "–" if v is None else f"{v:.3f}" + (" s" if unit else "")


def fmt_count(v: int | None) -> str:
    return "–" if v is None else str(v)


def key_figures(m: ModeResult) -> dict[str, Any]:
    """The figures a verdict row shows, raw (for files) — see :func:`key_figure_text`."""
    st = m.stats
    lat = st.write_latency.summary()
    return {
        "examples": m.examples,
        "steps": m.steps,
        "attempted": st.attempted,
        "acknowledged": st.acknowledged,
        "lost": st.lost,
        "loss_window_s": st.loss_window_s,
        "max_lag_ms": st.max_lag_ms,
        "rejected": st.rejected,
        "indeterminate": st.indeterminate,
        "write_p50_ms": lat["p50"],
        "write_p99_ms": lat["p99"],
        "write_max_ms": lat["max"],
        "write_count": lat["count"],
    }


def key_figure_text(m: ModeResult, *, units: bool = True) -> dict[str, str]:
    """The same figures as short text, for tables (``units=False``: the header says them)."""
    k = key_figures(m)
    return {
        "acknowledged": fmt_count(k["acknowledged"]),
        "lost": fmt_count(k["lost"]),
        "loss window": fmt_seconds(k["loss_window_s"], unit=units),
        "max lag": fmt_count(k["max_lag_ms"])
        + (" ms" if units and k["max_lag_ms"] is not None else ""),
        "rejected": fmt_count(k["rejected"]),
        "indeterminate": fmt_count(k["indeterminate"]),
        "write p50": fmt_ms(k["write_p50_ms"], unit=units),
        "write p99": fmt_ms(k["write_p99_ms"], unit=units),
    }
