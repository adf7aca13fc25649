"""``ackbound run`` end to end, as a user runs it: exit codes, reports, one-line errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.report import validate_results

ACKBOUND = [sys.executable, "-m", "harness"]


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ACKBOUND, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--mode", "eventual"], "--mode 'eventual'"),
        (["run", "--faults", "kill,meteor"], "'meteor' is not a fault"),
        (["run", "--target", "nosuchtarget"], "nosuchtarget"),
        (["run", "--bug", "no-such-bug"], "is not a seeded bug"),
        (["run", "--target", "valkey", "--bug", "async-never-rejects"], "use --target bundled"),
        (["run", "--budget", "soon"], "is not a number of seconds"),
        (["run", "--report", "elsewhere"], "unrecognized arguments: --report elsewhere"),
    ],
)
def test_bad_input_is_one_line_naming_the_fix_and_exits_3(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    out = run_cli(*args, cwd=tmp_path, timeout=60)
    assert out.returncode == 3, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert needle in lines[0]
    assert "Traceback" not in out.stderr


def test_a_missing_server_binary_cannot_run(tmp_path: Path) -> None:
    target = tmp_path / "ghost.toml"
    target.write_text(
        'schema = 1\nextends = "valkey"\nname = "ghost"\n'
        '[binary]\nfind = ["/nonexistent/ghost-server"]\ninstall = "build ghost-server first"\n',
        encoding="utf-8",
    )
    out = run_cli("run", "--target", str(target), "--budget", "5", cwd=tmp_path, timeout=60)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "build ghost-server first" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_short_run_writes_every_report(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    out = run_cli(
        "run",
        "--mode",
        "sync",
        "--budget",
        "8",
        "--seed",
        "7",
        "--report-dir",
        str(run_dir),
        "--junit",
        str(tmp_path / "junit.xml"),
        "--json",
        str(tmp_path / "results.json"),
        cwd=tmp_path,
    )
    assert out.returncode in (0, 1, 2), out.stderr
    for name in ("results.json", "junit.xml", "report.html", "history.ndjson"):
        assert (run_dir / name).is_file(), name
    assert (tmp_path / "junit.xml").is_file()
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert validate_results(doc) == []
    assert doc["seed"] == 7
    assert doc["exit_code"] == out.returncode
    assert doc["modes"]["sync"]["examples"] >= 1
    assert "acked-writes-survive" in out.stdout  # the verdict table


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_leaves_the_reports_gathered_so_far(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGTERM (a CI job's timeout) too: it stops the run as Ctrl-C does."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [*ACKBOUND, "run", "--mode", "none", "--budget", "120", "--report-dir", str(run_dir)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    examples = run_dir / "none" / "examples"
    while time.monotonic() < deadline and not (
        examples.is_dir() and len(list(examples.iterdir())) >= 2
    ):
        time.sleep(0.2)
    assert examples.is_dir(), "the run never started an example"
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    doc = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert doc["complete"] is False
    assert doc["exit_code"] == 130  # what the command exited with
    assert doc["modes"]["none"]["examples"] >= 1
    assert "interrupted" in err
    # (a SIGTERM was recorded as "interrupted (Ctrl-C)")
    by = "SIGTERM" if sig == signal.SIGTERM else "Ctrl-C"
    assert doc["error"] == f"interrupted ({by}); the reports hold what was gathered so far"


@pytest.mark.slow
def test_a_seeded_bug_fails_the_run_naming_the_property_and_replays(tmp_path: Path) -> None:
    """Found with a target file given relative to where the run started, the failure
    replays from another directory, by ``ackbound replay`` and as the pasted program."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.toml").write_text('name = "mine"\nextends = "bundled"\n', encoding="utf-8")
    run_dir = tmp_path / "run"
    out = run_cli(
        "run",
        "--target",
        "mine.toml",
        "--bug",
        "sync-ack-before-replication",
        "--budget",
        "30",
        "--seed",
        "1",
        "--shrink-budget",
        "30",
        "--report-dir",
        str(run_dir),
        cwd=work,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "acked-writes-survive" in out.stdout
    doc = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert doc["argv"][:3] == ["ackbound", "run", "--target"]  # the command as it was run
    assert doc["target"]["file"] == str(work / "mine.toml")
    program = (run_dir / "program.txt").read_text(encoding="utf-8")
    assert "replay_program(" in program and "state.teardown()" in program
    again = run_cli("replay", str(run_dir), cwd=tmp_path)
    assert again.returncode in (0, 1), again.stderr
    assert "failed" in again.stdout
    # The program is Python as printed: pasted into an interpreter it runs the example
    # again and raises the violation from teardown (or passes, if the bug hid this time).
    pasted = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "ImportError" not in pasted.stderr and "NameError" not in pasted.stderr, pasted.stderr
    assert pasted.returncode == 0 or "DurabilityViolation" in pasted.stderr, pasted.stderr[-2000:]
