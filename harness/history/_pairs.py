"""Pairing invocations with their completions.

Each process runs one operation at a time: its ``invoke`` is completed by the next op of the
same process. An invocation with no completion by the end of the history (the run stopped
while it was in flight) is treated as ``info``: it may or may not have happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harness.history._io import HistoryError
from harness.history._op import Op

__all__ = ["Pair", "pair_ops"]


@dataclass(frozen=True, slots=True)
class Pair:
    """An operation: its invocation and its completion (``None`` if it never completed)."""

    invoke: Op
    complete: Op | None

    @property
    def type(self) -> str:
        """``ok``, ``fail`` or ``info`` (an operation that never completed is ``info``)."""
        return "info" if self.complete is None else self.complete.type

    @property
    def start(self) -> int:
        return self.invoke.time

    @property
    def end(self) -> int | None:
        """Completion time; ``None`` when it never completed (it may take effect any time)."""
        return None if self.complete is None else self.complete.time


def pair_ops(ops: Iterable[Op], source: str = "<history>") -> list[Pair]:
    """Pair every invocation with its completion, in invocation order.

    Raises :class:`HistoryError` on a completion without an invocation, a second invocation
    by a process whose previous operation has not completed, or a completion whose ``f``
    differs from its invocation's.
    """
    open_by_process: dict[object, int] = {}
    pairs: list[Pair | None] = []
    invokes: list[Op] = []
    for op in ops:
        p = op.process
        if op.type == "invoke":
            if p in open_by_process:
                prev = invokes[open_by_process[p]]
                raise HistoryError(
                    f"{source}: op {op.index}: process {p!r} invokes again while op {prev.index} "
                    "is still open; complete it (ok/fail/info) first or use a new process id"
                )
            open_by_process[p] = len(invokes)
            invokes.append(op)
            pairs.append(None)
            continue
        slot = open_by_process.pop(p, None)
        if slot is None:
            raise HistoryError(
                f"{source}: op {op.index}: {op.type} completion by process {p!r} has no "
                "invocation before it; add the invoke line"
            )
        inv = invokes[slot]
        if inv.f != op.f:
            raise HistoryError(
                f"{source}: op {op.index}: completion f={op.f!r} does not match its invocation "
                f"(op {inv.index}, f={inv.f!r}); a completion repeats its invocation's f"
            )
        pairs[slot] = Pair(inv, op)
    return [pr if pr is not None else Pair(invokes[i], None) for i, pr in enumerate(pairs)]
