"""``python -m harness.server --port P ...`` starts the bundled server (how the harness does)."""

from __future__ import annotations

import sys

from harness.server._cli import Parser, register, run


def main() -> int:
    parser = Parser(
        prog="python -m harness.server", description="The bundled ackbound reference server."
    )
    register(parser)
    return run(parser.parse_args())


sys.exit(main())
