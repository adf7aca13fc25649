"""The fault registry: every fault by its one name, as data.

The conformance run, the CLI and the docs read faults from here: a name, a description, a
parameter schema (type, range, default) and the target capabilities the fault needs. The
cluster controller (``harness.cluster``) implements them and records what each did as
``effects`` in the history (docs/history.md); :data:`FAULTS` lists, per fault, the effect
kinds it may record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from harness._errors import AckboundError

__all__ = [
    "FAULTS",
    "FAULT_NAMES",
    "FaultError",
    "FaultSpec",
    "Param",
    "ParamType",
    "get_fault",
]

ParamType = Literal["node", "az", "int", "float", "enum"]


class FaultError(AckboundError):
    """A fault that cannot be applied as asked; the message names the fault, rule and fix."""


@dataclass(frozen=True, kw_only=True)
class Param:
    """One parameter of a fault."""

    name: str
    type: ParamType
    description: str
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "description": self.description,
        }
        if self.default is not None:
            out["default"] = self.default
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.choices:
            out["choices"] = list(self.choices)
        return out


@dataclass(frozen=True, kw_only=True)
class FaultSpec:
    """A fault: what it does, its parameters, what it needs, what it may record."""

    name: str
    description: str
    params: tuple[Param, ...] = ()
    needs: frozenset[str] = field(default_factory=frozenset)
    effects: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "params": [p.to_json() for p in self.params],
            "needs": sorted(self.needs),
            "effects": list(self.effects),
        }

    def missing(self, capabilities: frozenset[str]) -> frozenset[str]:
        """The capabilities this fault needs that a target lacks."""
        return self.needs - capabilities

    def validate(
        self, params: Mapping[str, Any], *, nodes: Sequence[str], azs: Sequence[str]
    ) -> dict[str, Any]:
        """Check ``params`` against the schema; return them with defaults filled in."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise FaultError(
                f"fault {self.name!r}: unknown parameter {unknown[0]!r}; its parameters are: {allowed}"
            )
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name not in params or params[p.name] is None:
                if p.required:
                    raise FaultError(
                        f"fault {self.name!r}: parameter {p.name!r} is required ({p.description})"
                    )
                if p.default is not None:
                    out[p.name] = p.default
                continue
            out[p.name] = _check(self.name, p, params[p.name], nodes, azs)
        _cross_checks(self.name, out)
        return out


def _check(fault: str, p: Param, value: Any, nodes: Sequence[str], azs: Sequence[str]) -> Any:
    where = f"fault {fault!r}: parameter {p.name!r}"
    if p.type == "node":
        if value not in nodes:
            raise FaultError(f"{where}: {value!r} is not a node; use one of {', '.join(nodes)}")
        return value
    if p.type == "az":
        if value not in azs:
            raise FaultError(f"{where}: {value!r} is not an AZ; use one of {', '.join(azs)}")
        return value
    if p.type == "enum":
        if value not in p.choices:
            raise FaultError(
                f"{where}: {value!r} is not allowed; use one of {', '.join(p.choices)}"
            )
        return value
    if p.type == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or (isinstance(value, float) and not math.isfinite(value)):
        raise FaultError(
            f"{where}: must be {'an integer' if p.type == 'int' else 'a number'}; got {value!r}"
        )
    if (p.min is not None and value < p.min) or (p.max is not None and value > p.max):
        raise FaultError(f"{where}: {value} is out of range; use {p.min}..{p.max}")
    return value


def _cross_checks(fault: str, params: dict[str, Any]) -> None:
    if fault == "slow-link":
        pair = ("src" in params, "dst" in params)
        if pair[0] != pair[1]:
            raise FaultError(
                "fault 'slow-link': give src and dst together (one direction of a link) or node alone"
            )
        if ("node" in params) == pair[0]:
            raise FaultError(
                "fault 'slow-link': give either node (every link of that node) or src and dst (one link)"
            )
        if pair[0] and params["src"] == params["dst"]:
            raise FaultError("fault 'slow-link': src and dst must be different nodes")
        if "bandwidth" not in params and not params.get("latency_ms"):
            # (a latency of 0 alone would change nothing, yet be recorded as a slow link)
            raise FaultError(
                "fault 'slow-link': give bandwidth (bytes/s), a latency_ms above 0, or both"
            )


_NODE = "the node's name, e.g. n1"

