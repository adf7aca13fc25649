"""write_reports: every file, in order, and a failure in one never costs the others."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _report_fixtures import build_run

import harness.report._write as write_mod
from harness.report import RunResult, dump_results, load_results, validate_results, write_reports


def test_writes_every_file(run_dir: Path) -> None:
    result, histories = build_run(run_dir)
    files = write_reports(run_dir, result, histories)
    assert files.ok and files.errors == {}
    assert list(files.written) == ["results.json", "program.txt", "junit.xml", "report.html"]
    assert validate_results(json.loads((run_dir / "results.json").read_text("utf-8"))) == []
    assert (run_dir / "program.txt").read_text("utf-8") == result.modes["sync"].failure.program  # type: ignore[union-attr]
    ET.parse(run_dir / "junit.xml")
    assert "<svg" in (run_dir / "report.html").read_text("utf-8")
    assert not list(run_dir.glob(".*.tmp"))


def test_histories_are_read_from_the_run_directory_when_not_given(run_dir: Path) -> None:
    result, _ = build_run(run_dir)
    write_reports(run_dir, result)
    page = (run_dir / "report.html").read_text("utf-8")
    assert page.count("Timeline: client operations and faults") == 3


def test_no_failure_no_program(run_dir: Path) -> None:
    result, histories = build_run(run_dir)
    result.modes["sync"].failure = None
    files = write_reports(run_dir, result, histories)
    assert "program.txt" not in files.written and not (run_dir / "program.txt").exists()


def test_copies_for_json_and_junit_flags(run_dir: Path, tmp_path: Path) -> None:
    result, histories = build_run(run_dir)
    files = write_reports(
        run_dir, result, histories, json_path=tmp_path / "out.json", junit_path=tmp_path / "j.xml"
    )
    assert (tmp_path / "out.json").read_text("utf-8") == (run_dir / "results.json").read_text(
        "utf-8"
    )
    assert (tmp_path / "j.xml").read_text("utf-8") == (run_dir / "junit.xml").read_text("utf-8")
    assert files.written[str(tmp_path / "out.json")] == tmp_path / "out.json"


def test_a_failing_html_never_loses_results(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, histories = build_run(run_dir)

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(write_mod, "report_html", broken)
    files = write_reports(run_dir, result, histories)
    assert files.errors == {"report.html": "RuntimeError: renderer exploded"}
    assert not (run_dir / "report.html").exists()
    assert load_results(run_dir).to_json() == result.to_json()
    assert (run_dir / "junit.xml").exists() and (run_dir / "program.txt").exists()


def test_results_come_first(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, histories = build_run(run_dir)
    order: list[str] = []
    real = write_mod._write_text

    def spy(path: Path, text: str) -> Path:
        order.append(path.name)
        return real(path, text)

    monkeypatch.setattr(write_mod, "_write_text", spy)
    real_dump = dump_results

    def dump_spy(r: RunResult, p: Path) -> Path:
        order.append(Path(p).name)
        return real_dump(r, p)

    monkeypatch.setattr(write_mod, "dump_results", dump_spy)
    write_reports(run_dir, result, histories)
    assert order == ["results.json", "program.txt", "junit.xml", "report.html"]


def test_an_unwritable_place_is_reported_not_raised(tmp_path: Path) -> None:
    result, _ = build_run(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    files = write_reports(blocker / "run", result)
    assert not files.ok
    assert "results.json" in files.errors and "report.html" in files.errors
    assert str(blocker / "run") in files.errors  # the directory itself


def test_an_interrupted_run_still_writes_everything(run_dir: Path) -> None:
    result, histories = build_run(run_dir)
    result.finish(
        complete=False, error="interrupted (Ctrl-C); the reports hold what was gathered so far"
    )
    files = write_reports(run_dir, result, histories)
    assert files.ok
    doc = json.loads((run_dir / "results.json").read_text("utf-8"))
    assert doc["complete"] is False and doc["valid"] is False
    assert "This run was interrupted" in (run_dir / "report.html").read_text("utf-8")
