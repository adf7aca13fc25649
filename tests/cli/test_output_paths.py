"""Where ``run``, ``selftest`` and ``matrix`` will write is checked before they start: a bad
path is one line and exit 3 at once, not a traceback (or a lost verdict) after the work."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest


def ackbound(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


# (command, flag and value, expected error after "ackbound: error: "); "afile" is a file.
CASES = [
    (["run"], ["--json", "no/dir/r.json"], "cannot write --json no/dir/r.json: no/dir does not exist; create it first"),
    (["run"], ["--junit", "afile/j.xml"], "cannot write --junit afile/j.xml: afile is not a directory; create it first"),
    (["run"], ["--json", "."], "--json . is a directory; pass the path of a file (one in it, say)"),
    (["run"], ["--report-dir", "rd", "--junit", "rd/results.json"], "--junit rd/results.json is the run directory's own results.json, which the run writes too; pass a path outside the run directory, or another name"),
    (["run"], ["--report-dir", "rd", "--json", "rd/junit.xml"], "--json rd/junit.xml is the run directory's own junit.xml, which the run writes too; pass a path outside the run directory, or another name"),
    (["run"], ["--report-dir", "afile"], "--report-dir afile is a file, not a directory; pass a directory"),
    (["run"], ["--report-dir", "afile/sub"], "cannot create --report-dir afile/sub (Not a directory); pick a writable directory"),
    (["selftest", "--bug", "phantom-value"], ["--json", "no/dir/s.json"], "cannot write --json no/dir/s.json: no/dir does not exist; create it first"),
    (["selftest", "--bug", "phantom-value"], ["--report-dir", "afile"], "--report-dir afile is a file, not a directory; pass a directory"),
    (["matrix", "--short"], ["--out", "no/dir/m.md"], "cannot write --out no/dir/m.md: no/dir does not exist; create it first"),
    (["matrix", "--short"], ["--run-dir", "afile"], "--run-dir afile is a file, not a directory; pass a directory"),
    (["matrix", "--render", "matrix.json"], ["--out", "."], "--out . is a directory; pass the path of a file (one in it, say)"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "flag", "expected"), CASES)
def test_a_path_that_cannot_be_written_stops_the_command_at_once(
    tmp_path: Path, command: list[str], flag: list[str], expected: str
) -> None:
    (tmp_path / "afile").write_text("not a directory\n")
    (tmp_path / "matrix.json").write_text('{"schema": "ackbound-matrix/1"}\n')
    t = time.monotonic()
    budget = [] if "--render" in command else ["--budget", "5"]
    done = ackbound(*command, *flag, *budget, cwd=tmp_path)
    assert time.monotonic() - t < 30  # nothing ran
    assert (done.returncode, done.stderr.strip()) == (3, f"ackbound: error: {expected}")
    assert not (tmp_path / "ackbound-runs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "matrix.json"]


@pytest.mark.parametrize(
    ("command", "old", "expected"),
    [
        (["run"], "old/results.json", "--report-dir old already holds a run (results.json)"),
        (["run"], "old/async/history.ndjson", "--report-dir old already holds a run (async)"),
        (["run"], "old/nodes/n1/aof", "--report-dir old already holds a run (nodes)"),
        (["selftest", "--bug", "phantom-value"], "old/phantom-value/junit.xml", "--report-dir old/phantom-value already holds a run (junit.xml)"),
    ],
)  # fmt: skip
def test_a_directory_an_earlier_run_wrote_is_refused_and_left_as_it_was(
    tmp_path: Path, command: list[str], old: str, expected: str
) -> None:
    """Its reports would be overwritten and its histories mixed with the new run's."""
    (tmp_path / old).parent.mkdir(parents=True)
    (tmp_path / old).write_text("the earlier run's\n")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    done = ackbound(*command, "--report-dir", "old", "--budget", "5", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        3,
        f"ackbound: error: {expected}; pass a new directory, or remove that run first\n",
    )
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / old).read_text() == "the earlier run's\n"


def test_default_run_directories_never_collide(tmp_path: Path) -> None:
    """Named by the second, so two runs may start in the same one: each claims its own."""
    from harness._errors import AckboundError
    from harness.run import claim_run_dir

    base = tmp_path / "runs" / "20260101-000000-bundled"
    claimed = [claim_run_dir(base) for _ in range(3)]
    assert [p.name for p in claimed] == [base.name, f"{base.name}-2", f"{base.name}-3"]
    assert all(p.is_dir() and not any(p.iterdir()) for p in claimed)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(AckboundError) as err:
        claim_run_dir(tmp_path / "afile" / "r")
    assert str(err.value) == (
        f"cannot create the run directory {tmp_path}/afile/r ({tmp_path}/afile is a file); "
        "run from a writable directory, or pass one for the reports"
    )


