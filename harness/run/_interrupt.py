"""Ctrl-C (or SIGTERM) during a run: stop at the next safe point, then write the reports.

Python delivers SIGINT as a KeyboardInterrupt wherever the main thread happens to be —
possibly inside a garbage-collector callback, where the exception is printed and lost.
So a run installs its own handler: the first Ctrl-C only sets :data:`INTERRUPTED`, and the
run raises KeyboardInterrupt itself at the next step, wait or batch boundary, where every
layer can clean up. A second Ctrl-C interrupts at once, as usual.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["INTERRUPTED", "check_interrupted", "interrupted_by", "sigint_to_flag"]

INTERRUPTED = threading.Event()
_BY: list[str] = ["Ctrl-C"]  # what set INTERRUPTED last: "Ctrl-C" or "SIGTERM"


def interrupted_by() -> str:
    """What interrupted the run: ``Ctrl-C`` (SIGINT) or ``SIGTERM`` (a CI job's timeout)."""
    return _BY[0]


def check_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed since the run began."""
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigint_to_flag() -> Iterator[None]:
    """Within the block, the first Ctrl-C sets :data:`INTERRUPTED` instead of raising."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _BY[0] = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        if INTERRUPTED.is_set():
            raise KeyboardInterrupt
        INTERRUPTED.set()

    previous = signal.signal(signal.SIGINT, handler)
    previous_term = signal.signal(signal.SIGTERM, handler)  # a CI job's timeout, say
    INTERRUPTED.clear()
    _BY[0] = "Ctrl-C"
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
