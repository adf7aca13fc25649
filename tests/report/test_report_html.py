"""report.html: self-contained, well-formed, shows the verdicts and figures; fast at scale."""

from __future__ import annotations

import html
import re
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _report_fixtures import build_run, tiny_run
from _report_synth import synthetic_history

from harness.checker import check
from harness.report import RunResult, TargetInfo, history_view, report_html
from harness.report._plot import params_from_json
from harness.report._write import history_views

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
RESOURCE_ATTRS = {
    "src",
    "href",
    "xlink:href",
    "action",
    "formaction",
    "poster",
    "data",
    "srcset",
    "background",
}


class _Strict(HTMLParser):
    """Fails on unbalanced tags and on any reference to something outside the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: set[str] = set()

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            v = (value or "").strip().lower()
            if name in RESOURCE_ATTRS and (
                v.startswith(("http:", "https:", "//", "data:", "ftp:", "file:"))
            ):
                self.problems.append(f"<{tag} {name}={value!r}> loads something from outside")
            if name == "style" and "url(" in v:
                self.problems.append(f"<{tag} style> uses url()")
        if tag == "link":
            self.problems.append("a <link> element")
        if tag == "script" and any(n == "src" for n, _ in attrs):
            self.problems.append("a <script src>")
        if tag in ("img", "iframe", "object", "embed", "image", "use"):
            self.problems.append(f"an external-capable <{tag}>")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def assert_self_contained(page: str) -> _Strict:
    p = _Strict()
    p.feed(page)
    p.close()
    assert p.problems == []
    assert p.stack == [], f"unclosed: {p.stack}"
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", page)
    assert "@import" not in page and "url(" not in page
    assert not re.search(r"""<[^>]*\b(?:src|href)\s*=\s*["']?//""", page)
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):  # inline SVG is well-formed XML too
        ET.fromstring(svg)
    return p


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_report_is_self_contained_and_shows_verdicts_and_figures(run_dir: Path) -> None:
    result, histories = build_run(run_dir)
    page = report_html(result, history_views(run_dir, result, histories))
    parsed = assert_self_contained(page)
    assert "style" in parsed.tags and "svg" in parsed.tags and "script" not in parsed.tags
    text = _text(page)
    assert "Verdict:  violated" in text
    for m in result.modes.values():
        for name in m.properties:
            assert name in text
        assert f"Mode {m.mode}" in text
    # The verdict table's figures and the trade-off table.
    assert "Durability / latency trade-off" in text
    assert "K = 1, timeout 0.5 s" in text and "L = 1 s" in text
    sync_row = re.search(r"<tr><td><b>sync</b></td>(.*?)</tr>", page)
    assert sync_row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", sync_row.group(1))
    # promise, p50, p99, max, loss window, lost, acknowledged, rejected, indeterminate, attempted
    assert cells == [
        "K = 1, timeout 0.5 s",
        "2.00 ms",
        "4.00 ms",
        "4.00 ms",
        "0.000 s",
        "1",
        "3",
        "1",
        "1",
        "5",
    ]
    # The violation, explained, with the program to paste.
    assert "acked-writes-survive  violated in mode sync — example sync-1" in text
    assert "missing from the final reads" in text
    assert 'state.kill(node="primary")' in text
    # Plots for each mode, the lost write marked, and the limit line in async.
    assert text.count("Timeline: client operations and faults") == 3
    assert "LOST: write 'w1' to 'l' (ops 0→2) acknowledged at 0.002 s" in text
    assert "L = 1000 ms" in text and "L + ε = 1100 ms" in text
    assert "kill (op 5) 0.003 s – 0.003 s → ok" in text
    assert "failover (op 7) 0.004 s – 0.004 s → ok" in text
    # Secrets stay out.
    assert "hunter2" not in page and "--requirepass ***" in text


