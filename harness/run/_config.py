"""What a conformance run is asked to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness._errors import AckboundError
from harness.faults import FAULT_NAMES, get_fault

__all__ = ["DEFAULT_FAULTS", "MODES_ALL", "RunConfig", "faults_for", "parse_faults", "parse_modes"]

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


def faults_for(target: Any, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The faults ``--faults text`` asks of ``target``, and those left out of the default
    set because the target cannot do them (an external target does what its hooks allow).
    A fault named explicitly that the target cannot do is refused: it would never fire, and
    the run would report verdicts as if it had."""
    faults = parse_faults(text)
    caps = target.capabilities()
    missing = {f: sorted(get_fault(f).missing(caps)) for f in faults}
    cannot = [f for f in faults if missing[f]]
    if not cannot:
        return faults, ()
    if text not in ("default", "all"):
        needs = ", ".join(f"{f} (needs {', '.join(missing[f])})" for f in cannot)
        fix = (
            "add the hooks to its [external.hooks], or leave them out of --faults"
            if target.kind == "external"
            else "leave them out of --faults"
        )
        raise AckboundError(f"--faults: target {target.name!r} cannot do {needs}; {fix}")
    return tuple(f for f in faults if f not in cannot), tuple(cannot)


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything ``ackbound run`` was asked; see ``ackbound run --help``."""

    target: str = "bundled"
    backend: str = "local"
    modes: tuple[str, ...] = MODES_ALL
    faults: tuple[str, ...] = DEFAULT_FAULTS
    dropped_faults: tuple[str, ...] = ()  # default faults the target cannot do (faults_for)
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

    def dropped_faults_note(self, target: str) -> str | None:
        """What a run says, once, of the default faults its target cannot do."""
        if not self.dropped_faults:
            return None
        return (
            f"ackbound: target {target!r} cannot do the faults {', '.join(self.dropped_faults)} "
            f"(no hook for them); the run uses {', '.join(self.faults) or 'no fault'}"
        )
