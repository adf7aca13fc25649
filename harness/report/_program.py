"""The failing example as a program a person can paste and run (Hypothesis style).

A failure is a list of steps, each ``{"rule": name, "args": {...}}``. It is rendered as
Python that rebuilds the machine with ``harness.run.replay_program`` and calls one method
per step, so a bug report is runnable as it stands::

    # ackbound: acked-writes-survive violated in mode sync on target bundled (seed 42)
    # replay: ackbound replay runs/2024-05-01T120000
    from harness.run import replay_program
    state = replay_program(target="bundled", mode="sync", bug="sync-ack-before-replication", seed=42)
    state.write(workload="list", key=0)
    state.kill(node="primary")
    state.teardown()

Rendering is pure: the same header and steps always give the same text, byte for byte.
"""

from __future__ import annotations

import json
import keyword
import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["py_literal", "render_program"]


def py_literal(value: Any) -> str:
    """``value`` as Python source, strings in double quotes, stable across runs."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are all valid Python escapes.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        return repr(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, tuple):
        inner = ", ".join(py_literal(v) for v in value)
        return "(" + inner + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, set | frozenset):
        if not value:
            return "set()"
        return "{" + ", ".join(sorted(py_literal(v) for v in value)) + "}"
    return repr(value)


_SHRINK_CUT = {
    "budget": "shrinking stopped at --shrink-budget",
    "interrupted": "shrinking was interrupted",
}


def _identifier(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(
            f"{what} {name!r} is not a Python identifier; rule and argument names must be "
            "usable as state.<rule>(<arg>=...) in the rendered program"
        )
    return name


def _call(name: str, kwargs: Mapping[str, Any], what: str) -> str:
    args = ", ".join(f"{_identifier(k, what)}={py_literal(v)}" for k, v in kwargs.items())
    return f"{name}({args})"


def _first_line(header: Mapping[str, Any]) -> str:
    props = header.get("property") or header.get("properties") or []
    if isinstance(props, str):
        props = [props]
    what = f"{', '.join(props)} violated" if props else "example failed"
    where = f" in mode {header['mode']}" if header.get("mode") else ""
    target = f" on target {header['target']}" if header.get("target") else ""
    seed = f" (seed {header['seed']})" if header.get("seed") is not None else ""
    return f"# ackbound: {what}{where}{target}{seed}"


def render_program(header: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> str:
    """Render a failing example as a runnable program.

    ``header`` keys (all optional but ``target`` and ``mode``):

    - ``property``: the violated property name, or a list of names (``properties`` too);
    - ``target``, ``mode``, ``bug``, ``seed``: the run, passed on to ``replay_program``;
    - ``options``: further keyword arguments of ``replay_program``, in order;
    - ``run_dir``: shown in the ``ackbound replay`` line (``RUN_DIR`` when absent);
    - ``shrunk`` (default true), ``shrink`` (how it ended: ``complete``, ``budget`` or
      ``interrupted``) and ``flaky`` (default false): noted when unusual.

    Each step ``{"rule": name, "args": {...}}`` becomes ``state.<rule>(<kwargs>)``; a final
    ``state.teardown()`` is added unless the steps end with one. Raises ``ValueError`` for a
    rule or argument name that is not a Python identifier.
    """
    lines = [_first_line(header)]
    if header.get("flaky"):
        lines.append("# flaky: this example failed, then passed when run again")
    if header.get("shrunk") is False:
        lines.append("# not shrunk: this is the example as first found")
    if header.get("shrink") in _SHRINK_CUT:
        lines.append(f"# {_SHRINK_CUT[header['shrink']]}: a smaller failing example may exist")
    run_dir = header.get("run_dir")
    lines.append(f"# replay: ackbound replay {shlex.quote(run_dir) if run_dir else 'RUN_DIR'}")
    if not steps:
        lines.append("# no steps: the example's own start and final phase show the failure")
    lines.append("from harness.run import replay_program")
    call: dict[str, Any] = {}
    for k in ("target", "mode", "bug", "seed"):
        if header.get(k) is not None:
            call[k] = header[k]
    call.update(header.get("options") or {})
    lines.append("state = " + _call("replay_program", call, "replay option"))
    last_rule = None
    for i, step in enumerate(steps):
        rule = step.get("rule")
        args = step.get("args") or {}
        if not isinstance(args, Mapping):
            raise ValueError(f"step {i}: 'args' must be a mapping of argument name to value")
        lines.append(
            "state." + _call(_identifier(rule, f"step {i}: rule"), args, f"step {i}: argument")
        )
        last_rule = rule
    if last_rule != "teardown":
        lines.append("state.teardown()")
    return "\n".join(lines) + "\n"