def test_an_unreadable_history_does_not_cost_the_page(run_dir: Path) -> None:
    result, _ = build_run(run_dir)
    (run_dir / "async" / "example-0.ndjson").write_text("{broken\n", encoding="utf-8")
    (run_dir / "none" / "example-0.ndjson").unlink()
    views = history_views(run_dir, result)  # read from disk this time
    page = report_html(result, views)
    assert_self_contained(page)
    text = _text(page)
    assert "could not be drawn" in text and "not valid JSON" in text and "no such file" in text
    assert text.count("Timeline: client operations and faults") == 1  # sync's still drawn


def test_an_interrupted_run_says_so() -> None:
    result = RunResult.begin(argv=["ackbound", "run"], target=TargetInfo(name="valkey"))
    result.finish(complete=False, error="interrupted (Ctrl-C)")
    page = report_html(result)
    assert_self_contained(page)
    text = _text(page)
    assert "This run was interrupted" in text and "interrupted (Ctrl-C)" in text
    assert "no mode ran" in text and "Verdict:  unknown" in text


def test_a_run_an_error_ended_is_not_called_interrupted() -> None:
    result = RunResult.begin(argv=["ackbound", "run"], target=TargetInfo(name="valkey"))
    result.finish(complete=False, error="the cluster broke in 3 examples in a row")
    text = _text(report_html(result))
    assert "This run was stopped early" in text and "no — stopped early; partial results" in text
    assert "interrupted" not in text


def test_control_characters_never_reach_the_page() -> None:
    result = RunResult.begin(argv=["ackbound", "run"], target=TargetInfo(name="valkey"))
    result.finish(complete=False, error="ERR from a server \x00\x1b[31m\x85 here")
    page = report_html(result)
    assert "ERR from a server \ufffd\ufffd[31m\ufffd here" in page
    assert not any(ch in page for ch in "\x00\x1b\x85")


def test_a_mode_without_histories_has_no_plots() -> None:
    page = report_html(tiny_run())
    assert_self_contained(page)
    assert "Drawn: example" not in page
    # tiny_run's records name histories that are not there: drawn as "could not" only when asked.
    assert "Mode sync" in _text(page)


def test_text_from_the_data_is_escaped() -> None:
    result = tiny_run()
    result.target.name = "<script>alert(1)</script>"
    fv = result.modes["sync"].properties["acked-writes-survive"].first_violation
    assert fv is not None
    fv.explanation = "value '<img src=//x>' lost"
    page = report_html(result)
    assert_self_contained(page)
    assert "<script>alert" not in page and "&lt;img src=//x&gt;" in page


def test_history_view_marks_exactly_the_writes_the_checker_lost() -> None:
    h = synthetic_history(ops=3000, seed=3)
    c = check(h, params_from_json("async", {}, h.header.params))
    view = history_view(h, "async", c["params"])
    assert len(view.lost) == c["stats"]["lost"] > 0
    assert view.lag_limit_ms == 1000 and view.tolerance_ms == 100
    assert [f.name for f in view.faults] == ["partition", "heal", "kill", "failover"]
    assert len(view.degraded) == 2  # the partition until the heal; the kill until the end
    assert len(view.latencies) == c["stats"]["attempted"]


@pytest.mark.parametrize("ops", [100_000])
def test_a_100k_op_history_renders_fast_and_small(ops: int) -> None:
    h = synthetic_history(ops=ops, seed=11)
    assert len(h.ops) >= ops
    t = time.perf_counter()
    view = history_view(h, "async", {"lag_limit_s": 1.0, "tolerance_s": 0.1, "recovery_s": 2.0})
    result = RunResult.begin(argv=[], target=TargetInfo(name="bundled"))
    result.mode("async").add_example(
        "a",
        check(h, params_from_json("async", {}, h.header.params)),
        steps=1,
        duration_s=1,
        history=h,
        history_path="a.ndjson",
    )
    result.finish()
    page = report_html(result, {"async": view})
    elapsed = time.perf_counter() - t
    assert elapsed < 30, f"rendering {ops} ops took {elapsed:.1f} s"
    assert len(page) < 2_000_000, f"report.html is {len(page)} bytes for {ops} ops"
    assert_self_contained(page)
    # Rasterised: ops are not drawn one by one (no per-op tooltips).
    assert page.count("<title>op ") == 0
