"""report.html: one self-contained page per run — verdicts, the trade-off table, and plots.

Self-contained means it renders with no network: inline CSS, inline SVG drawn here in
Python, no scripts, fonts, images or links to anything but the run's own files (relative
``href``s to the histories). Everything shown is rendered from the RunResult and from the
histories it names; nothing is decided here.

Per mode the page draws one example — the failing one when there is one, else the one with
the most steps — as three plots sharing a time axis: the timeline of client ops and fault
windows, write latency over time, and the durability lag nodes reported against the limit.
Faults are shaded in every plot: a light band while any fault is in force (a node down, a
link cut or slow) and a darker, labelled band for each nemesis op from its invocation to
its completion. Lost writes (acknowledged, then missing from the final reads, as the
checker judged them) are marked in red.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness.report._merge import verdict_name
from harness.report._model import ExampleRecord, ModeResult, RunResult
from harness.report._plot import (
    HistoryView,
    column_envelope,
    nice_ticks,
    raster_lanes,
    thin_points,
)
from harness.report._view import (
    all_rows,
    fmt_count,
    fmt_ms,
    fmt_seconds,
    key_figure_text,
    key_figures,
    stopped_how,
)

__all__ = ["featured_example", "report_html"]

W = 1000  # SVG user units; the page scales it to its width
ML, MR = 64, 16
PW = W - ML - MR
INDIVIDUAL_OPS_MAX = 4000  # beyond this the timeline is rasterised per pixel column
LOST_MARKS_MAX = 2000
LAG_POINTS_MAX = 3000
COLOURS = {"ok": "#15803d", "fail": "#ea580c", "info": "#7c3aed"}
SEVERITY_COLOURS = {1: COLOURS["ok"], 2: COLOURS["fail"], 3: COLOURS["info"]}
LOST = "#dc2626"
NODE_COLOURS = ("#2563eb", "#0891b2", "#9333ea", "#ca8a04", "#db2777", "#4b5563")
EXAMPLES_LISTED_MAX = 500
LOST_LISTED_MAX = 50

_CSS = """
:root { --ok: #15803d; --bad: #b91c1c; --unk: #a16207; --ink: #1f2937; --mute: #6b7280;
        --line: #e5e7eb; --bg: #ffffff; --panel: #f9fafb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); margin: 0 auto; max-width: 1120px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 6px; } h2 { font-size: 18px; margin: 28px 0 8px;
     border-bottom: 1px solid var(--line); padding-bottom: 4px; } h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; } td.num, th.num { text-align: right; }
