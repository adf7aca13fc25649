"""Checking configurations against their pinned results, and rendering counterexamples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness._errors import AckboundError
from harness.spec._config import ConfigEntry, Manifest, params_from_cfg, read_cfg
from harness.spec._replay import Disagreement, replay
from harness.spec._tlc import Tlc, TlcResult, TraceState, run_tlc
from harness.spec._values import format_value

__all__ = ["ConfigCheck", "check_config", "render_trace"]


@dataclass(frozen=True, kw_only=True)
class ConfigCheck:
    """A configuration, what TLC found, and how that differs from the pinned result."""

    entry: ConfigEntry
    result: TlcResult
    workers: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_config(
    tlc: Tlc, manifest: Manifest, entry: ConfigEntry, *, workers: int = 2
) -> ConfigCheck:
    """Run TLC on one configuration and compare with the manifest.

    Buggy configurations run on one worker whatever ``workers`` says: TLC then stops at the
    same state every time and reports a shortest counterexample. The pinned depth of a
    passing configuration is compared on one worker only.
    """
    if not entry.cfg.is_file():
        raise_missing = f"the config file {entry.cfg} named by {manifest.path} does not exist"
        result = TlcResult(
            outcome="error",
            distinct_states=None,
            generated=None,
            depth=None,
            seconds=0.0,
            error=raise_missing,
        )
        return ConfigCheck(entry=entry, result=result, workers=0, problems=(raise_missing,))
    w = 1 if entry.buggy else workers
    result = run_tlc(tlc, entry.cfg, module=manifest.module, workers=w)
    problems: list[str] = []
    if result.outcome != entry.expect:
        got = result.outcome if result.outcome != "error" else f"error: {result.error}"
        want = "no violation" if entry.expect == "pass" else f"{entry.expect} violated"
        problems.append(f"expected {want}, got {got}")
    else:
        pins = [("distinct states", entry.distinct_states, result.distinct_states)]
        if entry.buggy:
            pins.append(("trace length", entry.trace_length, len(result.trace)))
        elif w == 1:
            # With several workers TLC's search is only roughly breadth first: a state may
            # be reached first by a longer path, so the depth it reports can vary.
            pins.append(("depth", entry.depth, result.depth))
        for what, pinned, got_n in pins:
            if pinned is not None and pinned != got_n:
                problems.append(f"{what}: pinned {pinned}, got {got_n}")
    return ConfigCheck(entry=entry, result=result, workers=w, problems=tuple(problems))


def _diff_value(path: str, old: Any, new: Any, out: list[str]) -> None:
    """Append a line per leaf that changed, descending into functions, records and
    sequences of the same shape."""
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict) and old.keys() == new.keys():
        for key in new:
            label = key if isinstance(key, str) and path and key.isidentifier() else None
            sub = f"{path}.{label}" if label and not _is_function(old) else None
            _diff_value(sub or f"{path}[{format_value(key)}]", old[key], new[key], out)
        return
    if isinstance(old, tuple) and isinstance(new, tuple) and old == new[: len(old)]:
        for i in range(len(old) + 1, len(new) + 1):
            out.append(f"{path}[{i}] = {format_value(new[i - 1])}")
        return
    if (
        isinstance(old, tuple)
        and isinstance(new, tuple)
        and len(old) == len(new)
        and all(isinstance(x, dict) for x in (*old, *new))
    ):
        for i, (a, b) in enumerate(zip(old, new, strict=True), start=1):
            _diff_value(f"{path}[{i}]", a, b, out)
        return
    out.append(f"{path}: {format_value(old)} -> {format_value(new)}")


def _is_function(v: dict[Any, Any]) -> bool:
    from harness.spec._values import ModelValue

    return any(isinstance(k, ModelValue) or not isinstance(k, str) for k in v)


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes: list[str] = []
    for name, new in after.items():
        if name in before:
            _diff_value(name, before[name], new, changes)
        else:
            changes.append(f"{name} = {format_value(new)}")
    return changes


def render_trace(trace: tuple[TraceState, ...], entry: ConfigEntry | None = None) -> list[str]:
    """A counterexample as lines a person can follow: each step's event and what changed.

    Steps are named by replaying the trace through the Python model (which knows each
    event's parameters); if that fails, TLC's action names are used and a line says why.
    """
    if not trace:
        return []
    events: list[str] = [s.action for s in trace]
    note = ""
    if entry is not None:
        try:
            params = params_from_cfg(read_cfg(entry.cfg))
            steps = replay(trace, params)
            events = [repr(s.event) if s.event is not None else s.tlc.action for s in steps]
        except (Disagreement, AckboundError, ValueError) as exc:
            note = f"(the Python model could not replay this trace: {exc})"
    lines = [f"  {trace[0].number:>2}. {events[0]}"]
    lines.extend(f"        {name} = {trace[0].text[name]}" for name in sorted(trace[0].text))
    for prev, cur, ev in zip(trace, trace[1:], events[1:], strict=False):
        lines.append(f"  {cur.number:>2}. {ev}")
        lines.extend(f"        {c}" for c in _diff(prev.values, cur.values))
    if note:
        lines.append(f"  {note}")
    return lines
