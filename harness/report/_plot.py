"""What report.html draws, extracted from a history, and how it is thinned to fit the page.

:func:`history_view` re-analyses a history with the checker's own first pass
(``harness.checker._analysis.analyse``), so a write drawn as *lost* is exactly a write the
checker judged lost: acknowledged (``ok``) and absent from the final reads of the final
primary (``present`` is false). Times are seconds since the history's first op.

Histories run to ~100k ops, far more than a page can draw one by one, so every series is
thinned to the plot's resolution first (:func:`raster_lanes`, :func:`thin_points`,
:func:`column_envelope`): what is drawn is what would be visible anyway.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.checker._analysis import MS, SECOND, Params, analyse
from harness.history import History
from models import Mode

__all__ = [
    "SEVERITY",
    "FaultWindow",
    "HistoryView",
    "LostWrite",
    "OpSpan",
    "column_envelope",
    "degraded_windows",
    "history_view",
    "nice_ticks",
    "params_from_json",
    "raster_lanes",
    "thin_points",
]

# Timeline colours by outcome; a pixel shared by several ops shows the most severe.
SEVERITY = {"ok": 1, "fail": 2, "info": 3}


@dataclass(frozen=True, slots=True)
class OpSpan:
    """A client op on the timeline: its lane (process), interval and outcome."""

    lane: int
    start: float
    end: float | None  # None: never completed
    kind: str  # write | read
    type: str  # ok | fail | info
    index: int
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """A nemesis op from its invocation to its completion."""

    name: str
    start: float
    end: float | None
    type: str
    index: int
    params: str


@dataclass(frozen=True, slots=True)
class LostWrite:
    """An acknowledged write missing from the final reads (the checker's ``present`` false)."""

    invoked: float
    completed: float
    latency_ms: float
    key: str
    value: Any
    ops: tuple[int, ...]
    lane: int


@dataclass(kw_only=True)
class HistoryView:
    """Everything report.html draws for one history."""

    t_end: float
    op_count: int
    lanes: list[str]
    ops: list[OpSpan]
    faults: list[FaultWindow]
    degraded: list[tuple[float, float]]
    # (completion time s, latency ms, outcome) of every completed write
    latencies: list[tuple[float, float, str]]
    lag: dict[str, list[tuple[float, int]]]  # node -> (time s, reported lag ms)
    lag_limit_ms: float | None
    tolerance_ms: float
    lost: list[LostWrite]
    final_node: str | None
    notes: list[str] = field(default_factory=list)


def params_from_json(
    mode: str, params: Mapping[str, Any], header: Mapping[str, Any] | None = None
) -> Params:
    """Checker ``Params`` from a checker result's ``params`` (seconds), falling back to the
    history header's ``params`` (milliseconds), then to the checker's defaults."""
    header = header or {}
    default = Params(mode=Mode(mode))

    def ns(key_s: str, key_ms: str, fallback: int) -> int:
        v = params.get(key_s)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return round(v * SECOND)
        v = header.get(key_ms)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return round(v * MS)
        return fallback

    k = params.get("sync_replicas", header.get("sync_replicas", default.sync_replicas))
    return Params(
        mode=Mode(mode),
        sync_replicas=k if isinstance(k, int) and k >= 1 else 1,
        sync_timeout=ns("sync_timeout_s", "sync_timeout_ms", default.sync_timeout),
        lag_limit=ns("lag_limit_s", "lag_limit_ms", default.lag_limit),
        tolerance=ns("tolerance_s", "tolerance_ms", default.tolerance),
        recovery=ns("recovery_s", "recovery_ms", default.recovery),
    )


def _short(v: Any, limit: int = 80) -> str:
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def degraded_windows(history: History) -> list[tuple[int, int]]:
    """Intervals (ns) during which some fault was in force: a node down, a link cut or slow.

    Read from the effects the nemesis recorded (docs/history.md), so it knows no fault by
    name: from the completion of the op that degraded the cluster to the completion of the
    op that restored it (or the end of the history).
    """
    down: set[str] = set()
    cut: set[tuple[str, str]] = set()
    slow: set[tuple[str, str]] = set()
    out: list[tuple[int, int]] = []
    since: int | None = None
    last = history.ops[-1].time if history.ops else 0
    for op in history.ops:
        if op.process != "nemesis" or op.type == "invoke" or op.type == "fail":
            continue
        value = op.value if isinstance(op.value, Mapping) else {}
        effects = value.get("effects")
        if not isinstance(effects, list):
            continue
        for e in effects:
            if not isinstance(e, Mapping):
                continue
            if isinstance(e.get("down"), str):
                down.add(e["down"])
            if isinstance(e.get("up"), str):
                down.discard(e["up"])
            for key, s, add in (
                ("cut", cut, True),
                ("heal-link", cut, False),
                ("slow", slow, True),
                ("fast", slow, False),
            ):
                pair = e.get(key)
                if isinstance(pair, list) and len(pair) == 2:
                    (s.add if add else s.discard)((str(pair[0]), str(pair[1])))
        bad = bool(down or cut or slow)
        if bad and since is None:
            since = op.time
        elif not bad and since is not None:
            out.append((since, op.time))
            since = None
    if since is not None:
        out.append((since, last))
    return out


def history_view(
    history: History, mode: str, params: Mapping[str, Any] | None = None
) -> HistoryView:
    """Extract what the report draws from ``history`` (see the module doc).

    ``params`` is the checker result's ``params`` for the mode. Raises ``HistoryError`` when
    the checker cannot read the history.
    """
    p = params_from_json(mode, params or {}, history.header.params)
    a = analyse(history, p)
    t0 = a.t0

    def s(t: int) -> float:
        return (t - t0) / SECOND

    lane_of: dict[Any, int] = {}
    for proc in sorted(
        {w.process for w in a.writes} | {r.process for r in a.reads},
        key=lambda x: (str(type(x)), x),
    ):
        lane_of[proc] = len(lane_of)
    ops: list[OpSpan] = []
    latencies: list[tuple[float, float, str]] = []
    lost: list[LostWrite] = []
    for w in a.writes:
        ops.append(
            OpSpan(
                lane=lane_of[w.process],
                start=s(w.inv),
                end=None if w.comp is None else s(w.comp),
                kind="write",
                type=w.type,
                index=w.index,
                key=w.key,
                value=w.value,
            )
        )
        if w.comp is not None:
            latencies.append((s(w.comp), (w.comp - w.inv) / MS, w.type))
            if w.type == "ok" and w.present is False:
                lost.append(
                    LostWrite(
                        invoked=s(w.inv),
                        completed=s(w.comp),
                        latency_ms=(w.comp - w.inv) / MS,
                        key=w.key,
                        value=w.value,
                        ops=tuple(w.ops()),
                        lane=lane_of[w.process],
                    )
                )
    for r in a.reads:
        ops.append(
            OpSpan(
                lane=lane_of[r.process],
                start=s(r.inv),
                end=None if r.comp is None else s(r.comp),
                kind="read",
                type=r.type,
                index=r.index,
                key=r.key,
                value=None,
            )
        )
    faults: list[FaultWindow] = []
    open_fault: dict[Any, tuple[int, int, str, Any]] = {}
    for op in history.ops:
        if op.process != "nemesis":
            continue
        if op.type == "invoke":
            open_fault[op.process] = (op.index, op.time, op.f, op.value)
            continue
        started = open_fault.pop(op.process, None)
        if started is None:
            continue
        idx, t_inv, f, value = started
        faults.append(
            FaultWindow(
                name=f,
                start=s(t_inv),
                end=s(op.time),
                type=op.type,
                index=idx,
                params="" if value is None else _short(value),
            )
        )
    for idx, t_inv, f, value in open_fault.values():
        faults.append(
            FaultWindow(
                name=f,
                start=s(t_inv),
                end=None,
                type="info",
                index=idx,
                params="" if value is None else _short(value),
            )
        )
    lag: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for _inv, comp, ms, node, _index in a.lag_obs:
        lag[node or "?"].append((s(comp), ms))
    t_end = s(history.ops[-1].time) if history.ops else 0.0
    notes: list[str] = []
    if a.final_node_used is False:
        notes.append("no final reads: which writes were lost cannot be told")
    return HistoryView(
        t_end=t_end,
        op_count=len(history.ops),
        lanes=[f"p{proc}" if isinstance(proc, int) else str(proc) for proc in lane_of],
        ops=ops,
        faults=sorted(faults, key=lambda f: f.start),
        degraded=[(s(a0), s(b0)) for a0, b0 in degraded_windows(history)],
        latencies=latencies,
        lag=dict(lag),
        lag_limit_ms=p.lag_limit / MS if p.mode is Mode.ASYNC else None,
        tolerance_ms=p.tolerance / MS,
        lost=lost,
        final_node=a.final_node_used if isinstance(a.final_node_used, str) else None,
        notes=notes,
    )


# -- thinning ----------------------------------------------------------------------------------


def raster_lanes(
    spans: Iterable[OpSpan], *, lanes: int, t_end: float, width: int
) -> list[tuple[int, int, int, int]]:
    """Rasterise op spans into ``width`` pixel columns per lane.

    Returns runs ``(lane, x0, x1, severity)`` (``x1`` exclusive): each pixel takes the most
    severe outcome of the ops that cover it (ok < fail < info), consecutive pixels of the
    same severity merge into one run. Cost: O(ops + lanes × width).
    """
    if lanes <= 0 or width <= 0:
        return []
    scale = width / t_end if t_end > 0 else 0.0
    # One difference array per (lane, severity): +1 where coverage starts, −1 after it ends.
    diff = [[[0] * (width + 1) for _ in range(4)] for _ in range(lanes)]
    for sp in spans:
        sev = SEVERITY.get(sp.type, 3)
        x0 = min(width - 1, max(0, int(sp.start * scale)))
        end = t_end if sp.end is None else sp.end
        x1 = min(width - 1, max(x0, int(end * scale)))
        d = diff[sp.lane][sev]
        d[x0] += 1
        d[x1 + 1] -= 1
    runs: list[tuple[int, int, int, int]] = []
    for lane in range(lanes):
        cover = [0] * 4
        run_sev = 0
        run_x0 = 0
        for x in range(width + 1):
            if x < width:
                for sev in (1, 2, 3):
                    cover[sev] += diff[lane][sev][x]
                cur = 3 if cover[3] else 2 if cover[2] else 1 if cover[1] else 0
            else:
                cur = -1
            if cur != run_sev:
                if run_sev > 0:
                    runs.append((lane, run_x0, x, run_sev))
                run_sev = cur
                run_x0 = x
    return runs


def thin_points(
    points: Iterable[tuple[float, float, str]],
    *,
    x: Callable[[float], float],
    y: Callable[[float], float],
    cell: float = 1.0,
) -> list[tuple[float, float, str]]:
    """Keep one point per (cell column, cell row, category); ``x``/``y`` map data to pixels
    and ``cell`` is the cell's side in pixels (about a drawn dot's size).

    Returns the kept points in pixel coordinates; nothing visible is lost.
    """
    seen: set[tuple[int, int, str]] = set()
    out: list[tuple[float, float, str]] = []
    for t, v, cat in points:
        px, py = x(t), y(v)
        key = (int(px // cell), int(py // cell), cat)
        if key in seen:
            continue
        seen.add(key)
        out.append((px, py, cat))
    return out


def column_envelope(
    points: Sequence[tuple[float, float]], *, x: Any, width: int
) -> list[tuple[int, float, float]]:
    """Per pixel column: ``(column, min, max)`` of the values there, columns in order."""
    cols: dict[int, tuple[float, float]] = {}
    for t, v in points:
        c = min(width - 1, max(0, int(x(t))))
        lo_hi = cols.get(c)
        if lo_hi is None:
            cols[c] = (v, v)
        else:
            cols[c] = (min(lo_hi[0], v), max(lo_hi[1], v))
    return [(c, lo, hi) for c, (lo, hi) in sorted(cols.items())]


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 5 × 10^k steps)."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 9))
        v += step
    return ticks
