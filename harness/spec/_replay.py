"""Reading TLC's states as states of the Python model, and replaying TLC traces through it.

The spec's variables and the fields of :class:`models._exact.State` correspond one to one
(specs/README.md has the table), so every TLC state is exactly one Python state. A TLC
trace replays through the Python model when its first state is the model's initial state
and every step is one enabled event of the model; :func:`replay` finds those events, which
also names each step with its parameters (TLC prints only the action's name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.spec._tlc import TraceState
from models._exact import (
    Event,
    LagReport,
    NodeState,
    Params,
    State,
    Status,
    WriteRecord,
    enabled,
    init,
)

__all__ = ["Disagreement", "ReplayedStep", "replay", "state_from_tlc"]

VARIABLES = (
    "now",
    "term",
    "primary",
    "up",
    "log",
    "acked",
    "stale",
    "cut",
    "writes",
    "crashes",
    "lagReport",
)


class Disagreement(AssertionError):
    """The spec and the Python model disagree about a state or a step."""


def state_from_tlc(values: Mapping[str, Any], params: Params) -> State:
    """The Python state equal to a TLC state given as parsed variable values."""
    missing = [v for v in VARIABLES if v not in values]
    if missing:
        raise Disagreement(f"the TLC state lacks the variables {missing}")
    names = params.names
    try:
        nodes = tuple(
            NodeState(
                name=n,
                az=params.az_of[n],
                up=bool(values["up"][n]),
                log=tuple(int(w) for w in values["log"][n]),
                acked=int(values["acked"][n]),
                stale=n in values["stale"],
            )
            for n in names
        )
        writes = tuple(
            WriteRecord(
                id=i,
                status=Status(r["status"]),
                invoked_at=int(r["at"]),
                applied=bool(r["applied"]),
                term=int(r["term"]),
            )
            for i, r in enumerate(values["writes"], start=1)
        )
        report = values["lagReport"]
        lag_report = (
            None
            if report["term"] == 0
            else LagReport(at=int(report["at"]), value=int(report["value"]), term=report["term"])
        )
        return State(
            params=params,
            now=int(values["now"]),
            term=int(values["term"]),
            primary=str(values["primary"]),
            nodes=nodes,
            cut=frozenset((str(a), str(b)) for a, b in values["cut"]),
            writes=writes,
            crashes=int(values["crashes"]),
            lag_report=lag_report,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Disagreement(
            f"the TLC state does not map onto the Python model's fields ({exc!r}); "
            "specs/README.md lists the correspondence"
        ) from None


@dataclass(frozen=True, kw_only=True)
class ReplayedStep:
    """A TLC trace state with the Python event that leads into it (None for the first)."""

    tlc: TraceState
    event: Event | None
    state: State


def replay(trace: Sequence[TraceState], params: Params) -> tuple[ReplayedStep, ...]:
    """Replay a TLC trace through the Python model; :class:`Disagreement` where it cannot.

    When several events lead to the same state, the one named like TLC's action is chosen.
    """
    if not trace:
        return ()
    first = state_from_tlc(trace[0].values, params)
    if first != init(params):
        raise Disagreement(
            f"TLC's initial state {first!r} is not the Python model's {init(params)!r}"
        )
    steps = [ReplayedStep(tlc=trace[0], event=None, state=first)]
    cur = first
    for ts in trace[1:]:
        nxt = state_from_tlc(ts.values, params)
        matches = [e for e in enabled(cur) if e._apply(cur) == nxt]
        if not matches:
            raise Disagreement(
                f"TLC's step {ts.number} ({ts.action}) leads to a state no enabled event of "
                f"the Python model reaches; from {cur!r} to {nxt!r}"
            )
        named = [e for e in matches if type(e).__name__ == ts.action]
        event = (named or matches)[0]
        steps.append(ReplayedStep(tlc=ts, event=event, state=nxt))
        cur = nxt
    return tuple(steps)