tr.mode-start td { border-top: 2px solid #d1d5db; }
.v-valid { color: var(--ok); font-weight: 600; } .v-violated { color: var(--bad); font-weight: 700; }
.v-unknown { color: var(--unk); font-weight: 600; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 700; color: #fff; }
.badge.v-valid { background: var(--ok); color: #fff; } .badge.v-violated { background: var(--bad); color: #fff; }
.badge.v-unknown { background: var(--unk); color: #fff; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 10px 0; }
dl.meta dt { color: var(--mute); } dl.meta dd { margin: 0; }
pre { background: var(--panel); border: 1px solid var(--line); padding: 8px 10px; overflow-x: auto;
      font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; }
.note { color: var(--mute); } .warn { background: #fef3c7; border: 1px solid #f59e0b; padding: 6px 10px; }
svg.plot { width: 100%; height: auto; display: block; margin: 4px 0 2px; }
svg.plot text { font: 11px system-ui, sans-serif; fill: #374151; }
.legend span { margin-right: 14px; white-space: nowrap; } .sw { display: inline-block; width: 10px;
      height: 10px; margin-right: 4px; vertical-align: -1px; border-radius: 2px; }
details summary { cursor: pointer; color: #374151; }
footer { margin-top: 36px; color: var(--mute); font-size: 12px; }
"""


# Characters an HTML document may not hold (C0 and C1 controls but tab, newlines and form
# feed): a server's error text or a value read may carry them.
_NOT_HTML = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def _e(v: Any) -> str:
    return html.escape(_NOT_HTML.sub("\ufffd", str(v)), quote=True)


def _v(valid: Any) -> str:
    name = verdict_name(valid)
    return f'<span class="v-{name}">{name}</span>'


def _f(x: float) -> str:
    """A coordinate: two decimals, no trailing zeros."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


# -- the choice of example ---------------------------------------------------------------------


def featured_example(m: ModeResult) -> tuple[str | None, str | None, str]:
    """Which example of a mode the page draws: ``(example id, history path, why)``."""
    if m.failure is not None and m.failure.history:
        why = "the failing example" + (", shrunk" if m.failure.shrunk else "")
        if m.failure.flaky:
            why += "; flaky: it passed when replayed"
        return m.failure.example, m.failure.history, why
    best: ExampleRecord | None = None
    for r in m.example_records:
        if r.history and (best is None or r.steps > best.steps):
            best = r
    if best is None:
        return None, None, "no example recorded a history"
    return best.id, best.history, "the example with the most steps"


# -- SVG ---------------------------------------------------------------------------------------


class _Plot:
    """A plot's SVG elements, with the x mapping from seconds to user units."""

    def __init__(self, t_end: float, height: float) -> None:
        self.t_end = t_end if t_end > 0 else 1.0
        self.height = height
        self.parts: list[str] = []

    def x(self, t: float) -> float:
        return ML + PW * min(max(t / self.t_end, 0.0), 1.0)

    def add(self, s: str) -> None:
        self.parts.append(s)

    def shade_faults(self, view: HistoryView, top: float, bottom: float, labels: bool) -> None:
        for a, b in view.degraded:
            x0, x1 = self.x(a), self.x(b)
            self.add(
                f'<rect x="{_f(x0)}" y="{_f(top)}" width="{_f(max(x1 - x0, 0.5))}" '
                f'height="{_f(bottom - top)}" fill="#fde68a" fill-opacity="0.35">'
                f"<title>a fault in force {a:.3f}–{b:.3f} s</title></rect>"
            )
        label_end = [-1e9, -1e9, -1e9]  # where the last label of each of 3 rows ends
        for fw in view.faults:
            end = view.t_end if fw.end is None else fw.end
            x0, x1 = self.x(fw.start), self.x(end)
            colour = "#64748b" if fw.name == "heal" else "#f59e0b"
            completed = "never completed" if fw.end is None else f"{end:.3f} s"
            title = f"{fw.name} (op {fw.index}) {fw.start:.3f} s – {completed} → {fw.type}"
            if fw.params:
                title += f" {fw.params}"
            self.add(
                f'<rect x="{_f(x0)}" y="{_f(top)}" width="{_f(max(x1 - x0, 1.0))}" '
                f'height="{_f(bottom - top)}" fill="{colour}" fill-opacity="0.35">'
                f"<title>{_e(title)}</title></rect>"
            )
            if labels:
                for row in range(3):
                    if x0 >= label_end[row]:
                        label_end[row] = x0 + 6.2 * len(fw.name) + 6
                        self.add(
                            f'<text x="{_f(x0 + 1)}" y="{_f(10 + 12 * row)}">{_e(fw.name)}</text>'
                        )
                        break

    def x_axis(self, y: float) -> None:
        self.add(f'<line x1="{ML}" y1="{_f(y)}" x2="{ML + PW}" y2="{_f(y)}" stroke="#9ca3af"/>')
        for t in nice_ticks(0.0, self.t_end, 8):
            x = self.x(t)
            self.add(
                f'<line x1="{_f(x)}" y1="{_f(y)}" x2="{_f(x)}" y2="{_f(y + 4)}" stroke="#9ca3af"/>'
            )
            self.add(f'<text x="{_f(x)}" y="{_f(y + 15)}" text-anchor="middle">{t:g} s</text>')

    def svg(self, label: str) -> str:
        body = "".join(self.parts)
        return (
            f'<svg class="plot" viewBox="0 0 {W} {_f(self.height)}" role="img" '
            f'aria-label="{_e(label)}">{body}</svg>'
        )


def _timeline(view: HistoryView) -> str:
    lanes = max(1, len(view.lanes))
    lh = min(14.0, max(3.0, 240.0 / lanes))
    top = 38.0
    bottom = top + lanes * lh
    p = _Plot(view.t_end, bottom + 24)
    p.shade_faults(view, 0, bottom, labels=True)
    if len(view.ops) <= INDIVIDUAL_OPS_MAX:
        for sp in view.ops:
            x0 = p.x(sp.start)
            x1 = p.x(view.t_end if sp.end is None else sp.end)
            opacity = "1" if sp.kind == "write" else "0.45"
            what = (
                f"op {sp.index}: {sp.kind} {sp.key!r}"
                + (f" {sp.value!r}" if sp.kind == "write" else "")
                + f" → {sp.type}"
                + (
                    " (never completed)"
                    if sp.end is None
                    else f" in {(sp.end - sp.start) * 1000:.2f} ms"
                )
            )
            p.add(
                f'<rect x="{_f(x0)}" y="{_f(top + sp.lane * lh + 0.5)}" width="{_f(max(x1 - x0, 1.0))}" '
                f'height="{_f(max(lh - 1, 1.5))}" fill="{COLOURS.get(sp.type, COLOURS["info"])}" '
                f'fill-opacity="{opacity}"><title>{_e(what)}</title></rect>'
            )
    else:
        # One path per outcome, a rectangle per run of pixels: a few bytes per run.
        hh = _f(max(lh - 1, 1.5))
        runs: dict[int, list[str]] = {1: [], 2: [], 3: []}
        for lane, x0, x1, sev in raster_lanes(view.ops, lanes=lanes, t_end=view.t_end, width=PW):
            runs[sev].append(f"M{ML + x0} {_f(top + lane * lh + 0.5)}h{x1 - x0}v{hh}h-{x1 - x0}z")
        for sev, d in runs.items():
            if d:
                p.add(f'<path d="{"".join(d)}" fill="{SEVERITY_COLOURS[sev]}"/>')
    for lw in view.lost[:LOST_MARKS_MAX]:
        x = p.x(lw.completed)
        y = top + lw.lane * lh + lh / 2
        r = max(2.5, min(5.0, lh / 2))
        p.add(
            f'<path d="M{_f(x - r)} {_f(y - r)}L{_f(x + r)} {_f(y + r)}M{_f(x - r)} {_f(y + r)}'
            f'L{_f(x + r)} {_f(y - r)}" stroke="{LOST}" stroke-width="2">'
            f"<title>{_e(_lost_title(lw))}</title></path>"
        )
    if lh >= 8:
        for i, name in enumerate(view.lanes):
            p.add(
                f'<text x="{ML - 6}" y="{_f(top + i * lh + lh / 2 + 4)}" text-anchor="end">{_e(name)}</text>'
            )
    else:
        p.add(f'<text x="{ML - 6}" y="{_f((top + bottom) / 2)}" text-anchor="end">clients</text>')
    p.x_axis(bottom)
    return p.svg("timeline of client operations and fault windows")


def _lost_title(lw: Any) -> str:
    ops = "→".join(str(i) for i in lw.ops)
    return (
        f"LOST: write {lw.value!r} to {lw.key!r} (ops {ops}) acknowledged at "
        f"{lw.completed:.3f} s, missing from the final reads"
    )


def _log_axis(lo_ms: float, hi_ms: float) -> tuple[float, float]:
    lo = math.floor(math.log10(max(lo_ms, 1e-3)))
    hi = math.ceil(math.log10(max(hi_ms, 1e-3)))
    if hi <= lo:
        hi = lo + 1
    return float(lo), float(hi)


def _latency(view: HistoryView) -> str:
    top, h = 8.0, 200.0
    bottom = top + h
    p = _Plot(view.t_end, bottom + 24)
    p.shade_faults(view, top, bottom, labels=False)
    if not view.latencies:
        p.add(f'<text x="{ML + 8}" y="{_f(top + 20)}">no completed writes</text>')
        p.x_axis(bottom)
        return p.svg("write latency over time")
    values = [ms for _t, ms, _ty in view.latencies]
    lo, hi = _log_axis(min(values), max(values))

    def y(ms: float) -> float:
        v = math.log10(max(ms, 1e-3))
        return bottom - h * (v - lo) / (hi - lo)

    for k in range(int(lo), int(hi) + 1):
        yy = y(10.0**k)
        p.add(f'<line x1="{ML}" y1="{_f(yy)}" x2="{ML + PW}" y2="{_f(yy)}" stroke="#eef0f3"/>')
        label = f"{10.0**k:g} ms"
        p.add(f'<text x="{ML - 6}" y="{_f(yy + 4)}" text-anchor="end">{label}</text>')
    # Dots as zero-length round-capped segments, one path per outcome.
    dots: dict[str, list[str]] = {}
    for px, py, cat in thin_points(view.latencies, x=p.x, y=y, cell=2.0):
        dots.setdefault(cat, []).append(f"M{_f(px)} {_f(py)}h0")
    for cat in ("ok", "fail", "info"):
        if dots.get(cat):
            p.add(
                f'<path d="{"".join(dots[cat])}" stroke="{COLOURS[cat]}" stroke-width="3.2" '
                'stroke-linecap="round" fill="none"/>'
            )
    for lw in view.lost[:LOST_MARKS_MAX]:
        p.add(
            f'<circle cx="{_f(p.x(lw.completed))}" cy="{_f(y(lw.latency_ms))}" r="4.5" fill="none" '
            f'stroke="{LOST}" stroke-width="1.8"><title>{_e(_lost_title(lw))}</title></circle>'
        )
    p.x_axis(bottom)
    return p.svg("write latency over time (log scale)")


def _lag(view: HistoryView) -> str:
    top, h = 8.0, 160.0
    bottom = top + h
    p = _Plot(view.t_end, bottom + 24)
    p.shade_faults(view, top, bottom, labels=False)
    peak = max((ms for pts in view.lag.values() for _t, ms in pts), default=0)
    limit = view.lag_limit_ms
    y_max = max(float(peak), (limit + view.tolerance_ms) * 1.15 if limit is not None else 0.0, 1.0)
    ticks = nice_ticks(0.0, y_max, 4)
    y_max = max(y_max, ticks[-1])

    def y(ms: float) -> float:
        return bottom - h * ms / y_max

    for t in ticks:
        p.add(f'<line x1="{ML}" y1="{_f(y(t))}" x2="{ML + PW}" y2="{_f(y(t))}" stroke="#eef0f3"/>')
        p.add(f'<text x="{ML - 6}" y="{_f(y(t) + 4)}" text-anchor="end">{t:g} ms</text>')
    if limit is not None:
        # L is labelled below its line, L + ε above its own, so the two never overlap.
        lines = ((limit, "6 4", "L", 11.0), (limit + view.tolerance_ms, "2 3", "L + ε", -3.0))
        for value, dash, name, dy in lines:
            p.add(
                f'<line x1="{ML}" y1="{_f(y(value))}" x2="{ML + PW}" y2="{_f(y(value))}" '
                f'stroke="{LOST}" stroke-dasharray="{dash}"/>'
            )
            p.add(
                f'<text x="{ML + PW - 4}" y="{_f(y(value) + dy)}" text-anchor="end">'
                f"{_e(name)} = {value:g} ms</text>"
            )
    if not view.lag:
        p.add(f'<text x="{ML + 8}" y="{_f(top + 20)}">no lag observations</text>')
    for i, (node, pts) in enumerate(sorted(view.lag.items())):
        colour = NODE_COLOURS[i % len(NODE_COLOURS)]
        if len(pts) <= LAG_POINTS_MAX:
            coords = [(p.x(t), y(ms)) for t, ms in pts]
        else:
            env = column_envelope(pts, x=lambda t: p.x(t) - ML, width=PW)
            coords = [(ML + c + 0.5, y(hi)) for c, _lo, hi in env]
        if len(coords) > 1:
            path = " ".join(f"{_f(a)},{_f(b)}" for a, b in coords)
            p.add(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.4"/>')
        if len(pts) <= 400:
            for (cx, cy), (t, ms) in zip(coords, pts, strict=False):
                p.add(
                    f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="2" fill="{colour}">'
                    f"<title>{_e(node)}: {ms} ms at {t:.3f} s</title></circle>"
                )
    p.x_axis(bottom)
    return p.svg("durability lag reported by the nodes over time")


def _legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(
        f'<span><i class="sw" style="background:{c}"></i>{_e(t)}</span>' for c, t in items
    )
    return f'<div class="legend note">{spans}</div>'


# -- HTML sections -----------------------------------------------------------------------------


def _meta(result: RunResult) -> str:
    t = result.target
    topo = ", ".join(f"{n.name}@{n.az}" for n in result.topology.nodes) or "–"
    if result.topology.primary:
        topo += f" (primary {result.topology.primary})"
    items = [
        ("target", t.name),
        ("backend", t.backend),
        ("target file", t.file),
        ("seeded bug", t.bug),
        ("client", t.client),
        ("topology", topo),
        ("seed", result.seed),
        ("budget", None if result.budget_s is None else f"{result.budget_s:g} s"),
        ("started", result.started),
        ("finished", result.finished or "–"),
        ("duration", f"{result.duration_s:g} s"),
        ("complete", "yes" if result.complete else f"no — {stopped_how(result)}; partial results"),
        ("exit code", result.exit_code),
        ("ackbound", result.version),
        ("command", " ".join(result.argv) or "–"),
    ]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items if v is not None)
    return f'<dl class="meta">{rows}</dl>'


_FIGURE_COLUMNS = (
    "acknowledged",
    "lost",
    "loss window",
    "max lag",
    "rejected",
    "write p50",
    "write p99",
)


def _verdict_table(result: RunResult) -> str:
    head = "".join(
        f"<th{' class=num' if c not in ('mode', 'property', 'verdict', 'evidence') else ''}>{_e(c)}</th>"
        for c in ("mode", "property", "verdict", "evidence", *_FIGURE_COLUMNS)
    )
    body = []
    last_mode = None
    for row in all_rows(result):
        m = result.modes[row.mode]
        first = row.mode != last_mode
        last_mode = row.mode
        figs = key_figure_text(m) if first else dict.fromkeys(_FIGURE_COLUMNS, "")
        cells = "".join(f'<td class="num">{_e(figs[c])}</td>' for c in _FIGURE_COLUMNS)
        body.append(
            f"<tr{' class=mode-start' if first else ''}><td>{_e(row.mode) if first else ''}</td>"
            f'<td title="{_e(row.summary)}">{_e(row.name)}</td><td>{_v(row.valid)}</td>'
            f"<td>{_e(row.evidence)}</td>{cells}</tr>"
        )
    if not body:
        body.append('<tr><td colspan="11" class="note">no mode ran</td></tr>')
    return f'<table class="verdicts"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _params_text(m: ModeResult) -> str:
    prm = m.params
    if m.mode == "sync":
        k = prm.get("sync_replicas")
        to = prm.get("sync_timeout_s")
        return f"K = {k}, timeout {to:g} s" if k is not None and to is not None else "–"
    if m.mode == "async":
        lag = prm.get("lag_limit_s")
        return f"L = {lag:g} s" if lag is not None else "–"
    return "reply after the primary applies"


def _tradeoff_table(result: RunResult) -> str:
    cols = (
        ("mode", False),
        ("promise", False),
        ("write p50", True),
        ("write p99", True),
        ("write max", True),
        ("loss window", True),
        ("lost", True),
        ("acknowledged", True),
        ("rejected", True),
        ("indeterminate", True),
        ("attempted", True),
    )
    head = "".join(f"<th{' class=num' if num else ''}>{_e(c)}</th>" for c, num in cols)
    rows = []
    for m in result.modes.values():
        k = key_figures(m)
        cells = [
            f"<td><b>{_e(m.mode)}</b></td>",
            f"<td>{_e(_params_text(m))}</td>",
            *(
                f'<td class="num">{_e(v)}</td>'
                for v in (
                    fmt_ms(k["write_p50_ms"]),
                    fmt_ms(k["write_p99_ms"]),
                    fmt_ms(k["write_max_ms"]),
                    fmt_seconds(k["loss_window_s"]),
                    fmt_count(k["lost"]),
                    fmt_count(k["acknowledged"]),
                    fmt_count(k["rejected"]),
                    fmt_count(k["indeterminate"]),
                    fmt_count(k["attempted"]),
                )
            ),
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(cols)}" class="note">no mode ran</td></tr>')
    return (
        '<table class="tradeoff"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + '<p class="note">Write latency is pooled over every acknowledged write of every example; '
        "the loss window is the largest span of acknowledged writes one failover lost (any example); "
        "rejected writes were refused before being applied; indeterminate ones may or may not have "
        "been applied.</p>"
    )


def _violations(result: RunResult) -> str:
    parts = []
    for row in all_rows(result):
        if row.valid is not False:
            continue
        where = f" — example {row.example}" if row.example else ""
        parts.append(
            f'<h3 id="v-{_e(row.mode)}-{_e(row.name)}"><span class="v-violated">{_e(row.name)}</span> '
            f"violated in mode {_e(row.mode)}{_e(where)}</h3><pre>{_e(row.explanation)}</pre>"
        )
        if row.program:
            parts.append(f"<p>Paste to replay:</p><pre>{_e(row.program)}</pre>")
    if not parts:
        return ""
    return '<section id="violations"><h2>Violations</h2>' + "".join(parts) + "</section>"


def _examples_table(records: Sequence[ExampleRecord]) -> str:
    rows = []
    for r in records[:EXAMPLES_LISTED_MAX]:
        hist = f'<a href="{_e(r.history)}">{_e(r.history)}</a>' if r.history else "–"
        rows.append(
            f"<tr><td>{_e(r.id)}</td><td class=num>{r.steps}</td><td>{_v(r.valid)}</td>"
            f"<td>{_e(', '.join(r.violated) or (r.error or ''))}</td>"
            f"<td class=num>{r.duration_s:.3f} s</td><td>{hist}</td></tr>"
        )
    more = ""
    if len(records) > EXAMPLES_LISTED_MAX:
        more = (
            f'<p class="note">… and {len(records) - EXAMPLES_LISTED_MAX} more in results.json</p>'
        )
    return (
        f"<details><summary>{len(records)} example(s)</summary><table><thead><tr><th>example</th>"
        "<th class=num>steps</th><th>verdict</th><th>violated</th><th class=num>duration</th>"
        f"<th>history</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{more}</details>"
    )


def _lost_table(view: HistoryView) -> str:
    if not view.lost:
        return ""
    rows = "".join(
        f"<tr><td>{_e(lw.key)}</td><td>{_e(repr(lw.value))}</td><td class=num>{lw.invoked:.3f} s</td>"
        f"<td class=num>{lw.completed:.3f} s</td><td>{_e('→'.join(str(i) for i in lw.ops))}</td></tr>"
        for lw in view.lost[:LOST_LISTED_MAX]
    )
    more = (
        f'<p class="note">… and {len(view.lost) - LOST_LISTED_MAX} more</p>'
        if len(view.lost) > LOST_LISTED_MAX
        else ""
    )
    return (
        f"<h3>Lost writes ({len(view.lost)})</h3><table><thead><tr><th>key</th><th>value</th>"
        "<th class=num>invoked</th><th class=num>acknowledged</th><th>ops</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{more}"
    )


def _mode_section(
    m: ModeResult, view: HistoryView | str | None, example: str | None, path: str | None, why: str
) -> str:
    st = m.stats
    faults = ", ".join(f"{f} ×{n}" for f, n in sorted(m.faults_fired.items())) or "none"
    out = [
        f'<section id="mode-{_e(m.mode)}"><h2>Mode {_e(m.mode)}: {_v(m.valid)}</h2>',
        f"<p>{m.examples} example(s), {m.steps} steps, {m.duration_s:.3f} s; "
        f"{st.attempted} writes attempted, {st.acknowledged} acknowledged, {st.rejected} rejected, "
        f"{st.indeterminate} indeterminate, <b>{st.lost} lost</b>; faults fired: {_e(faults)}.</p>",
    ]
    if isinstance(view, HistoryView):
        link = f' — <a href="{_e(path)}">{_e(path)}</a>' if path else ""
        out.append(
            f"<p>Drawn: example <b>{_e(example)}</b> ({_e(why)}){link}, {view.op_count} ops, "
            f"{view.t_end:.3f} s.</p>"
        )
        for note in view.notes:
            out.append(f'<p class="note">{_e(note)}</p>')
        fault_legend = [
            ("#f59e0b", "fault op (invoke → completion)"),
            ("#fde68a", "a fault in force"),
            ("#64748b", "heal"),
        ]
        out.append("<h3>Timeline: client operations and faults</h3>")
        out.append(_timeline(view))
        out.append(
            _legend(
                [
                    (COLOURS["ok"], "ok (acknowledged)"),
                    (COLOURS["fail"], "fail (not applied)"),
                    (COLOURS["info"], "info (indeterminate)"),
                    (LOST, "✕ lost write"),
                    *fault_legend,
                ]
            )
        )
        out.append("<h3>Write latency over time</h3>")
        out.append(_latency(view))
        out.append(
            _legend(
                [
                    (COLOURS["ok"], "ok"),
                    (COLOURS["fail"], "fail"),
                    (COLOURS["info"], "info"),
                    (LOST, "○ lost write"),
                    *fault_legend,
                ]
            )
        )
        out.append("<h3>Durability lag over time</h3>")
        out.append(_lag(view))
        nodes = sorted(view.lag)
        out.append(
            _legend(
                [
                    (NODE_COLOURS[i % len(NODE_COLOURS)], f"lag reported by {n}")
                    for i, n in enumerate(nodes)
                ]
                + (
                    [(LOST, "limit L (dashed), L + ε (dotted)")]
                    if view.lag_limit_ms is not None
                    else []
                )
            )
        )
        out.append(_lost_table(view))
    elif isinstance(view, str):
        out.append(
            f'<p class="warn">The history of example {_e(example)} ({_e(path)}) could not be drawn: {_e(view)}</p>'
        )
    else:
        out.append(f'<p class="note">No plots: {_e(why)}.</p>')
    out.append(_examples_table(m.example_records))
    out.append("</section>")
    return "".join(out)


def report_html(
    result: RunResult,
    views: Mapping[str, HistoryView | str | None] | None = None,
    *,
    generated: str | None = None,
) -> str:
    """The whole page. ``views`` maps a mode to the drawn example's :class:`HistoryView`
    (or a one-line reason it could not be drawn); see :func:`featured_example`."""
    views = views or {}
    verdict = verdict_name(result.valid)
    banner = ""
    if (stopped := stopped_how(result)) is not None:
        banner = (
            f'<p class="warn">This run was {stopped}: the results below are what it had '
            "gathered.</p>"
        )
    if result.error:
        banner += f'<p class="warn">The run stopped with an error: {_e(result.error)}</p>'
    sections = []
    for name, m in result.modes.items():
        example, path, why = featured_example(m)
        sections.append(_mode_section(m, views.get(name), example, path, why))
    title = f"ackbound {result.target.name}: {verdict}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>ackbound conformance run — target {_e(result.target.name)}</h1>"
        f'<p>Verdict: <span class="badge v-{verdict}">{verdict}</span></p>{banner}{_meta(result)}</header>'
        f'<section id="verdicts"><h2>Verdicts</h2>{_verdict_table(result)}</section>'
        f'<section id="tradeoff"><h2>Durability / latency trade-off</h2>{_tradeoff_table(result)}</section>'
        f"{_violations(result)}{''.join(sections)}"
        f"<footer>Written by ackbound {_e(result.version)}"
        f"{' at ' + _e(generated) if generated else ''}. This page is self-contained: it loads "
        "nothing from the network. The data is in results.json; the histories are linked above."
        "</footer></body></html>\n"
    )
