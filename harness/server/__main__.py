"""``python -m harness.server --port P ...`` starts the bundled server (how the harness does)."""

from __future__ import annotations

import argparse
import sys

from harness.server._cli import register, run


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.server", description="The bundled ackbound reference server."
    )
    register(parser)
    return run(parser.parse_args())


sys.exit(main())
