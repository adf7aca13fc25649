"""Faults: the registry of every fault by name, and the fault proxy.

``FAULTS`` maps each fault name (``kill``, ``restart``, ``wipe-restart``, ``pause``,
``resume``, ``partition``, ``slow-link``, ``failover``, ``az-outage``, ``heal``) to a
:class:`FaultSpec`: description, parameter schema, needed target capabilities and the effect
kinds it records. ``harness.cluster.Cluster.apply(name, **params)`` applies one.

:class:`FaultProxy` is the TCP proxy the cluster puts on every replication and client link;
each :class:`Link` direction has a :class:`Policy` (pass, blocked, latency, bandwidth).
See docs/faults.md.
"""

from harness.faults._proxy import PASS, Direction, FaultProxy, Link, LinkStats, Policy
from harness.faults._registry import (
    FAULT_NAMES,
    FAULTS,
    FaultError,
    FaultSpec,
    Param,
    ParamType,
    get_fault,
)

__all__ = [
    "FAULTS",
    "FAULT_NAMES",
    "PASS",
    "Direction",
    "FaultError",
    "FaultProxy",
    "FaultSpec",
    "Link",
    "LinkStats",
    "Param",
    "ParamType",
    "Policy",
    "get_fault",
]
