"""The short conformance matrix, as CI runs it (`bash ci/matrix.sh`): every short cell's
verdict must be exactly the one committed in docs/matrix.json.

A change of verdict fails this test with the cell, the old and new verdict and the command
that reproduces it. If the change is intended (a server, the harness or a target file
changed what is true), rerun the short version and commit what it records:
`bash ci/matrix.sh short-update` (docs/matrix.md, "The short version").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _deps import need_docker, need_target

from harness.cli._matrix import SHORT_CELLS, verdict_text

pytestmark = [pytest.mark.slow, pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "matrix.json"


def test_the_short_matrix_keeps_the_committed_verdicts(tmp_path: Path) -> None:
    for target in sorted({c.target for c in SHORT_CELLS}):
        need_target(target)
    if any(c.backend == "docker" for c in SHORT_CELLS):
        need_docker()
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))["short"]["cells"]
    assert list(committed) == [c.id for c in SHORT_CELLS], (
        "docs/matrix.json's short section is not the short version's cells; "
        "run bash ci/matrix.sh short-update and commit docs/matrix.md and docs/matrix.json"
    )
    env = dict(
        os.environ,
        ACKBOUND=f"{sys.executable} -m harness",
        ACKBOUND_RUN_DIR=str(tmp_path / "runs"),
    )
    proc = subprocess.run(
        ["bash", str(ROOT / "ci" / "matrix.sh"), "short"],
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    report = f"stdout:\n{proc.stdout}\nstderr (last 3000 chars):\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, report
    verdicts = [
        f"{rec['target']}/{rec['backend']}/{rec['mode']}: {verdict_text(rec)}"
        for rec in committed.values()
    ]
    lines = proc.stdout.splitlines()
    n = len(verdicts)
    assert lines[:n] == verdicts, report
    assert re.fullmatch(rf"{n} cell\(s\) in \d+ s", lines[n]), report
    assert lines[n + 1 :] == [f"verdicts match docs/matrix.json (short): {n} cell(s)"], report
    assert (tmp_path / "runs" / "matrix.json").exists()
