"""Command templates: strings with ``{placeholder}`` fields, checked when a target loads.

A template may use only the placeholders its context provides (a start command knows the
node's port and dir; a mode's setup knows the mode parameters). Checking at load time turns
a typo in a target file into an error that names the key, instead of a KeyError mid-run.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["TemplateProblem", "check_template", "render", "render_command"]

_FORMATTER = string.Formatter()


class TemplateProblem(ValueError):
    """What is wrong with one template (the loader adds the file and key)."""


def check_template(text: str, allowed: Iterable[str]) -> None:
    """Raise :class:`TemplateProblem` if ``text`` is malformed or uses a field not in ``allowed``."""
    allowed_set = set(allowed)
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise TemplateProblem(
            f"{text!r} is not a valid template ({exc}); write {{{{ and }}}} for literal braces"
        ) from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in allowed_set:
            choices = ", ".join("{" + a + "}" for a in sorted(allowed_set))
            raise TemplateProblem(
                f"{text!r} uses the unknown placeholder {{{field}}}; here you may use {choices}"
            )
        if spec or conversion:
            raise TemplateProblem(
                f"{text!r}: placeholders take no format spec or conversion; write {{{field}}}"
            )


def render(text: str, values: Mapping[str, object]) -> str:
    return text.format_map({k: str(v) for k, v in values.items()})


def render_command(command: Sequence[str], values: Mapping[str, object]) -> list[str]:
    return [render(part, values) for part in command]
