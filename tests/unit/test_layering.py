"""The dependency rule, enforced: walk every import and fail on an edge pointing the wrong way.

- models/ imports the standard library only (and itself).
- harness/resp/ imports nothing from the repo, and no I/O (asyncio, socket, ssl, select).
- harness/server/ imports harness.resp (and itself) only — never models/ or other harness
  packages, so a bug in the model cannot hide the same bug in the server.
- nothing imports harness.server: the harness starts the server by command line.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
# Optional accelerators the server and codec may use when installed.
SERVER_THIRD_PARTY = {"hiredis", "uvloop"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    mod = _module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def _files(*parts: str) -> list[Path]:
    return sorted((ROOT.joinpath(*parts)).rglob("*.py"))


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _violations(files: list[Path], allowed: Callable[[str], bool]) -> list[str]:
    bad = []
    for f in files:
        for lineno, name in _imports(f):
            if not allowed(name):
                bad.append(f"{f.relative_to(ROOT)}:{lineno} imports {name}")
    return bad


def test_models_imports_only_the_standard_library() -> None:
    files = _files("models")
    assert files, "models/ has no Python files"
    bad = _violations(files, lambda n: _top(n) in STDLIB or _top(n) == "models")
    assert bad == [], "models/ must import only the standard library:\n" + "\n".join(bad)


def test_resp_codec_imports_nothing_from_the_repo_and_no_io() -> None:
    files = _files("harness", "resp")
    if not files:
        pytest.fail("harness/resp/ is missing")
    io_modules = {"asyncio", "socket", "ssl", "select", "selectors"}

    def ok(n: str) -> bool:
        if n.startswith("harness.resp") or n == "harness.resp":
            return True
        top = _top(n)
        return (top in STDLIB and top not in io_modules) or top == "hiredis"

    bad = _violations(files, ok)
    assert bad == [], "harness/resp/ must be sans-IO and self-contained:\n" + "\n".join(bad)


def test_server_imports_only_the_codec() -> None:
    files = _files("harness", "server")
    if not files:
        pytest.fail("harness/server/ is missing")

    def ok(n: str) -> bool:
        if n.startswith(("harness.resp", "harness.server")) or n in (
            "harness.resp",
            "harness.server",
        ):
            return True
        top = _top(n)
        return top in STDLIB or top in SERVER_THIRD_PARTY

    bad = _violations(files, ok)
    assert bad == [], "harness/server/ may import only harness.resp:\n" + "\n".join(bad)


def test_nothing_imports_the_server() -> None:
    files = [f for f in _files("harness") if "server" not in f.relative_to(ROOT).parts[:2]]
    files += _files("models")
    bad = _violations(files, lambda n: not n.startswith("harness.server"))
    assert bad == [], (
        "the harness starts the bundled server by command line, never by import:\n" + "\n".join(bad)
    )


def test_the_walker_sees_a_wrong_edge(tmp_path: Path) -> None:
    """The rule has teeth: a module importing a third-party package is reported."""
    f = ROOT / "models" / "_layering_probe.py"
    try:
        f.write_text("import rich\nfrom harness import history\n", encoding="utf-8")
        bad = _violations([f], lambda n: _top(n) in STDLIB or _top(n) == "models")
    finally:
        f.unlink()
    assert bad == [
        "models/_layering_probe.py:1 imports rich",
        "models/_layering_probe.py:2 imports harness",
    ]
