"""The reference tables in docs/, generated from the registries so they cannot drift.

Each table lives in one documentation file between two marker lines::

    <!-- BEGIN GENERATED: faults (ackbound docs --write; edit harness/faults/_registry.py) -->
    | fault | ... |
    <!-- END GENERATED: faults -->

Everything between the markers belongs to the generator; the prose around them is written
by hand. ``ackbound docs --check`` reports every stale or missing table (tests and CI run it),
``ackbound docs --write`` rewrites them. The seeded bugs of the bundled server are read from
``python -m harness.server --list-bugs`` in a subprocess: the harness never imports the
server.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from harness._errors import AckboundError

__all__ = [
    "BLOCKS",
    "FIX_COMMAND",
    "Block",
    "DocsError",
    "check_docs",
    "render_block",
    "update_text",
    "write_docs",
]

FIX_COMMAND: Final = "ackbound docs --write"


class DocsError(AckboundError):
    """A documentation file whose generated tables cannot be found or rebuilt."""


@dataclass(frozen=True)
class Block:
    """One generated table: its marker name, the file it lives in and where its data is."""

    name: str
    file: str  # relative to the docs directory
    source: str  # what to edit instead of the table
    render: Callable[[], str]


# -- rendering helpers ----------------------------------------------------------------------


def _cell(text: object) -> str:
    """Markdown table cell text: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: object) -> str:
    return f"`{text}`"


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# -- the tables -----------------------------------------------------------------------------


def _properties() -> str:
    from harness.checker import PROPERTIES
    from models import Mode

    every = frozenset(Mode)
    rows = []
    for p in PROPERTIES:
        modes = "all" if p.modes == every else ", ".join(m.value for m in Mode if m in p.modes)
        rows.append((_code(p.name), modes, p.summary))
    return _table(("property", "modes", "what it checks"), rows)


def _param(p: Any) -> str:
    """One fault parameter as the reference table shows it."""
    text = _code(p.name)
    if p.type == "enum":
        text += " = " + " | ".join(_code(c) for c in p.choices)
    elif p.type in ("int", "float"):
        bounds = ""
        if p.min is not None or p.max is not None:
            lo = "" if p.min is None else _number(p.min)
            hi = "" if p.max is None else _number(p.max)
            bounds = f" {lo}..{hi}"
        text += f" ({p.type}{bounds})"
    else:
        text += f" ({p.type})"
    if p.default is not None:
        text += f", default {_code(p.default)}"
    if not p.required:
        text = f"[{text}]"
    return text


def _faults() -> str:
    from harness.faults import FAULTS

    rows = []
    for f in FAULTS.values():
        rows.append(
            (
                _code(f.name),
                "; ".join(_param(p) for p in f.params) or "—",
                ", ".join(sorted(f.needs)) or "—",
                ", ".join(_code(e) for e in f.effects) or "—",
                f.description,
            )
        )
    return _table(("fault", "parameters", "needs", "effects it may record", "what it does"), rows)


# What each error class means. The classes themselves come from the registry; a class added
# there without a meaning here stops the generator, so the table can never omit one.
_CLASS_MEANINGS: Final[Mapping[str, str]] = {
    "rejected": "refused before it was applied, for a durability or availability reason: "
    "the write must never be read afterwards (`rejected-writes-not-applied`)",
    "failed": "the request itself was refused (wrong type, syntax, read-only replica, "
    "redirect): nothing was applied",
    "indeterminate": "may or may not have been applied; also every error the registry does "
    "not know, every timeout and every broken connection",
}


def _error_classes() -> str:
    from harness.targets import DEFAULT_ERRORS, ERROR_CLASSES, op_type_for

    missing = [c for c in ERROR_CLASSES if c not in _CLASS_MEANINGS]
    if missing:
        raise DocsError(
            f"error class {missing[0]!r} has no meaning in harness/_docs.py (_CLASS_MEANINGS); "
            "add one there"
        )
    rows = []
    for cls in ERROR_CLASSES:
        prefixes = sorted(p for p, c in DEFAULT_ERRORS.items() if c == cls)
        rows.append(
            (
                _code(cls),
                _code(op_type_for(cls)),
                _CLASS_MEANINGS[cls],
                ", ".join(_code(p) for p in prefixes) or "—",
            )
        )
    return _table(("class", "history op", "meaning", "default prefixes"), rows)


