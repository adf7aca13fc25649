"""results.json: what the validator accepts, what it refuses (and says so), load and dump."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _report_fixtures import build_run, tiny_run

from harness._errors import AckboundError
from harness.report import (
    RESULTS_SCHEMA,
    dump_results,
    load_results,
    results_json,
    validate_results,
)


@pytest.fixture
def doc(run_dir: Path) -> dict[str, Any]:
    result, _ = build_run(run_dir)
    out: dict[str, Any] = json.loads(results_json(result))
    return out


def test_a_run_writes_a_valid_document(doc: dict[str, Any]) -> None:
    assert validate_results(doc) == []
    assert doc["schema"] == RESULTS_SCHEMA == "ackbound-results/1"
    assert list(doc["modes"]) == ["sync", "async", "none"]
    assert doc["valid"] is False and doc["exit_code"] == 1


def test_the_tiny_run_is_valid() -> None:
    assert validate_results(tiny_run().to_json()) == []


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        for p in parents:
            d = d[int(p)] if isinstance(d, list) else d[p]
        d[last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        for p in parents:
            d = d[p]
        del d[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_delete("seed"), "$: missing the field 'seed' (an integer or null)"),
        (_set("seed", "42"), '$.seed: expected an integer or null; got "42"'),
        (_set("schema", "results"), '$.schema: expected "ackbound-results/1"; got "results"'),
        (_set("schema", "ackbound-results/2"), "$.schema: ackbound-results/2 is newer than this"),
        (_set("started", "2024-05-01 12:00"), "$.started: expected an ISO 8601 UTC time"),
        (_set("started", "2024-05-01T12:00:00+02:00"), "$.started: expected an ISO 8601 UTC time"),
        (_set("complete", "yes"), '$.complete: expected true or false; got "yes"'),
        (_set("argv", ["run", 3]), "$.argv: expected a list of strings"),
        (_set("valid", "maybe"), '$.valid: expected true, false or "unknown"; got "maybe"'),
        (_set("exit_code", -1), "$.exit_code: expected a non-negative integer; got -1"),
        (_set("extra", 1), "$: unknown field(s) ['extra']; see docs/results.md"),
        (_set("target/name", None), "$.target.name: expected a string; got null"),
        (_set("topology/nodes", [{"name": "n1"}]), "$.topology.nodes[0]: missing the field 'az'"),
        (_set("modes/fast", {}), "$.modes.fast: a mode is none, sync or async"),
        (
            _set("modes/sync/mode", "async"),
            "$.modes.sync.mode: is 'async' but the mode is filed under 'sync'",
        ),
        (
            _set("modes/sync/examples", 5),
            "$.modes.sync.example_records: has 2 records for 5 examples",
        ),
        (
            _set("modes/sync/faults_fired/kill", -1),
            "$.modes.sync.faults_fired.kill: expected a non-negative integer",
        ),
        (
            _set("modes/sync/stats/lost", 1.5),
            "$.modes.sync.stats.lost: expected a non-negative integer; got 1.5",
        ),
        (
            _set("modes/sync/stats/loss_window_s", float("nan")),
            "$.modes.sync.stats.loss_window_s: expected a non-negative number",
        ),
        (
            _set("modes/sync/stats/write_latency_ms/p50", "1ms"),
            "$.modes.sync.stats.write_latency_ms.p50",
        ),
        (
            _set("modes/sync/failure/steps", [{"rule": "write"}]),
            "$.modes.sync.failure.steps[0]: missing the field 'args'",
        ),
        (_set("modes/sync/failure/steps", 5), "$.modes.sync.failure.steps: expected a list"),
        (_set("modes/sync/failure/steps", True), "$.modes.sync.failure.steps: expected a list"),
        (
            _set("modes/sync/failure/shrunk", None),
            "$.modes.sync.failure.shrunk: expected true or false",
        ),
        (
            _set("modes/sync/example_records/0/violated", "no-holes"),
            "$.modes.sync.example_records[0].violated",
        ),
        # The arithmetic between verdicts.
        (
            _set("modes/sync/properties/no-holes/valid", "unknown"),
            '$.modes.sync.properties.no-holes.valid: is "unknown" but its counts give true',
        ),
        (
            _set("modes/sync/properties/no-holes/examples_violated", 1),
            "$.modes.sync.properties.no-holes.valid: is true but its counts give false",
        ),
        (
            _set("modes/sync/properties/no-holes/examples_violated", 3),
            "examples_violated (3) exceeds examples_with_evidence (2)",
        ),
        (
            _set("modes/sync/properties/no-holes/examples_with_evidence", 9),
            "counts 9 examples judged or errored of 2",
        ),
        (
            _set("modes/sync/properties/acked-writes-survive/first_violation", None),
            "first_violation: is null although an example violated",
        ),
        (
            _set("modes/none/valid", False),
            "$.modes.none.valid: is false but its properties merge to",
        ),
        (_set("valid", True), "$.valid: is true but its modes merge to false"),
    ],
)
def test_invalid_documents_are_refused_with_a_path(
    doc: dict[str, Any], mutate: Callable[[dict[str, Any]], None], problem: str
) -> None:
    bad = copy.deepcopy(doc)
    mutate(bad)
    problems = validate_results(bad)
    assert any(problem in p for p in problems), problems


def test_not_an_object() -> None:
    assert validate_results([]) == ["$: expected an object; got a list"]


def test_unknown_fields_pass_when_not_strict(doc: dict[str, Any]) -> None:
    doc["added_in_1_1"] = {"x": 1}
    doc["modes"]["sync"]["added"] = 1
    assert validate_results(doc, strict=False) == []
    assert validate_results(doc) != []


def test_an_incomplete_run_claiming_valid_is_refused(doc: dict[str, Any]) -> None:
    for m in doc["modes"].values():
        m["valid"] = True
        m["failure"] = None
        for p in m["properties"].values():
            p.update(
                valid=True, examples_with_evidence=1, examples_violated=0, first_violation=None
            )
    doc["complete"] = False
    doc["valid"] = True
    assert validate_results(doc) == ['$.valid: is true but its modes merge to "unknown"']
    doc["valid"] = "unknown"
    assert validate_results(doc) == []


def test_dump_and_load(run_dir: Path) -> None:
    result, _ = build_run(run_dir)
    path = dump_results(result, run_dir / "results.json")
    assert not list(run_dir.glob(".*.tmp"))
    assert path.read_text(encoding="utf-8").endswith("}\n")
    again = load_results(run_dir)  # a run directory works as well as the file
    assert again.to_json() == result.to_json()
    assert again.modes["sync"].stats.write_latency.summary() == (
        result.modes["sync"].stats.write_latency.summary()
    )


def test_a_path_that_is_not_utf8_is_kept_not_lost(run_dir: Path) -> None:
    """A report directory or target file whose name has bytes that are not UTF-8 (Python
    keeps them as lone surrogates) must not cost the run its results.json."""
    result, _ = build_run(run_dir)
    result.argv = [*result.argv, "--report-dir", "rd\udcff"]
    dump_results(result, run_dir / "results.json")
    assert load_results(run_dir).argv[-1] == "rd\udcff"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file; pass a run directory or its results.json"),
        ("{not json", "not valid JSON"),
        ('{"schema": "ackbound-results/1"}', "not a valid results document: $: missing the field"),
    ],
)
def test_load_errors_are_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(AckboundError) as info:
        load_results(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
