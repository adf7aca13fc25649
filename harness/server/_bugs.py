"""The seeded bugs: deliberately wrong behaviours, each breaking one durability property.

They exist to validate the harness: ``ackbound selftest`` starts the bundled server with each
``--bug NAME`` and must see the named property fail. They are never on unless asked for.
``--list-bugs`` prints this table as JSON; the harness reads it from there, never by import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["BUGS", "Bug"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Bug:
    name: str
    breaks: str
    """The property (kebab-case, as the checker names it) the bug violates."""
    mode: str
    """The durability mode it shows in: ``sync``, ``async``, ``none`` or ``any``."""
    description: str
    topology: dict[str, int] | None = None
    """A cluster shape the bug needs to show, e.g. ``{"nodes": 3, "azs": 2}``."""

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "breaks": self.breaks,
            "mode": self.mode,
            "description": self.description,
            "topology": self.topology,
        }


BUGS: Final[dict[str, Bug]] = {
    bug.name: bug
    for bug in (
        Bug(
            name="sync-ack-before-replication",
            breaks="acked-writes-survive",
            mode="sync",
            description="sync mode replies OK right after applying, before any replica "
            "acknowledged the write (breaks acked-writes-survive)",
        ),
        Bug(
            name="sync-counts-same-az-replica",
            breaks="acked-writes-survive",
            mode="sync",
            description="sync mode counts replicas in the primary's own AZ as eligible, so "
            "an AZ outage loses acknowledged writes (breaks acked-writes-survive)",
            topology={"nodes": 3, "azs": 2},
        ),
        Bug(
            name="async-never-rejects",
            breaks="loss-window-bounded",
            mode="async",
            description="async mode measures the lag but never rejects a write, so the loss "
            "window grows without bound (breaks loss-window-bounded)",
        ),
        Bug(
            name="async-lag-from-last-ack",
            breaks="loss-window-bounded",
            mode="async",
            description="async mode enforces the limit on the time since the last replica "
            "acknowledgement, like stock min-replicas-max-lag (it reports the true lag): over "
            "a slow link acks keep coming and it never rejects (breaks loss-window-bounded)",
        ),
        Bug(
            name="lag-underreported",
            breaks="lag-metric-not-underreported",
            mode="async",
            description="enforces the lag limit correctly but reports a third of the true "
            "lag in INFO durability (breaks lag-metric-not-underreported)",
        ),
        Bug(
            name="replica-skips-writes",
            breaks="no-holes",
            mode="any",
            description="a replica silently drops every 7th write of the replication stream "
            "but acknowledges its offset (breaks no-holes)",
        ),
        Bug(
            name="replica-acks-before-apply",
            breaks="acked-writes-survive",
            mode="sync",
            description="a replica acknowledges writes on receipt and applies them 300 ms "
            "later; a failover inside that window loses acknowledged writes (breaks "
            "acked-writes-survive)",
        ),
        Bug(
            name="rejected-write-applied",
            breaks="rejected-writes-not-applied",
            mode="sync",
            description="a write rejected with NOSYNCREPLICAS or CLUSTERDOWN is applied "
            "anyway (breaks rejected-writes-not-applied)",
        ),
        Bug(
            name="offset-overreported",
            breaks="acked-writes-survive",
            mode="sync",
            description="a replica holds back its last 2 writes unapplied while claiming "
            "their offset in acks and INFO (breaks acked-writes-survive)",
        ),
        Bug(
            name="rejoin-keeps-divergent-writes",
            breaks="no-holes",
            mode="any",
            description="an old primary rejoining the new one keeps its divergent tail and "
            "resyncs partially from its own higher offset, skipping the new primary's "
            "writes in between (breaks no-holes)",
        ),
        Bug(
            name="never-resumes-writes",
            breaks="writes-resume-after-heal",
            mode="async",
            description="async mode, once it rejected a write, rejects every write for good "
            "(breaks writes-resume-after-heal)",
        ),
        Bug(
            name="forgets-acked-writes",
            breaks="no-loss-without-failure",
            mode="any",
            description="the primary replies to every 11th write as if it succeeded but "
            "neither keeps nor replicates it (breaks no-loss-without-failure)",
        ),
        Bug(
            name="phantom-value",
            breaks="no-phantom-writes",
            mode="any",
            description="every 5th read of an existing key returns a value no client wrote "
            "(breaks no-phantom-writes)",
        ),
    )
}
