"""Shrinking a failing example by replaying fewer of its steps.

Against real servers every attempt replays a whole example — a second or more — so the
general-purpose shrinker of Hypothesis, which tries hundreds of variations, would need
minutes. Durability bugs mostly need a few steps, and the rest are noise, so this shrinker
only deletes steps: chunks first (half the program, then quarters, …), then single steps,
keeping every deletion after which the example still fails (delta debugging). Each attempt
is an ordinary example of the run — recorded with its history — so a failure found while
shrinking is reported like any other, and the smallest failing example wins.

Real servers are not deterministic: a deletion whose replay passes by chance is not taken
(the result is merely less minimal), and one whose replay fails is genuinely a smaller
failing example.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from harness.run._machine import DurabilityViolation

if TYPE_CHECKING:
    from harness.run._runner import ModeRun

__all__ = ["OutOfTime", "shrink_steps", "try_steps"]


class OutOfTime(Exception):
    """The run's time (its budget, or its shrink budget) is spent."""


def try_steps(
    run: ModeRun, machine: type[Any], steps: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """Run ``steps`` as one example; the steps it executed if it failed, else None."""
    try:
        state = machine()
    except KeyboardInterrupt:
        if run.stopping:
            raise OutOfTime from None
        raise
    failed = False
    try:
        for step in steps:
            getattr(state, step["rule"])(**step.get("args", {}))
    finally:
        try:
            state.teardown()
        except DurabilityViolation:
            failed = True
    if failed and state.record.valid is False:
        return list(state.record.steps)
    return None


def shrink_steps(
    run: ModeRun, machine: type[Any], steps: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The shortest failing step list found within the run's shrink budget."""
    best = list(steps)
    run.stopping = False
    try:
        chunk = max(1, len(best) // 2)
        while chunk >= 1 and len(best) > 1:
            i = 0
            while i < len(best):
                if time.monotonic() > run.shrink_deadline:
                    raise OutOfTime
                candidate = best[:i] + best[i + chunk :]
                executed = try_steps(run, machine, candidate) if candidate else None
                if executed is not None and len(executed) < len(best):
                    best = executed
                else:
                    i += chunk
            chunk //= 2
    except OutOfTime:
        pass
    return best
