"""Judge a history: every applicable property, merged into one verdict, plus stats.

The result is plain data (JSON-ready)::

    {"valid": true | false | "unknown", "mode": "sync", "params": {...},
     "properties": {"acked-writes-survive": {"valid": ..., "witnesses": [...], ...}, ...},
     "stats": {"attempted": ..., "acknowledged": ..., "lost": ..., ...}}

Verdicts merge as Jepsen's do: ``false`` beats ``"unknown"`` beats ``true``. A property whose
check raised is ``"unknown"`` with the error, so one broken property never hides the others.
"""

from __future__ import annotations

import operator
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from itertools import compress, repeat
from typing import Any

from harness.checker._analysis import MS, SECOND, Analysis, Params, analyse
from harness.checker._properties import (
    PropertyResult,
    Verdict,
    _where_ok_mask,
    applicable,
    loss_windows,
)
from harness.checker._render import explain
from harness.history import History, HistoryError, gc_paused
from models import Mode

__all__ = ["RESULT_SCHEMA", "check", "merge", "stats"]

RESULT_SCHEMA = "ackbound-check/1"


def merge(verdicts: list[Verdict]) -> Verdict:
    """false > unknown > true; no verdicts at all is unknown."""
    if any(v is False for v in verdicts):
        return False
    if not verdicts or any(v == "unknown" for v in verdicts):
        return "unknown"
    return True


def _percentile(sorted_values: list[int], q: float) -> int | None:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / MS, 3)


def error_prefix(error: str | None) -> str:
    if not error:
        return "(none)"
    word = error.split(None, 1)[0] if error.strip() else error
    return word.lstrip("-")[:40]


def _by_prefix(errors: Counter[str | None]) -> Counter[str]:
    """Error counts merged by :func:`error_prefix` (counted first by whole message: a run's
    errors are few distinct strings)."""
    out: Counter[str] = Counter()
    for error, n in errors.items():
        out[error_prefix(error)] += n
    return out


def _is(values: list[Any], value: Any) -> Iterator[bool]:
    return map(operator.eq, values, repeat(value))


def stats(a: Analysis) -> dict[str, Any]:
    """Counts and figures of a history (independent of any verdict)."""
    w_type, w_comp, w_inv, present = a.w_type, a.w_comp, a.w_inv, a.w_present
    types = Counter(w_type)
    acked = _where_ok_mask(a)
    ok_lat = sorted(map(operator.sub, compress(w_comp, acked), compress(w_inv, acked)))
    ok_present = list(compress(present, map(operator.eq, w_type, repeat("ok"))))
    lost = ok_present.count(False)
    judged = len(ok_present) - ok_present.count(None)
    # The figure users compare across modes: per failover, the span of the acknowledged
    # writes of the failed primary's epoch that are gone at the end.
    windows = {ep: w for ep, (w, _first, _last) in loss_windows(a).items()}
    rejected_by = _by_prefix(Counter(compress(a.w_error, _is(w_type, "fail"))))
    indeterminate_by = _by_prefix(Counter(compress(a.w_error, _is(w_type, "info"))))
    faults = Counter(a.nemesis_fs)
    duration = a.t_end - a.t0
    return {
        "attempted": len(w_type),
        "acknowledged": types.get("ok", 0),
        "rejected": types.get("fail", 0),
        "indeterminate": types.get("info", 0),
        "lost": lost,
        "acknowledged_judged": judged,
        "reads": len(a.r_at),
        "final_reads": sum(1 for f in a.r_final if f),
        "loss_window_s": round(max(windows.values(), default=0) / SECOND, 6),
        "failovers": sum(1 for _t, _e in a.knowledge[-1].failures),
        "max_lag_ms": max((ms for _i, _c, ms, _n, _x in a.lag_obs), default=None),
        "lag_observations": len(a.lag_obs),
        "write_latency_ms": {
            "p50": _ms(_percentile(ok_lat, 0.50)),
            "p99": _ms(_percentile(ok_lat, 0.99)),
            "max": _ms(ok_lat[-1] if ok_lat else None),
        },
        "rejected_by_error": dict(sorted(rejected_by.items())),
        "indeterminate_by_error": dict(sorted(indeterminate_by.items())),
        "faults": dict(sorted(faults.items())),
        "duration_s": round(duration / SECOND, 6),
        "final_node": (
            None if a.final_node_used is False or a.final_node_used is None else a.final_node_used
        ),
    }


def _params_json(p: Params) -> dict[str, Any]:
    return {
        "sync_replicas": p.sync_replicas,
        "sync_timeout_s": p.sync_timeout / SECOND,
        "lag_limit_s": p.lag_limit / SECOND,
        "tolerance_s": p.tolerance / SECOND,
        "recovery_s": p.recovery / SECOND,
    }


def check(
    history: History,
    params: Params,
    source: str = "<history>",
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Judge ``history`` under ``params``; returns the result data (see the module doc).

    ``timings``, when given, receives the CPU seconds of each phase: ``analysis``, every
    property by name, and ``stats`` (outside the result, which stays deterministic).
    """
    if not isinstance(history, History):
        raise TypeError(
            f"check() judges a History, not a {type(history).__name__}; read one with "
            "load_history(path) (ndjson) or parse_text(text) (the text language)"
        )
    if not isinstance(params, Params):
        raise TypeError(
            f"check() needs Params, not a {type(params).__name__}; e.g. Params(mode=Mode.ASYNC)"
        )
    if history.header.topology is None and params.mode is not Mode.NONE and history.ops:
        # The promises of sync and async name replicas in other AZs: without the cluster's
        # nodes and AZs every acknowledgement would look unprotected.
        raise HistoryError(
            f"{source}: the header has no topology, which mode {params.mode.value} needs to "
            "know which replicas could acknowledge; add it (docs/history.md; in a .txt "
            "history: nodes n1@a n2@b n3@c)"
        )
    with gc_paused():
        return _check(history, params, source, {} if timings is None else timings)


def _check(
    history: History, params: Params, source: str, timings: dict[str, float]
) -> dict[str, Any]:
    clock = time.process_time
    t = clock()
    a = analyse(history, params, source)
    timings["analysis"] = clock() - t
    props: dict[str, Any] = {}
    for prop in applicable(params.mode):
        t = clock()
        try:
            r = prop.check(a)
        except Exception as exc:  # a crashing check is unknown, never a pass
            r = PropertyResult(
                valid="unknown",
                error=f"{type(exc).__name__}: {exc}",
                notes=[traceback.format_exc(limit=3)],
            )
        props[prop.name] = {
            "valid": r.valid,
            "summary": prop.summary,
            "witnesses": r.witnesses,
            "witness_count": r.witness_count,
            "evidence": r.evidence,
            "explanation": explain(prop.name, r, a),
            **({"error": r.error} if r.error else {}),
            **({"notes": r.notes} if r.notes else {}),
        }
        timings[prop.name] = clock() - t
    if a.final_node_used is False:
        for name in ("acked-writes-survive", "loss-window-bounded", "no-loss-without-failure"):
            if name in props and props[name]["valid"] is not False:
                props[name].setdefault("notes", []).append(
                    "no final reads: survival could not be judged"
                )
    t = clock()
    figures = stats(a)
    timings["stats"] = clock() - t
    return {
        "schema": RESULT_SCHEMA,
        "valid": merge([p["valid"] for p in props.values()]),
        "mode": params.mode.value,
        "params": _params_json(params),
        "properties": props,
        "stats": figures,
    }
