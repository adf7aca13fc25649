"""junit.xml: one testsuite per mode, one testcase per (mode, property).

Written in the subset of the JUnit XML format that GitLab, GitHub test reporters and
Jenkins all read: ``<testsuites>`` → ``<testsuite>`` (with ``<properties>`` carrying the
mode's figures) → ``<testcase classname name time>`` holding at most one of
``<failure>`` (violated), ``<error>`` (the property's check crashed) or ``<skipped>``
(unknown: no evidence), then ``<system-out>``. Properties on testcases are avoided: the
strict schema (xunit2) does not allow them, nor a ``skipped`` count on ``<testsuites>``.

A run that did not complete (Ctrl-C, or an error that ended it) adds a suite
``ackbound.run`` whose one testcase, ``run``, holds an ``<error>`` saying why: the verdicts
of the properties are then partial, and a CI reader must not see only passes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from harness.report._merge import verdict_name
from harness.report._model import ModeResult, RunResult
from harness.report._view import PropertyRow, key_figures, property_rows, stopped_how

__all__ = ["junit_xml"]


# Characters XML 1.0 forbids (control characters a server's error text may carry).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _attr(v: Any) -> str:
    if v is None:
        return ""
    if v is True or v is False:
        return "true" if v else "false"
    return _safe(str(v))


def _timestamp(iso: str) -> str:
    # JUnit's timestamp is xs:dateTime without a zone: 2024-05-01T12:00:00
    return iso.replace("Z", "").split(".")[0].split("+")[0]


def _suite_properties(result: RunResult, m: ModeResult) -> list[tuple[str, Any]]:
    props: list[tuple[str, Any]] = [
        ("target", result.target.name),
        ("backend", result.target.backend),
        ("bug", result.target.bug),
        ("client", result.target.client),
        ("seed", result.seed),
        ("mode", m.mode),
        ("verdict", verdict_name(m.valid)),
        ("complete", result.complete),
    ]
    props += list(key_figures(m).items())
    for k, v in m.params.items():
        props.append((f"param.{k}", v))
    props.append(("faults_fired", " ".join(f"{f}={n}" for f, n in sorted(m.faults_fired.items()))))
    if m.failure is not None:
        props += [
            ("failure.example", m.failure.example),
            ("failure.shrunk", m.failure.shrunk),
            ("failure.flaky", m.failure.flaky),
            ("failure.history", m.failure.history),
        ]
    return [(k, v) for k, v in props if v is not None]


def _case_body(row: PropertyRow, m: ModeResult) -> str:
    parts = [row.explanation or f"{row.name}: violated"]
    if row.example is not None:
        shrunk = ""
        if m.failure is not None and row.example == m.failure.example:
            shrunk = " (shrunk)" if m.failure.shrunk else " (not shrunk)"
            if m.failure.flaky:
                shrunk += ", flaky: it passed when replayed"
        parts.append(f"example: {row.example}{shrunk}")
        if m.failure is not None and row.example == m.failure.example and m.failure.history:
            parts.append(f"history: {m.failure.history}")
    if row.program:
        parts.append("program (paste to replay):\n" + row.program.rstrip("\n"))
    return "\n\n".join(parts) + "\n"


def junit_xml(result: RunResult) -> str:
    """The junit.xml text for ``result`` (UTF-8, with the XML declaration)."""
    root = ET.Element("testsuites", {"name": "ackbound"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for m in result.modes.values():
        rows = property_rows(m)
        counts = {
            "tests": len(rows),
            "failures": sum(1 for r in rows if r.valid is False),
            "errors": sum(1 for r in rows if r.valid not in (True, False) and r.error),
            "skipped": sum(1 for r in rows if r.valid not in (True, False) and not r.error),
        }
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": f"ackbound.{m.mode}",
                **{k: str(v) for k, v in counts.items()},
                "time": f"{m.duration_s:.3f}",
                "timestamp": _timestamp(result.started),
            },
        )
        props = ET.SubElement(suite, "properties")
        for k, v in _suite_properties(result, m):
            ET.SubElement(props, "property", {"name": k, "value": _attr(v)})
        for row in rows:
            case = ET.SubElement(
                suite,
                "testcase",
                {"classname": f"ackbound.{m.mode}", "name": row.name, "time": "0"},
            )
            if row.valid is False:
                where = f" (example {row.example})" if row.example else ""
                el = ET.SubElement(
                    case,
                    "failure",
                    {
                        "message": _safe(f"{row.name} violated in mode {m.mode}{where}"),
                        "type": "violated",
                    },
                )
                el.text = _safe(_case_body(row, m))
            elif row.valid is not True and row.error:
                el = ET.SubElement(
                    case,
                    "error",
                    {
                        "message": _safe(f"the check of {row.name} failed: {row.error}"),
                        "type": "check-error",
                    },
                )
                el.text = _safe(row.explanation + "\n")
            elif row.valid is not True:
                ET.SubElement(case, "skipped", {"message": "no evidence"})
            out = ET.SubElement(case, "system-out")
            about = f" ({row.summary})" if row.summary else ""
            out.text = _safe(f"{row.name}{about}: {row.verdict}; examples {row.evidence}\n")
        for k in totals:
            totals[k] += counts[k]
        total_time += m.duration_s
    stopped = stopped_how(result)
    if stopped is not None:
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": "ackbound.run",
                "tests": "1",
                "failures": "0",
                "errors": "1",
                "skipped": "0",
                "time": "0.000",
                "timestamp": _timestamp(result.started),
            },
        )
        case = ET.SubElement(suite, "testcase", {"classname": "ackbound.run", "name": "run"})
        why = result.error or "interrupted"
        el = ET.SubElement(
            case,
            "error",
            {"message": _safe(f"the run {stopped}: {why}"), "type": stopped.replace(" ", "-")},
        )
        el.text = _safe(
            f"The run {stopped} (exit code {result.exit_code}): {why}\nThe verdicts of the "
            "other testcases are what it had gathered by then.\n"
        )
        totals["tests"] += 1
        totals["errors"] += 1
    for k, v in totals.items():
        if k != "skipped":  # a count per suite only (junit-10.xsd)
            root.set(k, str(v))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
