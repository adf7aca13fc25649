"""The ``ackbound`` command line."""

from harness.cli._main import main

__all__ = ["main"]
