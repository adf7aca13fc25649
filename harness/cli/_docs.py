"""``ackbound docs``: check or rewrite the reference tables generated from the registries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness._errors import EXIT_VALID, EXIT_VIOLATED
from harness.cli._paths import path_arg

__all__ = ["register", "run"]


def register(p: argparse.ArgumentParser) -> None:
    action = p.add_mutually_exclusive_group()
    action.add_argument(
        "--check",
        action="store_true",
        help="exit 1 naming every stale table (the default)",
    )
    action.add_argument("--write", action="store_true", help="rewrite the stale tables")
    p.add_argument(
        "--docs-dir",
        type=path_arg,
        default=Path("docs"),
        metavar="DIR",
        help="the documentation directory (default ./docs)",
    )


def run(args: argparse.Namespace) -> int:
    from harness._docs import BLOCKS, check_docs, write_docs

    if args.write:
        changed = write_docs(args.docs_dir)
        for path in changed:
            print(f"rewrote {path}")
        if not changed:
            print(f"{len(BLOCKS)} generated tables in {args.docs_dir} are up to date")
        return EXIT_VALID
    problems = check_docs(args.docs_dir)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        return EXIT_VIOLATED
    print(f"{len(BLOCKS)} generated tables in {args.docs_dir} are up to date")
    return EXIT_VALID
