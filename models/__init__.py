"""ackbound's pure reference model of write durability in sync, async and none modes.

Two layers, both pure (stdlib only; no I/O, clocks, randomness or threads):

- ``models._exact``: the semantics as an exact state machine that sees every internal step.
- ``models._knowledge``: what an observer outside the cluster (the harness) can be sure of,
  given only its client operations and the effects of the faults it applied — a sound
  abstraction of the exact model, used by the checker and by the stateful run as oracle.
"""

from models._knowledge import (
    CLIENT,
    Clause,
    Down,
    Effect,
    Fast,
    HealLink,
    Holders,
    Knowledge,
    LinkCut,
    LoseData,
    Mode,
    Promote,
    Replicate,
    Slow,
    Synced,
    TimedEffect,
    Up,
    effect_from_json,
    initial_knowledge,
    promote_candidates,
)

__all__ = [
    "CLIENT",
    "Clause",
    "Down",
    "Effect",
    "Fast",
    "HealLink",
    "Holders",
    "Knowledge",
    "LinkCut",
    "LoseData",
    "Mode",
    "Promote",
    "Replicate",
    "Slow",
    "Synced",
    "TimedEffect",
    "Up",
    "effect_from_json",
    "initial_knowledge",
    "promote_candidates",
]