@pytest.mark.parametrize("command", [["run"], ["selftest"], ["matrix"]])
def test_an_empty_directory_flag_is_refused_not_taken_for_the_current_directory(
    tmp_path: Path, command: list[str]
) -> None:
    flag = "--run-dir" if command == ["matrix"] else "--report-dir"
    done = ackbound(*command, flag, "", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.strip().startswith(
        f"ackbound {command[0]}: error: argument {flag}: is empty"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args", [["check", "LONG"], ["run", "--target", "LONG"], ["run", "--report-dir", "LONG"]]
)
def test_a_path_the_system_refuses_is_one_line_naming_it(tmp_path: Path, args: list[str]) -> None:
    long = "a" * 300  # longer than any file name may be
    done = ackbound(*[long if a == "LONG" else a for a in args], "--quiet", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        3,
        f"ackbound: error: {long}: File name too long; check the path and try again\n",
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--image", "foo"], "--image is for --backend docker; add --backend docker, or drop --image"),
        (["--backend", "docker", "--image", " "], "--image is empty; name an image, e.g. ackbound-valkey:local, or drop --image for the target's own"),
        (["--backend", "docker", "--image", "../x"], "--image '../x' is not a docker image reference ([registry/]name[:tag], the name in lowercase); e.g. ackbound-valkey:local or valkey/valkey:9.0, or drop --image for the target's own"),
    ],
)  # fmt: skip
def test_an_image_flag_that_cannot_apply_is_refused(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    done = ackbound("run", *args, "--budget", "3", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (3, f"ackbound: error: {expected}\n")


@pytest.mark.parametrize("wrote_reports", [True, False])
def test_ctrl_c_says_whether_the_reports_were_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    wrote_reports: bool,
) -> None:
    """A second Ctrl-C can stop the reports themselves: then no 'partial reports' line."""
    import harness.run
    from harness.cli import main

    def interrupted(config: object, *, run_dir: Path, **kw: object) -> None:
        if wrote_reports:
            (run_dir / "results.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.run, "run_conformance", interrupted)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--quiet", "--report-dir", "r"]) == 130
    err = capsys.readouterr().err
    assert err == (
        "ackbound: interrupted; partial reports in r\n"
        if wrote_reports
        else "ackbound: interrupted before the reports were written; the histories gathered "
        "are in r\n"
    )


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        (["--json", "old/results.json"], "--json old/results.json is a file of the run in old (it holds report.html); overwriting it would lose that run's, so pass a path outside that directory"),
        (["--junit", "old/junit.xml"], "--junit old/junit.xml is a file of the run in old (it holds report.html); overwriting it would lose that run's, so pass a path outside that directory"),
        (["--report-dir", "new", "--junit", "new"], "--junit new is the run directory, which the run creates; pass the path of a file outside it"),
        (["--report-dir", "new/r", "--json", "new"], "--json new holds the run directory new/r, which the run creates; pass the path of a file outside it"),
        (["--report-dir", "new", "--json", "copy", "--junit", "copy"], "--json and --junit both name copy; the second would overwrite the first, so give each its own file"),
    ],
)  # fmt: skip
def test_a_copy_of_a_report_that_would_lose_a_run_is_refused(
    tmp_path: Path, flag: list[str], expected: str
) -> None:
    """--json OLD/results.json overwrote another run's verdict (replay then found nothing
    failed); --junit naming the new run directory failed only after the whole run."""
    old = tmp_path / "old"
    old.mkdir()
    for name in ("results.json", "junit.xml", "report.html"):
        (old / name).write_text("the earlier run's\n")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    done = ackbound("run", *flag, "--budget", "3", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (3, f"ackbound: error: {expected}\n")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert (old / "results.json").read_text() == "the earlier run's\n"


@pytest.mark.parametrize("flag", ["--json", "--junit"])
def test_a_copy_naming_a_directory_beside_a_stray_history_is_called_a_directory(
    tmp_path: Path, flag: str
) -> None:
    """A history.ndjson in the working directory (the Python API example writes one) made
    '--json certs' 'a file of the run in .', though certs is a plain directory."""
    (tmp_path / "history.ndjson").write_text("{}\n")
    (tmp_path / "certs").mkdir()
    done = ackbound("run", flag, "certs", "--budget", "3", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.startswith(f"ackbound: error: {flag} certs is a directory"), done.stderr


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """In ``tmp_path``, a run that is interrupted as soon as it starts; the run directories
    of those started."""
    import harness.run

    dirs: list[Path] = []

    def interrupted(config: object, *, run_dir: Path, **kw: object) -> None:
        dirs.append(run_dir)
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.run, "run_conformance", interrupted)
    monkeypatch.chdir(tmp_path)
    return dirs


def test_a_copy_left_by_an_earlier_job_outside_any_run_is_replaced(
    tmp_path: Path, started: list[Path]
) -> None:
    """CI writes ackbound-runs/junit.xml on every job: the file is a copy, not a run."""
    from harness.cli import main

    runs = tmp_path / "ackbound-runs"
    runs.mkdir()
    (runs / "junit.xml").write_text('<testsuites name="ackbound"/>\n')
    (runs / "results.json").write_text('{"schema": "ackbound-results/1"}\n')
    args = ["--junit", "ackbound-runs/junit.xml", "--json", "ackbound-runs/results.json"]
    assert main(["run", "--quiet", *args]) == 130
    assert len(started) == 1


def test_a_copy_in_the_new_run_directory_itself_is_not_refused_for_its_absence(
    tmp_path: Path, started: list[Path]
) -> None:
    """'new does not exist; create it first', of the directory the run was about to make."""
    from harness.cli import main

    assert main(["run", "--quiet", "--report-dir", "new", "--json", "new/copy.json"]) == 130
    assert started == [Path("new")] and (tmp_path / "new").is_dir()
