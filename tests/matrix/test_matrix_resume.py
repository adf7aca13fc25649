"""``ackbound matrix --resume``: an interrupted matrix stops its cell's run cleanly, and a
resume keeps the cells that finished, runs the rest, and keeps whatever an unfinished cell
left beside it.

The end-to-end test runs real cells of the bundled target (one example each); the refusals
are judged on cell.json files written by hand.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _deps import need_target

from harness.cli import main
from harness.cli._matrix import CELL_FILE, Cell, _settings, _take_sigint, cell_record

ARGS = [
    "matrix",
    "--targets",
    "bundled/local",
    "--modes",
    "none",
    "--seeds",
    "1,2",
    "--budget",
    "5",
    "--shrink-budget",
    "5",
    "--examples",
    "1",
]
SEED_1, SEED_2 = "bundled-local-none-1", "bundled-local-none-2"


def _matrix(*args: str) -> subprocess.Popen[str]:
    """``ackbound matrix`` in a session of its own, taking Ctrl-C as a terminal's would."""
    return subprocess.Popen(
        [sys.executable, "-m", "harness", *ARGS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_take_sigint,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the matrix ended before {path} appeared"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_an_interrupted_matrix_resumes_where_it_stopped(tmp_path: Path) -> None:
    need_target("bundled")
    runs, page = tmp_path / "runs", tmp_path / "m.md"
    first = _matrix("--run-dir", str(runs), "--out", str(page))
    # Ctrl-C once the second cell's run has started its cluster.
    _wait_for(runs / SEED_1 / CELL_FILE, first)
    _wait_for(runs / SEED_2 / "run" / "nodes", first)
    time.sleep(2)
    os.killpg(first.pid, signal.SIGINT)
    out, err = first.communicate(timeout=180)
    assert first.returncode == 130, err
    assert out == ""  # no verdicts: the matrix did not end
    # The matrix waited for the cell's run to stop as Ctrl-C stops it (its partial reports
    # written, its cluster stopped), rather than kill it halfway.
    assert not _group_alive(first.pid)
    log = (runs / SEED_2 / "ackbound.log").read_text(encoding="utf-8")
    assert f"ackbound: interrupted; partial reports in {runs / SEED_2 / 'run'}" in log, log
    assert json.loads((runs / SEED_2 / "run" / "results.json").read_text())["exit_code"] == 130
    resume = f"--run-dir {runs} --out {page} --resume"
    assert err.splitlines()[-1].startswith(
        "ackbound matrix: interrupted in bundled/local/none/2, 1 cell finished; run the rest "
        "with: ackbound matrix --targets bundled/local"
    ), err
    assert err.splitlines()[-1].endswith(resume), err
    assert not (runs / SEED_2 / CELL_FILE).exists()
    assert not page.exists() and not (runs / "matrix.json").exists()
    kept = json.loads((runs / SEED_1 / CELL_FILE).read_text(encoding="utf-8"))
    left = sorted(p.name for p in (runs / SEED_2 / "run").iterdir())
    assert "nodes" in left

    second = _matrix(*resume.split())
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert re.fullmatch(r"2 cell\(s\) in \d+ s", out.splitlines()[-1]), out
    assert "  bundled/local/none/1: " in err and "(finished earlier, kept)" in err, err
    aside = runs / f"{SEED_2}.earlier-1"
    assert f"  what an earlier try left is kept in {aside}\n" in err, err
    assert sorted(p.name for p in (aside / "run").iterdir()) == left
    assert not (aside / CELL_FILE).exists()
    assert (runs / SEED_2 / CELL_FILE).exists()
    doc = json.loads((runs / "matrix.json").read_text(encoding="utf-8"))["full"]
    assert doc["resumed"] == ["bundled/local/none/1"]
    assert list(doc["cells"]) == ["bundled/local/none/1", "bundled/local/none/2"]
    assert doc["cells"]["bundled/local/none/1"] == kept["record"]
    assert doc["started"] == kept["started"]
    assert doc["duration_s"] >= kept["record"]["duration_s"] + 1
    assert "2 cells (1 of them finished before a `--resume`)" in page.read_text(encoding="utf-8")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own directory, as the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _finished(runs: Path, cell: Cell, changes: dict[str, Any]) -> Path:
    """A cell.json as a finished cell leaves it, with ``changes`` to its top level."""
    record = cell_record(cell, "ackbound run", None) | {"verdict": True, "duration_s": 3.0}
    finished = {"cell": _settings(cell), "ackbound": "?", "started": "?", "record": record}
    finished.update(changes)
    path = runs / cell.slug / CELL_FILE
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(finished), encoding="utf-8")
    return path


# The first cell of ARGS.
CELL_1 = Cell(
    target="bundled",
    backend="local",
    mode="none",
    seed=1,
    budget_s=5.0,
    shrink_budget_s=5.0,
    examples=1,
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"cell": _settings(CELL_1) | {"budget_s": 40.0, "seed": 7}},
            "--resume: bundled/local/none/1 in {runs} ran with other settings (seed 7 → 1, "
            "budget_s 40.0 → 5.0); resume with the flags of the matrix being resumed, or pass "
            "a fresh --run-dir",
        ),
        (
            {"cell": _settings(CELL_1) | {"image": "x"}},
            "--resume: bundled/local/none/1 in {runs} ran with other settings (image x → None); ",
        ),
        (
            {"cell": ["bundled"]},
            "--resume: bundled/local/none/1 in {runs} ran with other settings (target None → "
            "bundled, backend None → local,",
        ),
        (
            {"ackbound": "0.0.9 0123456789ab"},
            "--resume: bundled/local/none/1 in {runs} was run by ackbound 0.0.9 0123456789ab, "
            "and this is ",
        ),
    ],
)
def test_resume_refuses_a_cell_of_other_settings_or_another_ackbound(
    changes: dict[str, Any], message: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = in_tmp / "runs"
    path = _finished(runs, CELL_1, changes)
    before = path.read_bytes()
    assert main([*ARGS, "--run-dir", str(runs), "--out", "m.md", "--resume"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("ackbound: error: " + message.format(runs=runs)), err
    assert err.count("\n") == 1, err
    # Nothing moved, nothing run.
    assert path.read_bytes() == before
    assert sorted(p.name for p in runs.iterdir()) == [CELL_1.slug]
    assert not (in_tmp / "m.md").exists()


def test_resume_needs_the_run_dir(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--out", "m.md", "--resume"]) == 3
    assert capsys.readouterr().err == (
        "ackbound: error: --resume needs the matrix to resume: pass its directory as "
        "--run-dir DIR\n"
    )
    assert not list(in_tmp.iterdir())


def test_without_resume_a_directory_of_runs_is_refused_and_resume_is_named(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = in_tmp / "runs"
    (runs / CELL_1.slug / "run").mkdir(parents=True)
    (runs / CELL_1.slug / "run" / "history.ndjson").write_text("", encoding="utf-8")
    assert main([*ARGS, "--run-dir", str(runs), "--out", "m.md"]) == 3
    assert capsys.readouterr().err == (
        f"ackbound: error: --run-dir {runs} already holds runs of bundled/local/none/1; pass a "
        "fresh directory so that no cell replays an earlier run's saved failures, or --resume "
        "to finish that matrix\n"
    )


_STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGINT, lambda *_: print('SIGINT', flush=True))\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.mark.parametrize(
    ("program", "asked", "code", "seen"),
    [
        # A run that stops on SIGINT is asked once and exits as Ctrl-C exits it.
        ("import time\nprint('ready', flush=True)\ntime.sleep(60)\n", False, 130, []),
        # One that does not stop is asked twice (a second Ctrl-C), then killed.
        (_STUBBORN, False, -signal.SIGKILL, ["SIGINT", "SIGINT"]),
        # After a Ctrl-C it already got, it is left alone one grace period first.
        (_STUBBORN, True, -signal.SIGKILL, ["SIGINT"]),
    ],
    ids=["stops", "stubborn", "stubborn-after-ctrl-c"],
)
def test_a_cell_run_is_stopped_as_ctrl_c_stops_it_and_killed_last(
    program: str, asked: bool, code: int, seen: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.cli import _matrix

    monkeypatch.setattr(_matrix, "_STOP_GRACE_S", 3.0)
    wrapped = "import sys\ntry:\n" + "".join(f"    {ln}\n" for ln in program.splitlines())
    wrapped += "except KeyboardInterrupt:\n    sys.exit(130)\n"
    with subprocess.Popen(
        [sys.executable, "-c", wrapped],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_matrix._take_sigint,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        _matrix._stop_cell(proc, already_asked=asked)
        assert proc.returncode == code
        assert proc.stdout.read().split() == seen
