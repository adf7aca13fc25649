"""Errors the user can act on.

Every error a user can cause (bad flag, bad file, unreachable server, missing binary) is raised
as :class:`AckboundError` with a one-line message that names the object, the rule and the fix.
The CLI prints it as ``ackbound: error: <message>`` and exits with :data:`EXIT_COULD_NOT_RUN`.
"""

from __future__ import annotations

__all__ = [
    "EXIT_COULD_NOT_RUN",
    "EXIT_INTERRUPTED",
    "EXIT_UNKNOWN",
    "EXIT_VALID",
    "EXIT_VIOLATED",
    "AckboundError",
]

EXIT_VALID = 0
EXIT_VIOLATED = 1
EXIT_UNKNOWN = 2
EXIT_COULD_NOT_RUN = 3
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report a process SIGINT stopped


class AckboundError(Exception):
    """A problem the user can fix; ``str(exc)`` is a single line naming the fix."""

    exit_code: int = EXIT_COULD_NOT_RUN

    def __init__(self, message: str) -> None:
        # One line, whatever it quotes: a line break in a user's input (a file name, a
        # server's reply) is shown escaped. Add detail with add_note(), not line breaks.
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))
