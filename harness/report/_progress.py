"""The live progress display of a conformance run.

On a terminal it is a rich live line with a bar for the time budget; anywhere else (CI
logs, pipes) it prints a plain line when something worth reading changed — the mode, the
phase, a new violation — and otherwise at most every ``interval_s`` seconds::

    progress = RunProgress(budget_s=60)
    progress.start()
    progress.update(mode="sync", examples=3, steps=41, faults={"kill": 2}, violations=0)
    ...
    progress.stop()

``update`` is thread-safe; it may be called from the thread that runs Hypothesis while the
display refreshes from another.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

__all__ = ["RunProgress"]

# The figures shown first, in this order; any other figure follows as "name value".
_ORDER = ("mode", "phase", "examples", "steps", "faults", "violations")
# A change of one of these is printed at once in plain mode.
_SALIENT = ("mode", "phase", "violations")
# Figures the run passes for the display's own use, never shown as such.
_HIDDEN = frozenset({"mode_index"})


def _faults_text(v: Any) -> str:
    if isinstance(v, Mapping):
        total = sum(int(n) for n in v.values())
        if not v:
            return "0"
        top = sorted(v.items(), key=lambda kv: (-int(kv[1]), kv[0]))[:4]
        detail = " ".join(f"{k}×{n}" for k, n in top)
        more = " …" if len(v) > 4 else ""
        return f"{total} ({detail}{more})"
    return str(v)


class RunProgress:
    """Progress of a run: ``start()``, ``update(**figures)``, ``stop()`` (or use ``with``).

    ``budget_s`` draws the time budget as a bar; ``modes`` (the modes the run will go
    through) shows the current one as "sync (2/3)"; ``enabled=False`` shows nothing;
    ``plain`` forces (or forbids) plain lines, which are the default when the console is
    not a terminal. ``stop()`` may be called more than once.
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        budget_s: float | None = None,
        modes: Sequence[str] | None = None,
        enabled: bool = True,
        plain: bool | None = None,
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console or Console(file=sys.stderr, highlight=False)
        self.budget_s = budget_s
        self.modes = list(modes) if modes is not None else None
        self.enabled = enabled
        self.plain = (
            plain
            if plain is not None
            else (not self.console.is_terminal or self.console.is_dumb_terminal)
        )
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._figures: dict[str, Any] = {}
        self._started: float | None = None
        self._last_print: float | None = None
        self._last_salient: tuple[Any, ...] | None = None
        self._live: Live | None = None

    # -- text --------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return 0.0 if self._started is None else max(0.0, self._clock() - self._started)

    def line(self) -> str:
        """The current figures as one plain line, e.g. ``[12.3 s] mode sync · examples 4 ·…``."""
        with self._lock:
            figures = dict(self._figures)
        parts = []
        for name in (*_ORDER, *sorted(set(figures) - set(_ORDER) - _HIDDEN)):
            if name not in figures or figures[name] is None:
                continue
            v = figures[name]
            text = _faults_text(v) if name == "faults" else str(v)
            if name == "mode" and self.modes and v in self.modes:
                text += f" ({self.modes.index(v) + 1}/{len(self.modes)})"
            parts.append(f"{name} {text}")
        budget = f" / {self.budget_s:g} s" if self.budget_s else ""
        return f"[{self.elapsed():.1f} s{budget}] " + " · ".join(parts)

    def __rich__(self) -> RenderableType:
        grid = Table.grid(padding=(0, 1))
        grid.add_column()
        grid.add_column()
        label = Text("ackbound run", style="bold")
        if self.budget_s:
            bar = ProgressBar(
                total=self.budget_s, completed=min(self.elapsed(), self.budget_s), width=30
            )
            grid.add_row(label, bar)
        else:
            grid.add_row(label, Text(""))
        violations = self._figures.get("violations")
        style = "bold red" if isinstance(violations, int) and violations > 0 else ""
        return Group(grid, Text(self.line(), style=style))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Begin the display (the elapsed time counts from here)."""
        self._started = self._clock()
        if not self.enabled:
            return
        if self.plain:
            self.console.print(
                "ackbound run: started", markup=False, highlight=False, soft_wrap=True
            )
            self._last_print = self._started
            return
        self._live = Live(self, console=self.console, refresh_per_second=4, transient=True)
        self._live.start()

    def update(self, **figures: Any) -> None:
        """Set some figures (``mode``, ``phase``, ``examples``, ``steps``, ``faults`` — an int
        or a ``{fault: count}`` mapping — ``violations``, or any other name)."""
        with self._lock:
            self._figures.update(figures)
            salient = tuple(self._figures.get(k) for k in _SALIENT)
        if self._started is None or not self.enabled:
            return
        if self.plain:
            now = self._clock()
            due = self._last_print is None or now - self._last_print >= self.interval_s
            if salient != self._last_salient or due:
                self._last_salient = salient
                self._last_print = now
                self.console.print(self.line(), markup=False, highlight=False, soft_wrap=True)
        elif self._live is not None:
            self._live.refresh()

    def stop(self) -> None:
        """End the display, leaving one final line with the last figures."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._started is not None and self.enabled:
            self.console.print(self.line(), markup=False, highlight=False, soft_wrap=True)
        self._started = None

    def __enter__(self) -> RunProgress:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
