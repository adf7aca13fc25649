"""junit.xml: exact output, structure, and the conventions CI parsers rely on."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _report_fixtures import build_run, tiny_run

from harness.report import junit_xml

EXPECTED = """\
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="ackbound" tests="3" failures="1" errors="0" time="1.500">
  <testsuite name="ackbound.sync" tests="3" failures="1" errors="0" skipped="1" time="1.500" timestamp="2024-05-01T12:00:00">
    <properties>
      <property name="target" value="bundled" />
      <property name="backend" value="local" />
      <property name="seed" value="7" />
      <property name="mode" value="sync" />
      <property name="verdict" value="violated" />
      <property name="complete" value="true" />
      <property name="examples" value="3" />
      <property name="steps" value="12" />
      <property name="attempted" value="10" />
      <property name="acknowledged" value="8" />
      <property name="lost" value="1" />
      <property name="loss_window_s" value="0.25" />
      <property name="max_lag_ms" value="120" />
      <property name="rejected" value="1" />
      <property name="indeterminate" value="1" />
      <property name="write_p50_ms" value="2.0" />
      <property name="write_p99_ms" value="40.0" />
      <property name="write_max_ms" value="40.0" />
      <property name="write_count" value="3" />
      <property name="param.sync_replicas" value="1" />
      <property name="param.sync_timeout_s" value="0.5" />
      <property name="faults_fired" value="kill=2" />
    </properties>
    <testcase classname="ackbound.sync" name="acked-writes-survive" time="0">
      <failure message="acked-writes-survive violated in mode sync (example sync-2)" type="violated">w1 was lost

example: sync-2
</failure>
      <system-out>acked-writes-survive (every acknowledged write survives): violated; examples judged 3/3, violated 1
</system-out>
    </testcase>
    <testcase classname="ackbound.sync" name="no-holes" time="0">
      <system-out>no-holes (no holes): valid; examples judged 2/3
</system-out>
    </testcase>
    <testcase classname="ackbound.sync" name="writes-resume-after-heal" time="0">
      <skipped message="no evidence" />
      <system-out>writes-resume-after-heal (writes resume): unknown; examples judged 0/3
</system-out>
    </testcase>
  </testsuite>
