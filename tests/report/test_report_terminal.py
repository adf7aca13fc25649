"""The terminal: the verdict table and the end-of-run text (exact), and the progress display."""

from __future__ import annotations

import io
from pathlib import Path

from _report_fixtures import build_run, tiny_run
from rich.console import Console

from harness.report import RunProgress, print_run_result, run_verdict_table


def _console() -> Console:
    return Console(record=True, width=120, color_system=None, file=io.StringIO())


def _lines(con: Console) -> list[str]:
    return [line.rstrip() for line in con.export_text().splitlines()]


TABLE = [
    "ackbound run — target bundled, seed 7",
    "",
    "                                                                    loss  max lag             write   write",
    " mode  property                  verdict   judged  acked  lost  window s       ms  rejected  p50 ms  p99 ms",
    " ──────────────────────────────────────────────────────────────────────────────────────────────────────────",
    " sync  acked-writes-survive      violated     3/3      8     1     0.250      120         1    2.00    40.0",
    "       no-holes                  valid        2/3",
    "       writes-resume-after-heal  unknown      0/3",
    "",
]


def test_verdict_table_exact() -> None:
    con = _console()
    con.print(run_verdict_table(tiny_run()))
    assert _lines(con) == TABLE


def test_end_of_run_text_exact() -> None:
    con = _console()
    print_run_result(
        tiny_run(),
        console=con,
        files={"report.html": "RUN/report.html", "results.json": "RUN/results.json"},
        errors={"junit.xml": "No space left on device"},
    )
    assert _lines(con) == [
        *TABLE,
        "1 mode(s), 3 example(s) in 10 s",
        "",
        "✗ sync · acked-writes-survive violated in 1 of 3 example(s); shown: example sync-2",
        "w1 was lost",
        "",
        "? sync · writes-resume-after-heal: unknown — no example gave evidence either way",
        "",
        "reports:",
        "  report.html: RUN/report.html",
        "  results.json: RUN/results.json",
        "could not write junit.xml: No space left on device",
        "verdict: violated (exit 1)",
    ]


def test_examples_that_could_not_be_judged_are_counted_and_the_first_named() -> None:
    result = tiny_run()
    records = result.modes["sync"].example_records
    for rec, why in zip(
        records[:2], ("ClusterError: node n2 stopped", "reset: timeout"), strict=True
    ):
        rec.error, rec.valid = why, "unknown"
    con = _console()
    print_run_result(result, console=con)
    lines = _lines(con)
    at = lines.index(
        "? sync · writes-resume-after-heal: unknown — no example gave evidence either way"
    )
    assert lines[at + 1 : at + 3] == [
        "",
        "! sync · 2 of 3 example(s) could not be judged; the first, sync-0: ClusterError: node "
        "n2 stopped",
    ]


def test_end_of_run_of_a_real_run(run_dir: Path) -> None:
    result, _ = build_run(run_dir)
    (run_dir / "report.html").write_text("x", encoding="utf-8")
    con = _console()
    print_run_result(result, console=con, run_dir=run_dir)
    text = con.export_text()
    # One row per (mode, property), the mode's figures on its first row.
    for m in result.modes.values():
        for name in m.properties:
            assert name in text
    sync_first = next(line for line in text.splitlines() if line.startswith(" sync "))
    assert sync_first.split() == [
        "sync",
        "acked-writes-survive",
        "violated",
        "2/2",
        "3",
        "1",
        "0.000",
        "300",
        "1",
        "2.00",
        "4.00",
    ]
    none_first = next(line for line in text.splitlines() if line.startswith(" none "))
    assert none_first.split() == [
        "none",
        "no-holes",
        "valid",
        "1/1",
        "3",
        "0",
        "0.000",
        "–",
        "0",
        "1.00",
        "1.00",
    ]
    # The violation explained, with the program to paste; files found in the run dir.
    assert (
        "✗ sync · acked-writes-survive violated in 1 of 2 example(s); shown: example sync-1" in text
    )
    assert "missing from the final reads" in text
    assert 'state.kill(node="primary")' in text
    assert f"  report.html: {run_dir / 'report.html'}" in text
    assert "results.json" not in text.split("reports:")[1]  # not written in this test
    assert text.rstrip().endswith("verdict: violated (exit 1)")


