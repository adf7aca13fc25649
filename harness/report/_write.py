"""``write_reports``: everything a run leaves in its directory, in one call.

Order matters and failures are contained: results.json is written first (atomically), so
that whatever goes wrong later — a history that cannot be read, a full disk while writing
report.html — the verdict is never lost. Each later file is attempted even if an earlier
one failed; what failed is returned, never raised, so an interrupted run still reports.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness._errors import AckboundError
from harness.history import History, load_history
from harness.report._html import featured_example, report_html
from harness.report._junit import junit_xml
from harness.report._model import RunResult
from harness.report._plot import HistoryView, history_view
from harness.report._results import dump_results

__all__ = ["ReportFiles", "history_views", "write_reports"]

RESULTS = "results.json"
JUNIT = "junit.xml"
PROGRAM = "program.txt"
HTML = "report.html"


@dataclass
class ReportFiles:
    """What ``write_reports`` wrote (name → path) and what it could not (name → why)."""

    run_dir: Path
    written: dict[str, Path] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _write_text(path: Path, text: str) -> Path:
    """Write ``text`` atomically: a temporary file beside ``path``, renamed over it."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", errors="replace", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AckboundError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"{type(exc).__name__}: {exc}"


def programs_text(result: RunResult) -> str | None:
    """program.txt: the failing program of each mode that has one (None when none failed)."""
    programs = [m.failure.program for m in result.modes.values() if m.failure is not None]
    if not programs:
        return None
    return "\n".join(p if p.endswith("\n") else p + "\n" for p in programs)


def history_views(
    run_dir: Path, result: RunResult, histories: Mapping[str, History] | None = None
) -> dict[str, HistoryView | str | None]:
    """Per mode, the view of the example report.html draws, or why it cannot be drawn.

    ``histories`` maps a history path (as the RunResult gives it) to the history already in
    memory; other histories are read from the run directory.
    """
    views: dict[str, HistoryView | str | None] = {}
    for name, m in result.modes.items():
        _example, path, _why = featured_example(m)
        if path is None:
            views[name] = None
            continue
        try:
            history = (histories or {}).get(path)
            if history is None:
                history = load_history(run_dir / path)
            views[name] = history_view(history, name, m.params)
        except Exception as exc:  # one unreadable history must not cost the page
            views[name] = _reason(exc)
    return views


def write_reports(
    run_dir: str | os.PathLike[str],
    result: RunResult,
    histories: Mapping[str, History] | None = None,
    *,
    json_path: str | os.PathLike[str] | None = None,
    junit_path: str | os.PathLike[str] | None = None,
    html: bool = True,
) -> ReportFiles:
    """Write results.json, program.txt (when an example failed), junit.xml and report.html
    into ``run_dir``; ``json_path`` / ``junit_path`` also write copies elsewhere (the
    ``--json`` and ``--junit`` flags). Returns what was written and what failed."""
    out = ReportFiles(run_dir=Path(run_dir))
    d = out.run_dir
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        out.errors[str(d)] = f"cannot create the run directory: {_reason(exc)}"

    def attempt(name: str, produce: Callable[[], Path | None]) -> None:
        try:
            path = produce()
        except Exception as exc:
            out.errors[name] = _reason(exc)
        else:
            if path is not None:
                out.written[name] = path

    attempt(RESULTS, lambda: dump_results(result, d / RESULTS))
    if json_path is not None:
        attempt(str(json_path), lambda: dump_results(result, Path(json_path)))

    def program() -> Path | None:
        text = programs_text(result)
        return None if text is None else _write_text(d / PROGRAM, text)

    attempt(PROGRAM, program)
    junit_text: list[str] = []

    def junit(path: Path) -> Path:
        if not junit_text:
            junit_text.append(junit_xml(result))
        return _write_text(path, junit_text[0])

    attempt(JUNIT, lambda: junit(d / JUNIT))
    if junit_path is not None:
        attempt(str(junit_path), lambda: junit(Path(junit_path)))
    if html:
        attempt(
            HTML,
            lambda: _write_text(
                d / HTML,
                report_html(result, history_views(d, result, histories), generated=result.finished),
            ),
        )
    return out
