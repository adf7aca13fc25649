"""The op: one line of a history.

Modelled on Jepsen's history ops: an operation is an ``invoke`` followed later by one
completion from the same process — ``ok`` (happened, acknowledged), ``fail`` (definitely did
not happen) or ``info`` (may or may not have happened). See docs/history.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

__all__ = [
    "COMPLETIONS",
    "FORMAT",
    "NEMESIS",
    "OBSERVER",
    "OP_TYPES",
    "VERSION",
    "WAIT_FAILED",
    "WAIT_SHORT",
    "WORKLOADS",
    "Header",
    "Op",
    "OpType",
    "Process",
    "applied_error",
]

FORMAT: Final = "ackbound-history"
VERSION: Final = 1

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: Final = ("invoke", "ok", "fail", "info")
COMPLETIONS: Final = ("ok", "fail", "info")
WORKLOADS: Final = ("register", "list", "set", "counter")
NEMESIS: Final = "nemesis"
OBSERVER: Final = "observer"

Process = int | str

# The errors of an ``info`` write that say it *was* applied on the node that answered, its
# durability unknown: the bundled server's sync timeout, and the harness's own texts for a
# write whose reply was OK but whose WAIT fell short or failed (harness.cluster._perform).
WAIT_SHORT: Final = "WAIT: "
WAIT_FAILED: Final = "WAIT failed: "


def applied_error(error: str | None) -> bool:
    """Whether an ``info`` write's ``error`` says it was applied before it completed."""
    if error is None:
        return False
    if error.startswith((WAIT_SHORT, WAIT_FAILED)):
        return True
    return error == "SYNCTIMEOUT" or error.startswith("SYNCTIMEOUT ")


class Op(NamedTuple):
    """One recorded event. ``time`` is nanoseconds on the harness's monotonic clock.

    A named tuple rather than a dataclass: immutable, and cheap enough to build a million
    of when loading a long history.
    """

    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose
    time: int
    process: Process
    type: str
    f: str
    workload: str | None = None
    key: str | None = None
    value: Any = None
    error: str | None = None
    node: str | None = None
    final: bool = False

    @property
    def is_client(self) -> bool:
        return isinstance(self.process, int)

    def to_json(self) -> dict[str, Any]:
        """The op as the JSON object of one history line (absent fields omitted)."""
        out: dict[str, Any] = {
            "index": self.index,
            "time": self.time,
            "process": self.process,
            "type": self.type,
            "f": self.f,
        }
        if self.workload is not None:
            out["workload"] = self.workload
        if self.key is not None:
            out["key"] = self.key
        if self.value is not None or self.f in ("read", "write"):
            out["value"] = self.value
        if self.error is not None:
            out["error"] = self.error
        if self.node is not None:
            out["node"] = self.node
        if self.final:
            out["final"] = True
        return out


@dataclass(frozen=True, kw_only=True)
class Header:
    """What a history says about the run that produced it (all optional but the format)."""

    mode: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    topology: dict[str, Any] | None = None
    target: str | None = None
    durable_restart: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION}
        if self.mode is not None:
            out["mode"] = self.mode
        if self.params:
            out["params"] = dict(self.params)
        if self.topology is not None:
            out["topology"] = self.topology
        if self.target is not None:
            out["target"] = self.target
        out["durable_restart"] = self.durable_restart
        out.update(self.extra)
        return out
