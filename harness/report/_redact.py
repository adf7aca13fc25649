"""Keep secrets out of results.json: redact passwords in a recorded command line.

A run records its command line so that a report says how it was produced. Command lines
carry secrets (``--password``, ``--requirepass``, URLs with credentials); every report file
is meant to be shared, so the recorded copy replaces each secret with ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["REDACTED", "redact_argv", "redact_text"]

REDACTED = "***"

# Flags whose value is a secret, matched on the flag's name without its leading dashes.
_SECRET_FLAG = re.compile(
    r"^(?:.*[-_])?(?:pass|passwd|password|requirepass|masterauth|auth|secret|token|"
    r"credentials?|api[-_]?key|access[-_]?key|private[-_]?key[-_]?password)$",
    re.IGNORECASE,
)
# Single-letter flags that take a password in the tools people pass through (redis-cli -a).
_SECRET_SHORT = frozenset({"-a"})
# scheme://user:password@host and scheme://password@host (redis URLs accept both). The
# userinfo runs to the last @ of the authority, as URL parsers read it: a password may hold @.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")
# key=value pairs naming a secret, inside any argument (query strings, config options). The
# value is a quoted string, or runs to the next & or space: a password may hold , or ; (what
# follows it in the argument is redacted too, which is the safe way to be wrong).
_KEY_VALUE = re.compile(
    r"(?P<key>\b[\w.-]*?(?:pass|passwd|password|requirepass|masterauth|auth|secret|token|"
    r"api[-_]?key))(?P<sep>=)(?P<value>\"[^\"]*\"?|'[^']*'?|[^&\s]*)",
    re.IGNORECASE,
)


def _redact_userinfo(m: re.Match[str]) -> str:
    userinfo = m.group("userinfo")
    if not userinfo:
        return m.group(0)
    user, colon, _password = userinfo.partition(":")
    if colon:
        return f"{m.group('scheme')}{user}:{REDACTED}@"
    # One part only: redis clients read ``redis://secret@host`` as a password.
    return f"{m.group('scheme')}{REDACTED}@"


def redact_text(text: str) -> str:
    """Redact URL credentials and ``password=...``-style pairs anywhere in ``text``."""
    text = _URL_USERINFO.sub(_redact_userinfo, text)
    return _KEY_VALUE.sub(
        lambda m: f"{m.group('key')}{m.group('sep')}{REDACTED if m.group('value') else ''}", text
    )


def _is_secret_flag(arg: str) -> bool:
    if arg in _SECRET_SHORT:
        return True
    if not arg.startswith("--"):
        return False
    return bool(_SECRET_FLAG.match(arg[2:]))


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A copy of ``argv`` with every secret replaced by ``***``.

    - ``--password X``, ``--requirepass X``, ``--auth X``, ``--token X``, ``-a X`` (and any
      flag whose name ends in such a word, e.g. ``--target-password``): X is redacted, in
      both the ``--flag X`` and the ``--flag=X`` forms;
    - ``redis://user:pass@host``, ``rediss://:pass@host``: the password is redacted (any
      scheme; ``redis://secret@host``, with a single part, is redacted whole);
    - ``password=X`` / ``requirepass=X`` inside any argument (query strings, options).
    """
    out: list[str] = []
    redact_next = False
    for arg in argv:
        if redact_next:
            redact_next = False
            if not arg.startswith("--"):  # else the flag was a switch: --no-auth --seed 1
                out.append(REDACTED)
                continue
        if arg.startswith("-") and "=" in arg:
            flag, _eq, _value = arg.partition("=")
            if _is_secret_flag(flag):
                out.append(f"{flag}={REDACTED}")
                continue
        elif _is_secret_flag(arg):
            out.append(arg)
            redact_next = True
            continue
        out.append(redact_text(arg))
    return out
