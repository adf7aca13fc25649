"""The harness proves itself: every seeded bug is caught by the property it breaks, and the
correct bundled server is never accused (long tests, run in CI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.run import RunConfig, bundled_bugs, run_conformance
from harness.run._selftest import bug_setup
from harness.targets import load_target

BUGS = [b["name"] for b in bundled_bugs()]


@pytest.mark.slow
@pytest.mark.parametrize("bug", BUGS)
def test_every_seeded_bug_fails_the_run_naming_its_property(tmp_path: Path, bug: str) -> None:
    """The run, in the bug's mode and topology (as ``ackbound selftest`` runs it), exits 1
    and names the property the bug breaks."""
    listed = next(b for b in bundled_bugs() if b["name"] == bug)
    breaks = listed["breaks"]
    mode, nodes, azs = bug_setup(listed)
    topology = [
        arg
        for flag, value in (("--nodes", nodes), ("--azs", azs))
        if value is not None
        for arg in (flag, str(value))
    ]
    run_dir = tmp_path / "run"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            "--bug",
            bug,
            "--mode",
            mode,
            *topology,
            "--budget",
            "60",
            "--shrink-budget",
            "10",
            "--seed",
            "0",
            "--quiet",
            "--report-dir",
            str(run_dir),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-2000:]
    doc = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    violated = {
        name
        for mode in doc["modes"].values()
        for name, p in mode["properties"].items()
        if p["valid"] is False
    }
    assert breaks in violated, f"{bug} should break {breaks}; the run saw {sorted(violated)}"
    assert breaks in out.stdout


@pytest.mark.slow
def test_the_correct_server_passes_every_mode_across_50_seeds(tmp_path: Path) -> None:
    """No false alarms: the correct bundled server, every fault enabled, all three modes,
    fifty seeds (one explored example per mode and seed; the textbook scenarios every run
    starts with do not depend on the seed, and the other run tests run them)."""
    target = load_target("bundled")
    accused: list[str] = []
    examples = 0
    for seed in range(50):
        config = RunConfig(target="bundled", seed=seed, examples=1, budget_s=60, canon=False)
        result = run_conformance(config, run_dir=tmp_path / f"seed-{seed}", target=target)
        assert result.error is None, f"seed {seed}: {result.error}"
        for mode, m in result.modes.items():
            examples += m.examples
            for name, p in m.properties.items():
                if p.valid is False:
                    why = p.first_violation.explanation if p.first_violation else ""
                    accused.append(f"seed {seed} {mode} {name}: {why}")
    assert examples == 150
    assert accused == []


@pytest.mark.parametrize("budget", ["0", "0.01", "4.9"])
def test_a_detection_budget_too_short_to_detect_anything_is_refused(budget: str) -> None:
    """--budget 0 was accepted, and every bug was reported MISSED."""
    done = subprocess.run(
        [sys.executable, "-m", "harness", "selftest", "--budget", budget],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (
        3,
        f"ackbound selftest: error: argument --budget: {budget!r} is too short to detect any "
        "bug (its cluster must start and an example run); pass at least 5 seconds (see "
        "'ackbound selftest --help')\n",
    )


def test_figures_with_nothing_measured_are_a_dash_not_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """'time to detect median None s' when no bug was detected."""
    import harness.run._selftest as selftest
    from harness.cli import main

    missed = selftest.BugOutcome(bug="b", breaks="acked-writes-survive", mode="sync")
    monkeypatch.setattr(
        selftest, "run_selftest", lambda **kw: selftest.SelftestResult(outcomes=[missed])
    )
    assert main(["selftest", "--report-dir", str(tmp_path / "st")]) == 1
    out = capsys.readouterr().out
    assert "None" not in out
    line = f"caught 0/1; time to detect –; shrunk steps –; runs in {tmp_path / 'st'}"
    assert line in " ".join(out.split())  # the console may wrap it


def test_the_table_in_a_log_keeps_every_name_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Piped to a file or a CI log, rich's 80 columns cut the names ('never-resu…')."""
    import harness.run._selftest as selftest
    from harness.cli import main

    outcomes = [
        selftest.BugOutcome(
            bug="lag-metric-reports-the-newest-write", breaks=prop, mode="async",
            caught_by=[prop], detect_s=1.0, shrunk_steps=1,
        )
        for prop in ("lag-metric-not-underreported", "writes-resume-after-heal")
    ]  # fmt: skip
    monkeypatch.setattr(
        selftest, "run_selftest", lambda **kw: selftest.SelftestResult(outcomes=outcomes)
    )
    main(["selftest", "--report-dir", str(tmp_path / "st")])
    out = capsys.readouterr().out
    for word in ("lag-metric-reports-the-newest-write", "lag-metric-not-underreported"):
        assert word in out, out
    assert "…" not in out, out
