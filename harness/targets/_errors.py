"""The error registry: what a RESP error reply means for the write that received it.

Every outcome of a client operation is one of three op types (docs/history.md): ``ok``,
``fail`` (definitely not applied) or ``info`` (may or may not have been applied). A server's
error reply has to be mapped onto that, and the mapping decides what the checker may conclude,
so it lives in one place:

- ``rejected`` — the server refused the write *before applying it* for a durability or
  availability reason (too few replicas, lag over the limit, loading, out of memory). Recorded
  as ``fail``; the write must never be read afterwards (``rejected-writes-not-applied``).
- ``failed`` — the request itself was refused (wrong type, syntax, a replica that is read-only,
  a redirect). Recorded as ``fail``.
- ``indeterminate`` — anything else: a timeout, a reset connection, an error this registry does
  not know. Recorded as ``info``. When in doubt, indeterminate: calling a write that did happen
  ``fail`` would make the checker report a phantom where there is none.

Errors are matched by the longest registered prefix of the reply text (``"ERR syntax error"``
beats ``"ERR"``); matching is case-sensitive, like RESP error codes. Each target may override
or add entries (``[errors]`` in its target file).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "DEFAULT_ERRORS",
    "ERROR_CLASSES",
    "ErrorClass",
    "ErrorRegistry",
    "op_type_for",
]

ErrorClass = Literal["rejected", "failed", "indeterminate"]
ERROR_CLASSES: Final = ("rejected", "failed", "indeterminate")

# The default registry, shared by every target. Keep each group sorted.
DEFAULT_ERRORS: Final[Mapping[str, ErrorClass]] = {
    # Refused up front for durability / availability: nothing was applied.
    "BUSY": "rejected",
    "CLUSTERDOWN": "rejected",
    "LOADING": "rejected",
    "MASTERDOWN": "rejected",
    "MISCONF": "rejected",
    "NOREPLICAS": "rejected",
    "NOSYNCREPLICAS": "rejected",
    "OOM": "rejected",
    "TRYAGAIN": "rejected",
    # The request itself was refused: nothing was applied.
    "ASK": "failed",
    "ERR syntax error": "failed",
    "ERR unknown command": "failed",
    "ERR value is not an integer": "failed",
    "ERR wrong number of arguments": "failed",
    "EXECABORT": "failed",
    "MOVED": "failed",
    "NOAUTH": "failed",
    "NOPERM": "failed",
    "NOSCRIPT": "failed",
    "READONLY": "failed",
    "WRONGPASS": "failed",
    "WRONGTYPE": "failed",
    # Applied or not: nobody knows.
    "SYNCTIMEOUT": "indeterminate",
    "UNBLOCKED": "indeterminate",
}


def op_type_for(error_class: ErrorClass) -> Literal["fail", "info"]:
    """The history op type of a write that got an error of this class."""
    return "info" if error_class == "indeterminate" else "fail"


@dataclass(frozen=True)
class ErrorRegistry:
    """RESP error prefixes → error classes, longest prefix first."""

    entries: Mapping[str, ErrorClass] = field(default_factory=lambda: dict(DEFAULT_ERRORS))

    def __post_init__(self) -> None:
        for prefix, cls in self.entries.items():
            if cls not in ERROR_CLASSES:
                raise ValueError(
                    f"error registry entry {prefix!r} has class {cls!r}; "
                    f"use one of {', '.join(ERROR_CLASSES)}"
                )
            if not prefix or prefix != prefix.strip():
                raise ValueError(
                    f"error registry prefix {prefix!r} must be non-empty with no outer spaces"
                )

    def with_overrides(self, overrides: Mapping[str, ErrorClass]) -> ErrorRegistry:
        """A registry with ``overrides`` added on top (a target's ``[errors]`` table)."""
        merged = dict(self.entries)
        merged.update(overrides)
        return ErrorRegistry(merged)

    def classify(self, error: str) -> ErrorClass:
        """The class of a server error reply (without the leading ``-``).

        Unknown errors are ``indeterminate``. A prefix matches at a word boundary only, so
        ``"ASK"`` does not match ``"ASKING failed"``.
        """
        text = error.lstrip("-")
        best: tuple[int, ErrorClass] | None = None
        for prefix, cls in self.entries.items():
            matches = text.startswith(prefix) and (
                len(text) == len(prefix) or not _word(text[len(prefix)])
            )
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), cls)
        return "indeterminate" if best is None else best[1]


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"