</testsuites>
"""


def test_junit_exact() -> None:
    assert junit_xml(tiny_run()) == EXPECTED


# The JUnit XML subset that GitLab, GitHub test reporters and Jenkins (junit-10.xsd) accept:
# element -> (allowed attributes, allowed children).
SCHEMA: dict[str, tuple[set[str], set[str]]] = {
    "testsuites": (
        {"name", "tests", "failures", "errors", "disabled", "time"},
        {"testsuite"},
    ),
    "testsuite": (
        {
            "name",
            "tests",
            "failures",
            "errors",
            "skipped",
            "disabled",
            "time",
            "timestamp",
            "hostname",
            "id",
            "package",
        },
        {"properties", "testcase", "system-out", "system-err"},
    ),
    "properties": (set(), {"property"}),
    "property": ({"name", "value"}, set()),
    "testcase": (
        {"name", "classname", "time", "assertions", "status"},
        {"skipped", "error", "failure", "system-out", "system-err"},
    ),
    "failure": ({"message", "type"}, set()),
    "error": ({"message", "type"}, set()),
    "skipped": ({"message"}, set()),
    "system-out": (set(), set()),
    "system-err": (set(), set()),
}


def _conforms(el: ET.Element, path: str = "") -> list[str]:
    here = f"{path}/{el.tag}"
    if el.tag not in SCHEMA:
        return [f"{here}: unknown element"]
    attrs, children = SCHEMA[el.tag]
    bad = [f"{here}: attribute {a}" for a in el.attrib if a not in attrs]
    bad += [f"{here}: child {c.tag}" for c in el if c.tag not in children]
    if el.tag == "testcase":
        outcomes = [c.tag for c in el if c.tag in ("skipped", "error", "failure")]
        if len(outcomes) > 1:
            bad.append(f"{here}: more than one outcome {outcomes}")
    for c in el:
        bad += _conforms(c, here)
    return bad


def test_junit_of_a_real_run_conforms_and_counts(run_dir: Path) -> None:
    result, _ = build_run(run_dir)
    root = ET.fromstring(junit_xml(result).encode("utf-8"))
    assert _conforms(root) == []
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["ackbound.sync", "ackbound.async", "ackbound.none"]
    for suite, mode in zip(suites, result.modes.values(), strict=True):
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == list(mode.properties)
        assert {c.get("classname") for c in cases} == {suite.get("name")}
        for attr, tag in (("failures", "failure"), ("skipped", "skipped"), ("errors", "error")):
            assert int(suite.get(attr, "-1")) == sum(1 for c in cases if c.find(tag) is not None)
        assert int(suite.get("tests", "-1")) == len(cases)
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["mode"] == mode.mode
        assert props["acknowledged"] == str(mode.stats.acknowledged)
    for attr in ("tests", "failures", "errors"):
        assert int(root.get(attr, "-1")) == sum(int(s.get(attr, "0")) for s in suites)
    failure = root.find(
        "testsuite[@name='ackbound.sync']/testcase[@name='acked-writes-survive']/failure"
    )
    assert failure is not None and failure.text is not None
    assert failure.get("message") == "acked-writes-survive violated in mode sync (example sync-1)"
    assert "VIOLATED" in failure.text and "missing from the final reads" in failure.text
    assert "example: sync-1 (shrunk)" in failure.text
    assert "history: sync/example-1.ndjson" in failure.text
    assert 'state.kill(node="primary")' in failure.text  # the shrunk program
    skipped = root.find(
        "testsuite[@name='ackbound.sync']/testcase[@name='writes-resume-after-heal']/skipped"
    )
    assert skipped is not None and skipped.get("message") == "no evidence"


def test_a_crashed_check_is_an_error_not_a_skip() -> None:
    result = tiny_run()
    p = result.modes["sync"].properties["writes-resume-after-heal"]
    p.examples_errored, p.error = 1, "ZeroDivisionError: division by zero"
    root = ET.fromstring(junit_xml(result))
    case = root.find(".//testcase[@name='writes-resume-after-heal']")
    assert case is not None and case.find("skipped") is None
    err = case.find("error")
    assert err is not None
    assert err.get("message") == (
        "the check of writes-resume-after-heal failed: ZeroDivisionError: division by zero"
    )
    assert root.get("errors") == "1"


def test_control_characters_never_make_invalid_xml() -> None:
    result = tiny_run()
    fv = result.modes["sync"].properties["acked-writes-survive"].first_violation
    assert fv is not None
    fv.explanation = "error text \x00\x1b[31m from a server"
    root = ET.fromstring(junit_xml(result))
    failure = root.find(".//failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith("error text \ufffd\ufffd[31m from a server")


@pytest.mark.parametrize(
    ("error", "exit_code", "stopped"),
    [
        ("interrupted (Ctrl-C); the reports hold what was gathered so far", 130, "interrupted"),
        ("the cluster broke in 3 examples in a row: node n1 exited", 2, "stopped early"),
    ],
)
def test_a_run_that_did_not_complete_is_an_error_not_all_passes(
    error: str, exit_code: int, stopped: str
) -> None:
    """Partial verdicts must not read as a passing build: the run itself is an error."""
    result = tiny_run()
    result.modes["sync"].properties["acked-writes-survive"].valid = True
    result.finish(complete=False, error=error, exit_code=exit_code)
    root = ET.fromstring(junit_xml(result))
    assert _conforms(root) == []
    case = root.find("testsuite[@name='ackbound.run']/testcase[@name='run']")
    assert case is not None
    err = case.find("error")
    assert err is not None and err.get("type") == stopped.replace(" ", "-")
    assert err.get("message") == f"the run {stopped}: {error}"
    assert (root.get("tests"), root.get("errors")) == ("4", "1")
    complete = tiny_run()
    complete.finish()
    assert ET.fromstring(junit_xml(complete)).find("testsuite[@name='ackbound.run']") is None


def test_no_modes_is_still_a_document() -> None:
    result = tiny_run()
    result.modes.clear()
    root = ET.fromstring(junit_xml(result))
    assert (root.tag, root.get("tests"), list(root)) == ("testsuites", "0", [])
