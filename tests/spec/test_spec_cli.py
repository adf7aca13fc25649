"""``ackbound spec check`` end to end: the table, counterexamples, exit codes, one-line errors.

Exit codes: 0 every configuration gave its pinned result, 1 some did not, 3 could not run
(no java, no jar, a bad flag or manifest): one line on stderr, no traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.spec import Tlc

SPECS = Path(__file__).resolve().parents[2] / "specs"


def ackbound(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def copy_specs(tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    return specs


def edit_manifest(specs: Path, name: str, **changes: object) -> None:
    path = specs / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for entry in manifest["configs"]:
        if entry["name"] == name:
            entry.update(changes)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_check_named_configs_prints_the_table_and_the_counterexample(tlc: Tlc) -> None:
    done = ackbound("spec", "check", "--config", "promote-stale", "--config", "skip-entry")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "promote-stale" in out and "skip-entry" in out
    assert "AckedWritesSurvive" in out and "NoHoles" in out
    assert "counterexample to AckedWritesSurvive (7 states)" in out
    steps = [line.strip() for line in out.splitlines() if re.match(r"\s+\d+\. ", line)]
    assert steps[:7] == [
        "1. Initial predicate",
        "2. ClientWrite()",
        "3. ReplicateNext(node='n2')",
        "4. Acknowledge(node='n2')",
        "5. Complete(write=1)",
        "6. Crash(node='n1')",
        "7. Failover(node='n3')",
    ]
    assert 'writes[1].status: "pending" -> "ok"' in out
    assert "all 2 configuration(s) gave their pinned result" in out


def test_an_unexpected_result_exits_1_and_shows_why(tlc: Tlc, tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    edit_manifest(specs, "apply-rejected", expect="NoHoles")
    edit_manifest(specs, "skip-entry", distinct_states=1)
    done = ackbound("spec", "check", "--specs", str(specs), "--tier", "buggy", "--workers", "1")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "MISMATCH" in out
    assert "apply-rejected: expected NoHoles violated, got RejectedWritesNotApplied" in out
    assert "skip-entry: distinct states: pinned 1, got 123" in out
    # The unexpected counterexample is printed even without --traces; the expected ones not.
    assert "apply-rejected: counterexample to RejectedWritesNotApplied" in out
    assert "promote-stale: counterexample" not in out
    assert "2 of 8 configuration(s) did not give their pinned result" in out


def test_a_spec_tlc_cannot_parse_is_a_mismatch_with_tlcs_message(tlc: Tlc, tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    mc = specs / "MC.tla"
    mc.write_text(mc.read_text(encoding="utf-8").replace("MaxCrashes <= 1", "MaxCrashes <="))
    done = ackbound("spec", "check", "--specs", str(specs), "--config", "skip-entry")
    assert done.returncode == 1
    assert "skip-entry: expected NoHoles violated, got error:" in done.stdout
    assert "of module MC" in done.stdout  # where SANY found it


def test_a_failed_assumption_is_reported(tlc: Tlc, tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    cfg = specs / "skip-entry.cfg"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("MaxCrashes = 1", "MaxCrashes = 2"))
    done = ackbound("spec", "check", "--specs", str(specs), "--config", "skip-entry")
    assert done.returncode == 1
    assert "PromisesCoverOneFailure" in done.stdout or "Assumption" in done.stdout


def no_java_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "TLA2TOOLS_JAR")}
    env["PATH"] = str(tmp_path)  # no java, no tlc wrapper
    return env


def test_no_java_exits_3_with_one_line(tmp_path: Path) -> None:
    done = ackbound("spec", "check", env=no_java_env(tmp_path))
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        "ackbound: error: java not found on PATH: install a Java 11+ runtime "
        "(e.g. apt-get install default-jre-headless) or set JAVA_HOME to one"
    ]
    assert done.stdout == ""


def test_no_jar_exits_3_with_one_line(tmp_path: Path) -> None:
    env = no_java_env(tmp_path)
    env["TLA2TOOLS_JAR"] = str(tmp_path / "missing.jar")
    done = ackbound("spec", "check", env=env)
    assert done.returncode == 3
    [line] = done.stderr.splitlines()
    assert line.startswith("ackbound: error: TLA2TOOLS_JAR=") and "pip install" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["spec"], "name an action: check"),
        (["spec", "check", "--config", "nope"], "no configuration 'nope'"),
        (["spec", "check", "--workers", "0"], "must be at least 1 worker"),
        (["spec", "check", "--all", "--config", "sync-small"], "not allowed with argument"),
        (["spec", "check", "--specs", "/nonexistent"], "no manifest at /nonexistent"),
        (["spec", "validate", "run", "--max-events", "0"], "'0' must be at least 1"),
        (["spec", "validate", "run", "--all", "--example", "x"], "takes a run directory and no"),
        (["spec", "validate", "run", "--all", "--jobs", "0"], "'0' must be at least 1 job"),
        (["spec", "validate", "run", "--all", "--jobs", "two"], "'two' is not a whole number"),
        (
            ["spec", "validate", "run", "--timeout", "inf"],
            "'inf' must be a number of seconds in (0, 86400]",
        ),
        (["spec", "validate", "run", "--timeout", "1e300"], "must be a number of seconds in"),
    ],
)
def test_could_not_run(args: list[str], message: str) -> None:
    done = ackbound(*args)
    assert done.returncode == 3, done.stdout + done.stderr
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
