"""``ackbound targets`` and ``ackbound faults`` end to end: output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from _targets import two_node_external

from harness.faults import FAULT_NAMES

DATA = Path(__file__).parents[1] / "data" / "targets"


def ackbound(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=60
    )


def test_faults_list_names_every_fault_with_its_parameters() -> None:
    done = ackbound("faults", "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[: len(FAULT_NAMES)]] == list(FAULT_NAMES)
    assert "partition     node:node [direction:enum=both|in|out]" in lines


def test_faults_list_json_is_the_registry() -> None:
    done = ackbound("faults", "list", "--json")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert [f["name"] for f in data] == list(FAULT_NAMES)
    slow = next(f for f in data if f["name"] == "slow-link")
    assert [p["name"] for p in slow["params"]] == ["node", "src", "dst", "bandwidth", "latency_ms"]
    assert slow["needs"] == ["slow-link"] and slow["effects"] == ["slow"]


def test_faults_describe() -> None:
    done = ackbound("faults", "describe", "az-outage")
    assert done.returncode == 0
    assert done.stdout.splitlines()[1:] == [
        "  az (az; required): the AZ, e.g. az1",
        "  needs:   kill, wipe",
        "  effects: down, lose-data",
    ]
    bad = ackbound("faults", "describe", "meteor")
    assert bad.returncode == 3 and bad.stdout == ""
    assert bad.stderr.startswith("ackbound: error: 'meteor' is not a fault; use one of kill,")


def test_targets_list_and_show() -> None:
    done = ackbound("targets")
    assert done.returncode == 0
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names[:4] == ["bundled", "valkey", "redis", "external"]
    shown = ackbound("targets", "show", "valkey", "--json")
    data = json.loads(shown.stdout)
    assert data["name"] == "valkey" and data["modes"]["sync"]["write"] == "wait"
    assert data["lag_limit"] == {"granularity_ms": 1000, "min_ms": 1000}
    assert data["errors"]["NOREPLICAS"] == "rejected"
    text = ackbound("targets", "show", str(DATA / "mystore.toml"))
    assert text.returncode == 0
    assert text.stdout.splitlines()[0] == "mystore: the bundled server, described by its user"


def test_targets_check_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        (DATA / "mystore.toml").read_text().replace('write = "plain"', 'write = "pln"', 1)
    )
    done = ackbound("targets", "check", str(DATA / "mystore.toml"), str(bad))
    assert done.returncode == 3
    assert done.stdout.splitlines()[0].startswith("ok: ")
    assert done.stderr == (
        f"ackbound: error: {bad}: key 'modes.none.write': 'pln' is not a write protocol; "
        "use plain or wait\n"
    )


def test_images_build_with_no_name_means_all_and_an_unknown_name_is_one_line(
    tmp_path: Path,
) -> None:
    """No engine here (DOCKER_HOST points nowhere): that the error is about the engine shows
    the arguments were accepted; an unknown name is refused before the engine is asked."""
    nowhere = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'none.sock'}"}

    def images(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "harness", "images", *args],
            capture_output=True, text=True, timeout=60, env=nowhere,
        )  # fmt: skip

    for args in (["build"], ["build", "all"], ["build", "bundled", "valkey"]):
        done = images(*args)
        assert done.returncode == 3
        assert done.stderr.startswith("ackbound: error: no Docker engine answers at unix://")
    done = images("build", "nosuch")
    assert (done.returncode, done.stderr) == (
        3,
        "ackbound: error: image 'nosuch' is not one of bundled, valkey, all; name one\n",
    )


def test_targets_check_given_a_name_says_it_checks_files() -> None:
    done = ackbound("targets", "check", "bundled")
    assert (done.returncode, done.stderr) == (
        3,
        "ackbound: error: 'bundled' is a target name, not a file: 'targets check' validates "
        "target files; use 'ackbound targets show bundled' to see it validated\n",
    )


_PASSWORD_FILE_TARGET = two_node_external(
    "pf", more='[auth]\npassword_file = "pw.txt"\n', mode="none"
)


def test_targets_check_reports_a_password_file_the_run_could_not_read(tmp_path: Path) -> None:
    """It said ok, and the run then refused the target."""
    target = tmp_path / "pf.toml"
    target.write_text(_PASSWORD_FILE_TARGET)
    done = ackbound("targets", "check", str(target))
    assert (done.returncode, done.stderr) == (
        3,
        f"ackbound: error: {target}: [auth] password_file {tmp_path / 'pw.txt'} cannot be read "
        "(No such file or directory); point it at a readable file holding the password\n",
    )
    (tmp_path / "pw.txt").write_text("\n")
    done = ackbound("targets", "check", str(target))
    assert (done.returncode, done.stderr) == (
        3,
        f"ackbound: error: {target}: [auth] password_file {tmp_path / 'pw.txt'} has an empty "
        "first line; write the password on its first line\n",
    )
    (tmp_path / "pw.txt").write_text("s3cret\n")
    done = ackbound("targets", "check", str(target))
    assert (done.returncode, done.stdout) == (0, f"ok: {target} (target 'pf'; modes none)\n")
    assert "s3cret" not in done.stdout + done.stderr


def test_an_empty_target_is_refused_not_taken_for_the_current_directory() -> None:
    """It said '.: cannot read the target file (IsADirectoryError)'."""
    done = ackbound("run", "--target", "", "--budget", "3")
    assert (done.returncode, done.stderr) == (
        3,
        "ackbound run: error: argument --target: is empty; pass bundled, valkey, redis, a "
        "plugin name or a TOML target file (see 'ackbound run --help')\n",
    )
    for args in (["targets", "check", ""], ["targets", "show", " "]):
        done = ackbound(*args)
        assert done.returncode == 3
        assert done.stderr.startswith("ackbound: error: the target") and "is empty; pass" in (
            done.stderr
        )
