"""Reports: everything a conformance run leaves behind and prints, rendered from data.

A run builds a :class:`RunResult` (one :class:`ModeResult` per durability mode, folded in
example by example with ``ModeResult.add_example``) and calls :func:`write_reports`, which
writes into the run directory:

- ``results.json`` — the RunResult (schema ``ackbound-results/1``, docs/results.md);
- ``program.txt`` — the shrunk failing example as a pasteable program (:func:`render_program`);
- ``junit.xml`` — one testsuite per mode, one testcase per (mode, property);
- ``report.html`` — self-contained: verdicts, the durability/latency trade-off, and plots.

On the terminal, :class:`RunProgress` shows the run as it goes and
:func:`print_run_result` prints the verdict table. ``print_check_result`` prints the
verdict of one checked history (``ackbound check``).
"""

from harness.report._html import featured_example, report_html
from harness.report._junit import junit_xml
from harness.report._merge import (
    exit_code_for,
    merge_over_examples,
    merge_verdicts,
    percentile,
    verdict_from_counts,
    verdict_name,
)
from harness.report._model import (
    MODES,
    RESULTS_SCHEMA,
    ExampleRecord,
    Failure,
    FirstViolation,
    LatencySamples,
    ModeResult,
    ModeStats,
    Node,
    PropertySummary,
    RunResult,
    TargetInfo,
    Topology,
    ackbound_version,
    utc_now,
    write_latencies_ns,
)
from harness.report._plot import HistoryView, history_view
from harness.report._program import py_literal, render_program
from harness.report._progress import RunProgress
from harness.report._redact import REDACTED, redact_argv, redact_text
from harness.report._results import (
    REPLAY_OPTIONS,
    dump_results,
    load_results,
    newer_schema,
    results_json,
    validate_results,
)
from harness.report._table import (
    print_check_result,
    print_run_result,
    run_verdict_table,
    stdout_console,
    verdict_text,
)
from harness.report._view import PropertyRow, property_rows
from harness.report._write import ReportFiles, write_reports

__all__ = [
    "MODES",
    "REDACTED",
    "REPLAY_OPTIONS",
    "RESULTS_SCHEMA",
    "ExampleRecord",
    "Failure",
    "FirstViolation",
    "HistoryView",
    "LatencySamples",
    "ModeResult",
    "ModeStats",
    "Node",
    "PropertyRow",
    "PropertySummary",
    "ReportFiles",
    "RunProgress",
    "RunResult",
    "TargetInfo",
    "Topology",
    "ackbound_version",
    "dump_results",
    "exit_code_for",
    "featured_example",
    "history_view",
    "junit_xml",
    "load_results",
    "merge_over_examples",
    "merge_verdicts",
    "newer_schema",
    "percentile",
    "print_check_result",
    "print_run_result",
    "property_rows",
    "py_literal",
    "redact_argv",
    "redact_text",
    "render_program",
    "report_html",
    "results_json",
    "run_verdict_table",
    "stdout_console",
    "utc_now",
    "validate_results",
    "verdict_from_counts",
    "verdict_name",
    "verdict_text",
    "write_latencies_ns",
    "write_reports",
]
