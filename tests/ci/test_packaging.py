"""What ``pip install ackbound`` gets: the wheel built from this tree, installed away from it.

A checkout finds its spec in specs/; an installed ackbound must carry it (through the link
harness/spec/specs), or ``ackbound spec check`` and ``spec validate`` cannot run. The wheel
is built from a copy of the tree (so the checkout gains no build/ directory), without
network access (setuptools from the test extra), and installed into a directory of its own.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from _deps import missing

from harness.spec import TlcNotFound, find_tlc

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
INSTALLED_SPECS = "harness/spec/specs"
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "states")


def _setuptools_new_enough() -> bool:
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 77


def _pip(*args: str) -> None:
    """Run pip offline (everything it needs is here already) and insist that it worked."""
    cmd = [sys.executable, "-m", "pip", *args, "-q", "--no-index"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _setuptools_new_enough():
        missing("setuptools>=77", "pip install -e '.[test]'")
    src = tmp_path_factory.mktemp("src")
    for entry in ROOT.iterdir():
        if entry.is_file() and (
            entry.name in {"pyproject.toml", "README.md"} or "LICEN" in entry.name
        ):
            shutil.copy2(entry, src / entry.name)
    for name in ("harness", "models", "specs"):
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=_SKIP)
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src))
    (built,) = out.glob("ackbound-*.whl")
    return built


def _spec_files() -> set[str]:
    """Every file of specs/ that TLC or a reader of the installed spec needs."""
    manifest = json.loads((SPECS / "manifest.json").read_text("utf-8"))
    cfgs = {str(e.get("cfg", f"{e['name']}.cfg")) for e in manifest["configs"]}
    modules = {p.name for p in SPECS.glob("*.tla")}
    assert {"Durability.tla", "DurabilityTrace.tla", f"{manifest['module']}.tla"} <= modules
    return cfgs | modules | {"manifest.json", "README.md"}


def test_the_wheel_carries_the_spec_and_the_builtin_targets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {f"{INSTALLED_SPECS}/{n}" for n in _spec_files()}
    assert want - names == set(), "the wheel lacks spec files"
    targets = {
        f"harness/targets/builtin/{p.name}"
        for p in (ROOT / "harness/targets/builtin").glob("*.toml")
    }
    assert targets and targets <= names
    # Only the two packages: no top-level specs/, tests or docs beside them.
    tops = {n.split("/", 1)[0] for n in names if not n.startswith("ackbound-")}
    assert tops == {"harness", "models"}


# A sync write acknowledged on n1, n1 killed, n2 (which holds it) promoted: a behaviour of
# the spec.
_KEPT = (
    "mode sync\nnodes n1@a n2@b n3@c\n"
    "0..2   p0 append l w1 @n1\n"
    "5      nemesis kill n1\n"
    "6      nemesis failover n2\n"
    "10..11 p0 lrange l -> ok [w1] @n2 final\n"
)
_WHERE = "import harness, harness.spec; print(harness.__file__, harness.spec.default_specs_dir())"


def _digest(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def test_an_installed_ackbound_model_checks_the_spec_it_carries(
    wheel: Path, tmp_path: Path
) -> None:
    try:
        find_tlc()
    except TlcNotFound as exc:
        missing("TLC", str(exc))
    site = tmp_path / "site"
    _pip("install", "--no-deps", "--target", str(site), str(wheel))
    specs = site / INSTALLED_SPECS
    assert specs.is_dir() and not specs.is_symlink()
    before = _digest(specs)
    away = tmp_path / "elsewhere"  # not the checkout, not the install
    away.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        """This interpreter, seeing the installed ackbound, run away from the checkout."""
        return subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            cwd=away,
            env=env,
            timeout=600,
            check=False,
        )

    module, default = python("-c", _WHERE).stdout.split()
    assert Path(module).is_relative_to(site), module
    assert Path(default) == specs.resolve()
    # A passing and a refuted configuration (TLC finds its counterexample), each as pinned.
    for config in ("none-small", "skip-entry"):
        got = python("-m", "harness", "spec", "check", "--config", config)
        assert got.returncode == 0, got.stdout + got.stderr
        assert str(specs) in "".join(got.stdout.split()), got.stdout  # the table's title
        assert "gave their pinned result" in got.stdout, got.stdout
    # Trace validation reads the trace module from the installed spec too.
    kept = tmp_path / "kept.txt"
    kept.write_text(_KEPT, encoding="utf-8")
    got = python("-m", "harness", "spec", "validate", "--history", str(kept))
    assert got.returncode == 0, got.stdout + got.stderr
    assert _digest(specs) == before, "model checking wrote into the installed spec"
    assert list(away.iterdir()) == []