FAULTS: Final[Mapping[str, FaultSpec]] = {
    f.name: f
    for f in (
        FaultSpec(
            name="kill",
            description="SIGKILL a node (docker: kill its container). It stays down until "
            "restart, wipe-restart or heal. Killing the primary does not fail over by itself: "
            "apply failover (or start the cluster with auto_failover=True).",
            params=(Param(name="node", type="node", required=True, description=_NODE),),
            needs=frozenset({"kill"}),
            effects=("down",),
        ),
        FaultSpec(
            name="restart",
            description="Start a killed node again with its disk kept. Unless the target "
            "guarantees a durable restart its data counts as lost. A node that is no longer "
            "the primary rejoins as a replica of the current one.",
            params=(Param(name="node", type="node", required=True, description=_NODE),),
            needs=frozenset({"restart"}),
            effects=("lose-data", "up", "replicate"),
        ),
        FaultSpec(
            name="wipe-restart",
            description="Kill a node if it runs, delete its data directory (docker: its "
            "volume) and start it again empty; it rejoins as a replica unless it is still "
            "the primary.",
            params=(Param(name="node", type="node", required=True, description=_NODE),),
            needs=frozenset({"kill", "wipe", "restart"}),
            effects=("down", "lose-data", "up", "replicate"),
        ),
        FaultSpec(
            name="pause",
            description="Freeze a node (SIGSTOP; docker: pause): it keeps its connections and "
            "data but answers nothing until resume or heal.",
            params=(Param(name="node", type="node", required=True, description=_NODE),),
            needs=frozenset({"pause"}),
            effects=("down",),
        ),
        FaultSpec(
            name="resume",
            description="Unfreeze a paused node (SIGCONT; docker: unpause).",
            params=(Param(name="node", type="node", required=True, description=_NODE),),
            needs=frozenset({"pause"}),
            effects=("up",),
        ),
        FaultSpec(
            name="partition",
            description="Cut a node off from every other node and from the clients (the fault "
            "proxy holds the bytes: to TCP it is silence). direction: both, in (nothing "
            "reaches the node) or out (nothing leaves it). Lasts until heal.",
            params=(
                Param(name="node", type="node", required=True, description=_NODE),
                Param(
                    name="direction",
                    type="enum",
                    default="both",
                    choices=("both", "in", "out"),
                    description="which traffic is cut: both ways, into the node, out of it",
                ),
            ),
            needs=frozenset({"partition"}),
            effects=("cut",),
        ),
        FaultSpec(
            name="slow-link",
            description="Throttle replication traffic: one direction of one link (src → dst) "
            "or every link of a node, to a bandwidth and/or with added latency. Bytes are "
            "delayed, never lost. Lasts until heal.",
            params=(
                Param(name="node", type="node", description="slow every link of this node"),
                Param(name="src", type="node", description="slow the link from this node..."),
                Param(name="dst", type="node", description="...to this one"),
                Param(
                    name="bandwidth",
                    type="int",
                    min=1,
                    max=10_000_000_000,
                    description="bytes per second",
                ),
                Param(
                    name="latency_ms",
                    type="float",
                    min=0,
                    max=60_000,
                    description="extra one-way latency in milliseconds",
                ),
            ),
            needs=frozenset({"slow-link"}),
            effects=("slow",),
        ),
        FaultSpec(
            name="failover",
            description="Promote a replica: the most up-to-date one the controller can reach "
            "(highest replication offset; ties go to the lowest name), or the named node. "
            "Every other reachable node is re-pointed at it; an unreachable old primary "
            "rejoins as a replica when it comes back.",
            params=(
                Param(
                    name="node",
                    type="node",
                    description="promote this replica instead of the most up-to-date one",
                ),
            ),
            needs=frozenset({"promote", "replicaof"}),
            effects=("promote", "replicate"),
        ),
        FaultSpec(
            name="az-outage",
            description="Lose an availability zone: kill every node in it and wipe its data. "
            "The nodes stay down until restart or heal (which bring them back empty).",
            params=(Param(name="az", type="az", required=True, description="the AZ, e.g. az1"),),
            needs=frozenset({"kill", "wipe"}),
            effects=("down", "lose-data"),
        ),
        FaultSpec(
            name="heal",
            description="Undo every fault: pass every link at full speed, resume paused nodes, "
            "restart killed ones (as replicas of the current primary, unless one is still "
            "the primary).",
            effects=("heal-link", "fast", "up", "lose-data", "replicate"),
        ),
    )
}

FAULT_NAMES: Final = tuple(FAULTS)


def get_fault(name: str) -> FaultSpec:
    try:
        return FAULTS[name]
    except KeyError:
        raise FaultError(
            f"{name!r} is not a fault; use one of {', '.join(FAULT_NAMES)} (ackbound faults list)"
        ) from None
