"""``ackbound selftest``: the harness proves it catches every seeded bug of the bundled server.

For each bug the bundled server lists (``--list-bugs``), a conformance run in the bug's mode
and topology explores until an example fails, shrinks it, and reports which property caught
the bug, how long detection took and how short the shrunk example is. A bug that is not
caught within its budget — or is caught only by a property other than the one the bug
breaks — fails the selftest.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.run._config import MODES_ALL, RunConfig
from harness.run._runner import bundled_bugs, run_conformance

__all__ = ["BugOutcome", "SelftestResult", "bug_setup", "run_selftest"]


@dataclass
class BugOutcome:
    bug: str
    breaks: str  # the property the bug is documented to break
    mode: str
    caught_by: list[str] = field(default_factory=list)
    detect_s: float | None = None  # seconds from the start of its run to the first failure
    shrunk_steps: int | None = None
    flaky: bool = False
    run_dir: str = ""
    error: str | None = None

    @property
    def caught(self) -> bool:
        return self.breaks in self.caught_by

    def to_json(self) -> dict[str, Any]:
        return {
            "bug": self.bug,
            "breaks": self.breaks,
            "mode": self.mode,
            "caught": self.caught,
            "caught_by": self.caught_by,
            "detect_s": self.detect_s,
            "shrunk_steps": self.shrunk_steps,
            "flaky": self.flaky,
            "run_dir": self.run_dir,
            "error": self.error,
        }


@dataclass
class SelftestResult:
    outcomes: list[BugOutcome]

    @property
    def all_caught(self) -> bool:
        return all(o.caught for o in self.outcomes)

    def figures(self) -> dict[str, Any]:
        times = [o.detect_s for o in self.outcomes if o.detect_s is not None]
        steps = [o.shrunk_steps for o in self.outcomes if o.shrunk_steps is not None]
        return {
            "bugs": len(self.outcomes),
            "caught": sum(1 for o in self.outcomes if o.caught),
            "detect_median_s": round(statistics.median(times), 1) if times else None,
            "detect_max_s": round(max(times), 1) if times else None,
            "shrunk_median_steps": statistics.median(steps) if steps else None,
            "shrunk_max_steps": max(steps) if steps else None,
        }


class _DetectionClock:
    """A progress sink that notes when the first violation was recorded."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.detected: list[float] = []

    def update(self, **figures: Any) -> None:
        if figures.get("violations") and not self.detected:
            self.detected.append(time.monotonic() - self.start)


def bug_setup(bug: dict[str, Any]) -> tuple[str, int | None, int | None]:
    """How a seeded bug (an entry of :func:`bundled_bugs`) is run: its mode (async for a
    bug of any mode) and its topology, nodes and AZs (None: the default)."""
    hinted = bug.get("mode")
    mode = hinted if isinstance(hinted, str) and hinted in MODES_ALL else "async"
    topo = bug.get("topology") or {}
    return mode, topo.get("nodes"), topo.get("azs")


def run_selftest(
    *,
    root: Path,
    detect_budget_s: float = 60.0,
    shrink_budget_s: float = 45.0,
    bugs: list[str] | None = None,
    seed: int = 0,
    on_outcome: Any = None,
) -> SelftestResult:
    """Run every seeded bug (or those named) and report what caught each."""
    from harness.targets import load_target

    listing = bundled_bugs()
    chosen = [b for b in listing if bugs is None or b["name"] in bugs]
    target = load_target("bundled")
    outcomes: list[BugOutcome] = []
    for b in chosen:
        mode, nodes, azs = bug_setup(b)
        outcome = BugOutcome(bug=b["name"], breaks=b["breaks"], mode=mode)
        run_dir = root / b["name"]
        outcome.run_dir = str(run_dir)
        config = RunConfig(
            target="bundled",
            modes=(mode,),
            budget_s=detect_budget_s,
            seed=seed,
            bug=b["name"],
            nodes=nodes,
            azs=azs,
            shrink_budget_s=shrink_budget_s,
            command=("selftest", "--bug", b["name"]),
        )
        clock = _DetectionClock()
        detected = clock.detected
        try:
            result = run_conformance(config, run_dir=run_dir, target=target, progress=clock)
            m = result.modes.get(mode)
            if m is not None:
                # Caught by every property some example violated; the shrunk example shows
                # one of them (the shrinker keeps whichever failure is smallest).
                outcome.caught_by = sorted(
                    name for name, p in m.properties.items() if p.valid is False
                )
                if m.failure is not None:
                    outcome.shrunk_steps = len(m.failure.steps)
                    outcome.flaky = m.failure.flaky
            outcome.detect_s = round(detected[0], 2) if detected else None
            if result.error:
                outcome.error = result.error
        except Exception as exc:  # one broken bug run must not hide the others
            outcome.error = f"{type(exc).__name__}: {exc}"
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return SelftestResult(outcomes=outcomes)