def _seeded_bugs() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "harness.server", "--list-bugs"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DocsError(
            f"python -m harness.server --list-bugs exited with {done.returncode} ({last[0]}); "
            "fix the server's --list-bugs before regenerating docs/server.md"
        )
    try:
        bugs = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise DocsError(
            f"python -m harness.server --list-bugs printed no JSON list ({exc}); fix its output"
        ) from None
    rows = []
    for b in bugs:
        topo = b.get("topology") or {}
        cluster = (
            f"{topo['nodes']} nodes in {topo['azs']} AZs"
            if "nodes" in topo and "azs" in topo
            else "default"
        )
        rows.append((_code(b["name"]), _code(b["breaks"]), b["mode"], cluster, b["description"]))
    return _table(("name", "breaks", "mode", "cluster", "what it does"), rows)


def _valkey_target() -> str:
    """The built-in valkey target file, whole, as docs/targets.md shows it."""
    text = (Path(__file__).parent / "targets" / "builtin" / "valkey.toml").read_text("utf-8")
    return "```toml\n" + text.rstrip("\n") + "\n```"


BLOCKS: Final[tuple[Block, ...]] = (
    Block("properties", "semantics.md", "harness/checker/_properties.py", _properties),
    Block("faults", "faults.md", "harness/faults/_registry.py", _faults),
    Block("error-classes", "targets.md", "harness/targets/_errors.py", _error_classes),
    Block("seeded-bugs", "server.md", "harness/server/_bugs.py", _seeded_bugs),
    Block("valkey-target", "targets.md", "harness/targets/builtin/valkey.toml", _valkey_target),
)


# -- markers --------------------------------------------------------------------------------


def _begin(block: Block) -> str:
    return f"<!-- BEGIN GENERATED: {block.name} ({FIX_COMMAND}; edit {block.source}) -->"


def _end(block: Block) -> str:
    return f"<!-- END GENERATED: {block.name} -->"


def render_block(block: Block) -> str:
    """The whole generated region of ``block``, markers included."""
    return f"{_begin(block)}\n{block.render().rstrip()}\n{_end(block)}"


def _region(text: str, block: Block, where: str) -> tuple[int, int]:
    """Start and end offsets of ``block``'s region (markers included) in ``text``."""
    begin = re.compile(rf"^<!-- BEGIN GENERATED: {re.escape(block.name)}\b.*-->[ \t]*$", re.M)
    end = re.compile(rf"^<!-- END GENERATED: {re.escape(block.name)} -->[ \t]*$", re.M)
    begins, ends = list(begin.finditer(text)), list(end.finditer(text))
    if len(begins) != 1 or len(ends) != 1 or ends[0].start() < begins[0].end():
        raise DocsError(
            f"{where}: needs exactly one '<!-- BEGIN GENERATED: {block.name} ... -->' line "
            f"followed by one '{_end(block)}' line (found {len(begins)} and {len(ends)}); "
            f"put them where the {block.name} table belongs, then run {FIX_COMMAND}"
        )
    return begins[0].start(), ends[0].end()


def update_text(text: str, blocks: Iterable[Block], where: str) -> str:
    """``text`` with the region of each of ``blocks`` replaced by its fresh rendering."""
    for block in blocks:
        start, end = _region(text, block, where)
        text = text[:start] + render_block(block) + text[end:]
    return text


def _by_file(docs_dir: Path) -> dict[Path, list[Block]]:
    out: dict[Path, list[Block]] = {}
    for block in BLOCKS:
        out.setdefault(docs_dir / block.file, []).append(block)
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DocsError(
            f"{path}: cannot be read ({exc.strerror}); run from the repository root or pass "
            "--docs-dir"
        ) from None


def check_docs(docs_dir: Path) -> list[str]:
    """One line per generated table that is stale in ``docs_dir`` (empty: all fresh)."""
    problems: list[str] = []
    for path, blocks in _by_file(docs_dir).items():
        text = _read(path)
        for block in blocks:
            start, end = _region(text, block, str(path))
            if text[start:end] != render_block(block):
                problems.append(
                    f"{path}: the generated {block.name!r} table is stale "
                    f"(its data is in {block.source}); run: {FIX_COMMAND}"
                )
    return problems


def write_docs(docs_dir: Path) -> list[Path]:
    """Rewrite every generated table in ``docs_dir``; returns the files that changed."""
    changed: list[Path] = []
    for path, blocks in _by_file(docs_dir).items():
        text = _read(path)
        new = update_text(text, blocks, str(path))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
