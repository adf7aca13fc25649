"""What a conformance run is asked to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness._errors import AckboundError
from harness.faults import FAULT_NAMES

__all__ = ["DEFAULT_FAULTS", "MODES_ALL", "RunConfig", "parse_faults", "parse_modes"]

MODES_ALL = ("none", "sync", "async")
# A run's default fault set: every fault in the registry.
DEFAULT_FAULTS: tuple[str, ...] = FAULT_NAMES


def parse_modes(text: str, flag: str = "--mode") -> tuple[str, ...]:
    if text == "all":
        return MODES_ALL
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in modes if m not in MODES_ALL]
    if not modes or bad:
        raise AckboundError(
            f"{flag} {text!r}: use none, sync, async, all, or a comma-separated list of them"
        )
    return tuple(dict.fromkeys(modes))


def parse_faults(text: str) -> tuple[str, ...]:
    if text in ("all", "default"):
        return DEFAULT_FAULTS
    if text == "none":
        return ()
    faults = tuple(f.strip() for f in text.split(",") if f.strip())
    if not faults:
        raise AckboundError(
            f"--faults {text!r} names no fault; use none for a run without faults, or a "
            "comma-separated list (see ackbound faults list)"
        )
    alone = [f for f in faults if f in ("none", "all", "default")]
    if alone:
        raise AckboundError(
            f"--faults: {alone[0]!r} stands alone; pass it by itself, or list the faults without it"
        )
    bad = [f for f in faults if f not in FAULT_NAMES]
    if bad:
        raise AckboundError(
            f"--faults: {', '.join(repr(b) for b in bad)} is not a fault; use a comma-separated "
            f"list of {', '.join(FAULT_NAMES)} (see ackbound faults list)"
        )
    return tuple(dict.fromkeys(faults))


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything ``ackbound run`` was asked; see ``ackbound run --help``."""

    target: str = "bundled"
    backend: str = "local"
    modes: tuple[str, ...] = MODES_ALL
    faults: tuple[str, ...] = DEFAULT_FAULTS
    budget_s: float = 60.0
    examples: int | None = None  # per mode; None: as many as the budget allows
    seed: int | None = None
    lag_limit_s: float | None = None  # None: the target's test default
    sync_timeout_ms: int | None = None
    sync_replicas: int = 1
    nodes: int | None = None
    azs: int | None = None
    report_dir: Path | None = None
    junit: Path | None = None
    json: Path | None = None
    bug: str | None = None
    image: str | None = None
    steps: int = 8  # most steps in one example
    canon: bool = True  # run the textbook scenarios (harness.run._machine.canon) first
    shrink_budget_s: float | None = None  # None: a share of the budget, at least 60 s
    workers: int = 2  # background writers per burst
    command: tuple[str, ...] = field(default_factory=tuple)
