"""Shrinking a failing example by replaying fewer and plainer steps.

Against real servers every attempt replays a whole example — a second or more — so the
general-purpose shrinker of Hypothesis, which tries hundreds of variations, would need
minutes. Durability bugs mostly need a few steps, and the rest are noise, so this shrinker
deletes steps: chunks first (half the program, then quarters, …), then single steps,
keeping every deletion after which the example still fails (delta debugging). Then it
tries each fault episode as a plain wait of the same length, keeping the wait when the
example still fails (the fault was not what broke it), and deletes again after any change,
until a whole round changes nothing. Each attempt is an ordinary example of the run —
recorded with its history — so a failure found while shrinking is reported like any other,
and the smallest failing example (:func:`cost`) wins.

Real servers are not deterministic: a change whose replay passes by chance is not taken
(the result is merely less minimal), and one whose replay fails is genuinely a smaller
failing example.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from harness.run._machine import DurabilityViolation

if TYPE_CHECKING:
    from harness.run._runner import ModeRun

__all__ = ["OutOfTime", "ShrinkEnd", "cost", "reproduces", "shrink_steps", "try_steps"]

ShrinkEnd = Literal["complete", "budget"]
"""How a shrink ended: ``complete`` (no deletion or plainer step left to try fails) or
``budget`` (``--shrink-budget`` ran out first: a smaller example may exist)."""

# Steps that only drive clients or let time pass: every other step is a fault.
_PLAIN = frozenset({"write", "writes", "write_replica", "read", "burst", "wait"})
# Fault episodes, each of which a wait of its ``hold_ms`` may stand for.
_EPISODES = frozenset({"episode", "isolate"})


def cost(steps: list[dict[str, Any]]) -> tuple[int, int]:
    """How large a failing example is: its steps, then its fault steps (fewer is smaller)."""
    return len(steps), sum(1 for s in steps if s["rule"] not in _PLAIN)


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


def reproduces(run: ModeRun, machine: type[Any], steps: list[dict[str, Any]]) -> bool | None:
    """Run ``steps`` once more as an example: whether it failed again (``None``: the run
    could not make it). It runs even when the shrink budget is spent: one example, so that
    the report says whether what it shows fails more than once."""
    run.shrink_deadline = max(run.shrink_deadline, time.monotonic() + 1.0)
    try:
        return try_judged(run, machine, steps)
    except OutOfTime:
        return None


def try_judged(run: ModeRun, machine: type[Any], steps: list[dict[str, Any]]) -> bool | None:
    """Run ``steps`` as one example: True if it failed, False if it was judged and held,
    None if it could not be run or judged (that it passed is not known)."""
    before = len(run.examples)
    if try_steps(run, machine, steps) is not None:
        return True
    made = run.examples[before:]
    if not made or made[-1].result is None or made[-1].error is not None:
        return None
    return False


class _Shrink:
    """The smallest failing steps so far, and the attempts that make them smaller."""

    def __init__(self, run: ModeRun, machine: type[Any], steps: list[dict[str, Any]]) -> None:
        self.run, self.machine, self.best = run, machine, list(steps)

    def attempt(self, candidate: list[dict[str, Any]]) -> bool:
        """Replay ``candidate``; True (and it is the best now) if it failed and is smaller."""
        if time.monotonic() > self.run.shrink_deadline:
            raise OutOfTime
        executed = try_steps(self.run, self.machine, candidate)
        if executed is not None and cost(executed) < cost(self.best):
            self.best = executed
            return True
        return False

    def delete(self) -> None:
        chunk = max(1, len(self.best) // 2)
        while chunk >= 1 and self.best:
            i = 0
            while i < len(self.best):
                if not self.attempt(self.best[:i] + self.best[i + chunk :]):
                    i += chunk
            chunk //= 2

    def plainer(self) -> None:
        for i, step in enumerate(self.best):
            if step["rule"] in _EPISODES and i < len(self.best):
                wait = {"rule": "wait", "args": {"ms": step.get("args", {}).get("hold_ms", 0)}}
                self.attempt([*self.best[:i], wait, *self.best[i + 1 :]])


def shrink_steps(
    run: ModeRun, machine: type[Any], steps: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], ShrinkEnd]:
    """The smallest failing step list found within the run's shrink budget, and whether
    the shrink ran to its end."""
    shrink = _Shrink(run, machine, steps)
    run.stopping = False
    try:
        while True:
            before = cost(shrink.best)
            shrink.delete()
            shrink.plainer()
            if cost(shrink.best) == before:
                return shrink.best, "complete"
    except OutOfTime:
        return shrink.best, "budget"
