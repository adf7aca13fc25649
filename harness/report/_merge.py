"""How verdicts and figures combine across properties, examples and modes (pure functions).

A conformance run judges many examples per mode. Two merges are in play, and they differ:

- **Across properties and modes** (Jepsen's ``valid-priorities``): ``false`` beats
  ``"unknown"`` beats ``true``; nothing at all to merge is ``"unknown"``.
- **One property across the examples of a mode**: violated if any example violated it;
  valid if some example had evidence (a ``true`` or ``false`` verdict) and none violated it;
  unknown otherwise. A property whose check *crashed* in some example is ``"unknown"``
  unless another example violated it: a crash is never a pass, and it may have hidden a
  violation.

Pooled percentiles use the checker's nearest-rank rule on the pooled raw values, so one
example pooled alone gives exactly the checker's figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from harness._errors import EXIT_UNKNOWN, EXIT_VALID, EXIT_VIOLATED
from harness.checker import Verdict

__all__ = [
    "exit_code_for",
    "merge_over_examples",
    "merge_verdicts",
    "percentile",
    "verdict_from_counts",
    "verdict_name",
]


def merge_verdicts(verdicts: Iterable[Verdict]) -> Verdict:
    """Merge over properties or modes: ``false`` > ``"unknown"`` > ``true``; empty is unknown."""
    seen_any = seen_unknown = False
    for v in verdicts:
        seen_any = True
        if v is False:
            return False
        if v is not True:
            seen_unknown = True
    if not seen_any or seen_unknown:
        return "unknown"
    return True


def verdict_from_counts(*, with_evidence: int, violated: int, errored: int = 0) -> Verdict:
    """One property over the examples of a mode, from its counts (see the module doc)."""
    if violated:
        return False
    if errored:
        return "unknown"
    return True if with_evidence else "unknown"


def merge_over_examples(verdicts: Iterable[Verdict], *, errored: int = 0) -> Verdict:
    """One property over examples, from the per-example verdicts.

    ``errored`` counts the examples whose check of the property crashed (their verdict is
    ``"unknown"`` and is also in ``verdicts``).
    """
    evidence = violated = 0
    for v in verdicts:
        if v is False:
            violated += 1
            evidence += 1
        elif v is True:
            evidence += 1
    return verdict_from_counts(with_evidence=evidence, violated=violated, errored=errored)


def verdict_name(valid: object) -> str:
    """The word for a verdict in tables and files: ``valid``, ``violated`` or ``unknown``."""
    if valid is True:
        return "valid"
    if valid is False:
        return "violated"
    return "unknown"


def exit_code_for(valid: object) -> int:
    """The exit status a verdict maps to: 0 valid, 1 violated, 2 unknown."""
    if valid is True:
        return EXIT_VALID
    if valid is False:
        return EXIT_VIOLATED
    return EXIT_UNKNOWN


def percentile(sorted_values: Sequence[int], q: float) -> int | None:
    """Nearest-rank percentile of already sorted values (the checker's rule); None if empty."""
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]
