"""``python -m harness.server --port P ...`` starts the bundled server (how the harness does)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from harness.server._cli import register, run


class _Parser(argparse.ArgumentParser):
    """A bad flag is one line and exit 3 (could not run), as with ``ackbound server``."""

    def error(self, message: str) -> NoReturn:
        self.exit(3, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def main() -> int:
    parser = _Parser(
        prog="python -m harness.server", description="The bundled ackbound reference server."
    )
    register(parser)
    return run(parser.parse_args())


sys.exit(main())