def test_an_interrupted_run_says_so() -> None:
    result = tiny_run()
    result.finish(complete=False, error="interrupted (Ctrl-C)", finished="2024-05-01T12:00:03.000Z")
    con = _console()
    print_run_result(result, console=con)
    text = con.export_text()
    assert "interrupted: these are the results gathered so far" in text
    assert "error: interrupted (Ctrl-C)" in text


def test_a_run_an_error_ended_does_not_say_it_was_interrupted() -> None:
    """Nobody pressed Ctrl-C: the cluster broke, and the error line says so."""
    result = tiny_run()
    error = "the cluster broke in 3 examples in a row (last: kill: FaultError: ...)"
    result.finish(complete=False, error=error, finished="2024-05-01T12:00:03.000Z")
    con = _console()
    print_run_result(result, console=con)
    text = con.export_text()
    assert "stopped early: these are the results gathered so far" in text
    assert "interrupted" not in text
    assert f"error: {error}" in text


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_progress_prints_plain_lines_off_a_terminal() -> None:
    out = io.StringIO()
    clock = Clock()
    con = Console(file=out, width=200, color_system=None)
    p = RunProgress(con, budget_s=60, modes=["none", "sync", "async"], interval_s=5, clock=clock)
    assert p.plain  # a StringIO is no terminal
    p.start()
    p.update(mode="sync", mode_index=1, examples=0, steps=0, faults=0, violations=0)
    clock.t += 1
    p.update(examples=1, steps=12)  # nothing salient, interval not due: no line
    clock.t += 1
    p.update(violations=1, faults={"kill": 3, "partition": 1})  # a violation: printed at once
    clock.t += 10
    p.update(steps=40)  # interval due
    p.stop()
    p.stop()  # twice is harmless
    assert out.getvalue().splitlines() == [
        "ackbound run: started",
        "[0.0 s / 60 s] mode sync (2/3) · examples 0 · steps 0 · faults 0 · violations 0",
        "[2.0 s / 60 s] mode sync (2/3) · examples 1 · steps 12 · faults 4 (kill×3 partition×1) · violations 1",
        "[12.0 s / 60 s] mode sync (2/3) · examples 1 · steps 40 · faults 4 (kill×3 partition×1) · violations 1",
        "[12.0 s / 60 s] mode sync (2/3) · examples 1 · steps 40 · faults 4 (kill×3 partition×1) · violations 1",
    ]


def test_progress_disabled_prints_nothing() -> None:
    out = io.StringIO()
    with RunProgress(Console(file=out), enabled=False) as p:
        p.update(mode="sync", violations=2)
    assert out.getvalue() == ""


def test_progress_on_a_terminal_draws_live_and_leaves_the_last_line() -> None:
    out = io.StringIO()
    con = Console(file=out, force_terminal=True, width=120, color_system=None)
    clock = Clock()
    p = RunProgress(con, budget_s=30, clock=clock)
    assert not p.plain
    p.start()
    p.update(mode="async", examples=3, steps=7, violations=0, phase="shrinking")
    clock.t += 3
    p.update(violations=1)
    p.stop()
    assert (
        "[3.0 s / 30 s] mode async · phase shrinking · examples 3 · steps 7 · violations 1"
        in out.getvalue()
    )


def test_long_lines_are_never_wrapped_in_logs(run_dir: Path) -> None:
    result, _ = build_run(run_dir)
    fv = result.modes["sync"].failure
    assert fv is not None
    fv.program = fv.program.replace("seed=42", "seed=42, " + "x" * 200 + "=1")
    out = io.StringIO()
    print_run_result(result, console=Console(file=out, width=80, color_system=None))
    assert any(line.endswith("=1)") and len(line) > 200 for line in out.getvalue().splitlines())
    out = io.StringIO()
    p = RunProgress(Console(file=out, width=40), clock=Clock())
    p.start()
    p.update(mode="sync", examples=10, steps=100, faults=20, violations=0)
    p.stop()
    assert out.getvalue().splitlines()[1] == (
        "[0.0 s] mode sync · examples 10 · steps 100 · faults 20 · violations 0"
    )
