"""The reference tables in docs/ match the registries they are generated from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness._docs import BLOCKS, FIX_COMMAND, DocsError, check_docs, render_block, update_text

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_generated_table_is_fresh() -> None:
    problems = check_docs(DOCS)
    assert not problems, "stale generated tables:\n" + "\n".join(problems)


def test_a_stale_table_is_named_with_its_file_and_the_fixing_command(tmp_path: Path) -> None:
    for block in BLOCKS:
        (tmp_path / block.file).write_text((DOCS / block.file).read_text())
    faults = tmp_path / "faults.md"
    faults.write_text(faults.read_text().replace("| `kill` |", "| `kill-9` |"))
    assert check_docs(tmp_path) == [
        f"{faults}: the generated 'faults' table is stale (its data is in "
        f"harness/faults/_registry.py); run: {FIX_COMMAND}"
    ]


def test_update_replaces_only_the_region_between_the_markers() -> None:
    block = next(b for b in BLOCKS if b.name == "properties")
    text = (
        "intro\n\n<!-- BEGIN GENERATED: properties -->\nold table\n"
        "<!-- END GENERATED: properties -->\n\noutro\n"
    )
    assert update_text(text, [block], "x.md") == f"intro\n\n{render_block(block)}\n\noutro\n"


@pytest.mark.parametrize(
    "text",
    [
        "no markers at all\n",
        "<!-- END GENERATED: properties -->\n<!-- BEGIN GENERATED: properties -->\n",
        "<!-- BEGIN GENERATED: properties -->\n<!-- END GENERATED: properties -->\n" * 2,
    ],
)
def test_missing_or_misplaced_markers_are_one_line_naming_the_file_and_fix(text: str) -> None:
    block = next(b for b in BLOCKS if b.name == "properties")
    with pytest.raises(DocsError) as info:
        update_text(text, [block], "docs/semantics.md")
    message = str(info.value)
    assert message.startswith("docs/semantics.md: needs exactly one")
    assert message.endswith(f"then run {FIX_COMMAND}")


def test_the_docs_command_checks_and_writes(tmp_path: Path) -> None:
    for block in BLOCKS:
        (tmp_path / block.file).write_text((DOCS / block.file).read_text())
    server = tmp_path / "server.md"
    fresh = server.read_text()
    server.write_text(fresh.replace("| `phantom-value` |", "| `phantom` |"))

    def docs(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "harness", "docs", *args, "--docs-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    stale = docs("--check")
    assert (stale.returncode, stale.stdout) == (1, "")
    assert stale.stderr.splitlines() == [
        f"{server}: the generated 'seeded-bugs' table is stale (its data is in "
        f"harness/server/_bugs.py); run: {FIX_COMMAND}"
    ]
    wrote = docs("--write")
    assert (wrote.returncode, wrote.stdout) == (0, f"rewrote {server}\n")
    assert server.read_text() == fresh
    assert docs().returncode == 0


def test_the_valkey_target_shown_in_full_is_the_whole_file() -> None:
    """The copy in docs/targets.md lacked tls_args, config_stdin and the replication fields,
    and its docker command ended in a literal '...'."""
    text = (DOCS / "targets.md").read_text(encoding="utf-8")
    builtin = Path(__file__).resolve().parents[2] / "harness/targets/builtin/valkey.toml"
    assert "```toml\n" + builtin.read_text(encoding="utf-8").rstrip("\n") + "\n```" in text
