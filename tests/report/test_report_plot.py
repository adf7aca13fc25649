"""Thinning what report.html draws: exact results on small inputs."""

from __future__ import annotations

from harness.history import parse_text
from harness.report._plot import (
    OpSpan,
    column_envelope,
    degraded_windows,
    history_view,
    nice_ticks,
    params_from_json,
    raster_lanes,
    thin_points,
)
from models import Mode

MS = 1_000_000


def _span(lane: int, start: float, end: float | None, typ: str) -> OpSpan:
    return OpSpan(
        lane=lane, start=start, end=end, kind="write", type=typ, index=0, key="k", value="v"
    )


def test_raster_lanes_keeps_the_most_severe_outcome_per_pixel() -> None:
    spans = [
        _span(0, 0.0, 4.0, "ok"),  # pixels 0..4
        _span(0, 2.0, 2.5, "info"),  # pixel 2
        _span(0, 7.0, 8.0, "fail"),  # pixels 7..8
        _span(1, 5.0, None, "info"),  # never completed: to the end
    ]
    assert raster_lanes(spans, lanes=2, t_end=10.0, width=10) == [
        (0, 0, 2, 1),
        (0, 2, 3, 3),
        (0, 3, 5, 1),
        (0, 7, 9, 2),
        (1, 5, 10, 3),
    ]


def test_raster_lanes_clamps_and_handles_empty_input() -> None:
    assert raster_lanes([], lanes=0, t_end=1.0, width=10) == []
    assert raster_lanes([_span(0, -1.0, 99.0, "ok")], lanes=1, t_end=1.0, width=4) == [(0, 0, 4, 1)]
    assert raster_lanes([_span(0, 0.0, 0.0, "ok")], lanes=1, t_end=0.0, width=4) == [(0, 0, 1, 1)]


def test_thin_points_keeps_one_point_per_cell_and_category() -> None:
    pts = [
        (0.10, 1.0, "ok"),  # cell (0, 0)
        (0.15, 1.5, "ok"),  # cell (0, 0) again: dropped
        (0.15, 1.5, "fail"),  # same cell, another category: kept
        (0.40, 1.0, "ok"),  # cell (2, 0)
        (0.10, 5.0, "ok"),  # cell (0, 2)
    ]
    kept = thin_points(pts, x=lambda t: t * 10, y=lambda v: v, cell=2.0)
    assert kept == [(1.0, 1.0, "ok"), (1.5, 1.5, "fail"), (4.0, 1.0, "ok"), (1.0, 5.0, "ok")]


def test_column_envelope() -> None:
    pts = [(0.0, 5.0), (0.05, 9.0), (0.5, 1.0), (5.0, 3.0)]
    assert column_envelope(pts, x=lambda t: t * 10, width=10) == [
        (0, 5.0, 9.0),
        (5, 1.0, 1.0),
        (9, 3.0, 3.0),
    ]


def test_nice_ticks() -> None:
    assert nice_ticks(0.0, 10.0, 5) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert nice_ticks(0.0, 0.011, 8) == [0.0, 0.002, 0.004, 0.006, 0.008, 0.01]
    assert nice_ticks(0.0, 0.0) == [0.0]


def test_degraded_windows_follow_the_effects() -> None:
    h = parse_text(
        """
        nodes n1@a n2@b n3@c
        1..2   nemesis kill n2
        3..4   nemesis heal
        5      nemesis slow-link n1 n3
        6      nemesis cut n1 n2
        7      nemesis heal
        8      nemesis failover n2
        9      nemesis pause n3
        12..13 p0 lrange l -> ok []
        """
    )
    assert degraded_windows(h) == [(2 * MS, 4 * MS), (5 * MS, 7 * MS), (9 * MS, 13 * MS)]


def test_params_from_the_result_then_the_header_then_defaults() -> None:
    p = params_from_json("async", {"lag_limit_s": 2.0}, {"lag_limit_ms": 500, "tolerance_ms": 50})
    assert (p.mode, p.lag_limit, p.tolerance, p.sync_replicas) == (
        Mode.ASYNC,
        2 * 10**9,
        50 * MS,
        1,
    )
    d = params_from_json("sync", {}, {})
    assert d.recovery == 10 * 10**9 and d.sync_timeout == 10**9


def test_history_view_of_a_small_history() -> None:
    h = parse_text(
        """
        mode sync
        nodes n1@a n2@b n3@c
        0..2   p0 append l w1
        1..3   p1 append l w2 -> fail NOREPLICAS
        3      nemesis kill n1
        4      nemesis failover n2
        5..6   observer lag n2 300
        10..11 p0 lrange l -> ok [] final
        """
    )
    v = history_view(h, "sync")
    assert v.lanes == ["p0", "p1"]
    assert [(o.lane, o.kind, o.type) for o in v.ops] == [
        (0, "write", "ok"),
        (1, "write", "fail"),
        (0, "read", "ok"),
    ]
    assert v.latencies == [(0.002, 2.0, "ok"), (0.003, 2.0, "fail")]
    assert [(lw.key, lw.value, lw.ops) for lw in v.lost] == [("l", "w1", (0, 2))]
    assert v.lag == {"n2": [(0.006, 300)]}
    assert v.lag_limit_ms is None  # not async: no limit line
    assert [(f.name, f.start, f.end) for f in v.faults] == [
        ("kill", 0.003, 0.003),
        ("failover", 0.004, 0.004),
    ]
    assert v.degraded == [(0.003, 0.011)]
    assert v.t_end == 0.011 and v.op_count == 12
