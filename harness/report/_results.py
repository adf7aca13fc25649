"""results.json: the RunResult as JSON, and a hand-written validator for it.

The document is described field by field in docs/results.md. ``validate_results`` checks
the types *and* the arithmetic that ties the verdicts together (a property's verdict
follows from its counts; a mode's from its properties; the run's from its modes), so a
document that passes can be trusted by a CI script that only reads ``valid``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness._errors import AckboundError
from harness.report._merge import merge_verdicts, verdict_from_counts
from harness.report._model import MODES, RESULTS_SCHEMA, RunResult

__all__ = [
    "REPLAY_OPTIONS",
    "dump_results",
    "load_results",
    "newer_schema",
    "results_json",
    "validate_results",
]

_SCHEMA_RE = re.compile(r"^ackbound-results/(\d+)$")


def results_json(result: RunResult) -> str:
    """The results.json text for ``result`` (indented, UTF-8, ends with a newline)."""
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def dump_results(result: RunResult, path: str | os.PathLike[str]) -> Path:
    """Write results.json atomically (a temporary file renamed into place)."""
    p = Path(path)
    text = results_json(result)
    tmp = p.with_name(f".{p.name}.tmp")
    # A path that is not UTF-8 (a file name's undecodable bytes, kept as lone surrogates)
    # is written as the JSON escape \udcXX, which reads back as the same string.
    tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
    os.replace(tmp, p)
    return p


def load_results(path: str | os.PathLike[str]) -> RunResult:
    """Read and validate a results.json; every problem is a one-line :class:`AckboundError`."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AckboundError(
            f"{p}: no such file; pass a run directory or its results.json"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AckboundError(f"{p}: cannot read it ({exc}); is this a results.json?") from None
    except json.JSONDecodeError as exc:
        raise AckboundError(f"{p}: not valid JSON ({exc}); the run may have been killed") from None
    problems = validate_results(doc, strict=False)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise AckboundError(f"{p}: not a valid results document: {problems[0]}{more}")
    return RunResult.from_json(doc)


# -- the validator -----------------------------------------------------------------------------

_Check = Callable[[Any], bool]


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_num(v: Any) -> bool:
    return type(v) is int or (type(v) is float and math.isfinite(v))


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_bool(v: Any) -> bool:
    return type(v) is bool


def _is_verdict(v: Any) -> bool:
    return v is True or v is False or v == "unknown"


def _nullable(check: _Check) -> _Check:
    return lambda v: v is None or check(v)


def _non_negative(check: _Check) -> _Check:
    return lambda v: check(v) and v >= 0


def _is_time(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        t = _dt.datetime.fromisoformat(v)
    except ValueError:
        return False
    return t.utcoffset() == _dt.timedelta(0)


def _list_of(check: _Check) -> _Check:
    return lambda v: type(v) is list and all(check(x) for x in v)


def _is_obj(v: Any) -> bool:
    return type(v) is dict


_EXPECT: dict[_Check, str] = {
    _is_int: "an integer",
    _is_num: "a number",
    _is_str: "a string",
    _is_bool: "true or false",
    _is_verdict: 'true, false or "unknown"',
    _is_time: 'an ISO 8601 UTC time such as "2024-05-01T12:00:00.000Z"',
    _is_obj: "an object",
}


class _V:
    """Collects problems, each as 'path: what was expected; what was found'."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.problems: list[str] = []

    def bad(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def obj(
        self,
        path: str,
        v: Any,
        fields: Mapping[str, tuple[_Check, str]],
        optional: Mapping[str, tuple[_Check, str]] | None = None,
    ) -> bool:
        """Check an object's required and optional fields; False if ``v`` is no object."""
        if type(v) is not dict:
            self.bad(path, f"expected an object; got {_kind(v)}")
            return False
        optional = optional or {}
        for name, (check, expect) in fields.items():
            if name not in v:
                self.bad(path, f"missing the field {name!r} ({expect})")
            elif not check(v[name]):
                self.bad(f"{path}.{name}", f"expected {expect}; got {_short(v[name])}")
        for name, (check, expect) in optional.items():
            if name in v and not check(v[name]):
                self.bad(f"{path}.{name}", f"expected {expect}; got {_short(v[name])}")
        if self.strict:
            unknown = sorted(set(v) - set(fields) - set(optional))
            if unknown:
                self.bad(path, f"unknown field(s) {unknown}; see docs/results.md")
        return True


def _kind(v: Any) -> str:
    kinds: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return kinds.get(type(v)) or _short(v)


def _short(v: Any) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _f(check: _Check, expect: str | None = None) -> tuple[_Check, str]:
    return check, expect or _EXPECT.get(check, "a valid value")


_NULL_STR = _f(_nullable(_is_str), "a string or null")
_SHRINK_ENDS = '"complete", "budget" or "interrupted"'
_COUNT = _f(_non_negative(_is_int), "a non-negative integer")
_SECONDS = _f(_non_negative(_is_num), "a non-negative number of seconds")
_VERDICT = _f(_is_verdict)

_RUN_FIELDS = {
    "schema": _f(_is_str),
    "version": _f(_is_str),
    "started": _f(_is_time),
    "finished": _f(_nullable(_is_time), "an ISO 8601 UTC time or null"),
    "duration_s": _SECONDS,
    "complete": _f(_is_bool),
    "argv": _f(_list_of(_is_str), "a list of strings"),
    "target": _f(_is_obj),
    "topology": _f(_is_obj),
    "seed": _f(_nullable(_is_int), "an integer or null"),
    "budget_s": _f(_nullable(_non_negative(_is_num)), "a non-negative number or null"),
    "valid": _VERDICT,
    "exit_code": _COUNT,
    "error": _NULL_STR,
    "modes": _f(_is_obj),
}
_TARGET_FIELDS = {
    "name": _f(_is_str),
    "backend": _NULL_STR,
    "file": _NULL_STR,
    "bug": _NULL_STR,
    "client": _NULL_STR,
}
_NODE_FIELDS = {"name": _f(_is_str), "az": _f(_is_str)}
_TOPOLOGY_FIELDS = {"nodes": _f(_list_of(_is_obj), "a list of objects"), "primary": _NULL_STR}
_MODE_FIELDS = {
    "mode": _f(_is_str),
    "valid": _VERDICT,
    "params": _f(_is_obj),
    "examples": _COUNT,
    "steps": _COUNT,
    "duration_s": _SECONDS,
    "faults_fired": _f(_is_obj),
    "properties": _f(_is_obj),
    "stats": _f(_is_obj),
    "failure": _f(_nullable(_is_obj), "an object or null"),
    "example_records": _f(_list_of(_is_obj), "a list of objects"),
}
_PROPERTY_FIELDS = {
    "valid": _VERDICT,
    "summary": _f(_is_str),
    "examples_with_evidence": _COUNT,
    "examples_violated": _COUNT,
    "examples_errored": _COUNT,
    "first_violation": _f(_nullable(_is_obj), "an object or null"),
}
_FIRST_VIOLATION_FIELDS = {
    "example": _f(_is_str),
    "witnesses": _f(_list_of(_is_obj), "a list of objects"),
    "witness_count": _COUNT,
    "explanation": _f(_is_str),
}
_STATS_FIELDS = {
    "attempted": _COUNT,
    "acknowledged": _COUNT,
    "rejected": _COUNT,
    "indeterminate": _COUNT,
    "lost": _COUNT,
    "acknowledged_judged": _COUNT,
    "failovers": _COUNT,
    "lag_observations": _COUNT,
    "loss_window_s": _SECONDS,
    "max_lag_ms": _f(_nullable(_is_int), "an integer or null"),
    "write_latency_ms": _f(_is_obj),
}
_LATENCY_FIELDS = {
    "count": _COUNT,
    "p50": _f(_nullable(_non_negative(_is_num)), "a non-negative number or null"),
    "p99": _f(_nullable(_non_negative(_is_num)), "a non-negative number or null"),
    "max": _f(_nullable(_non_negative(_is_num)), "a non-negative number or null"),
}
_FAILURE_FIELDS = {
    "example": _f(_is_str),
    "steps": _f(_list_of(_is_obj), "a list of {rule, args} objects"),
    "program": _f(_is_str),
    "shrunk": _f(_is_bool),
    "flaky": _f(_is_bool),
    "violated": _f(_list_of(_is_str), "a list of property names"),
    "history": _NULL_STR,
    "check": _f(_nullable(_is_obj), "a checker result object or null"),
}
_POSITIVE = _f(lambda v: _is_int(v) and v >= 1, "an integer ≥ 1")
# A failure's options: how the run set its cluster up (all optional; a replay uses them).
_OPTION_FIELDS = {
    "backend": _f(lambda v: v in ("local", "docker"), '"local" or "docker"'),
    "lag_limit_ms": _f(_nullable(_non_negative(_is_int)), "a non-negative integer or null"),
    "sync_timeout_ms": _f(_nullable(lambda v: _is_int(v) and v >= 1), "an integer ≥ 1 or null"),
    "sync_replicas": _POSITIVE,
    "nodes": _POSITIVE,
    "azs": _POSITIVE,
    "image": _f(_is_str),
    "faults": _f(_list_of(_is_str), "a list of fault names"),
}
REPLAY_OPTIONS: frozenset[str] = frozenset(_OPTION_FIELDS)
"""The keyword arguments of ``replay_program`` a failure's ``options`` may record."""
_STEP_FIELDS = {"rule": _f(_is_str), "args": _f(_is_obj)}
_RECORD_FIELDS = {
    "id": _f(_is_str),
    "steps": _COUNT,
    "valid": _VERDICT,
    "violated": _f(_list_of(_is_str), "a list of property names"),
    "duration_s": _SECONDS,
    "history": _NULL_STR,
}
_ERROR_FIELD = {"error": _f(_is_str)}
_FAILURE_OPTIONAL = {
    **_ERROR_FIELD,
    "options": _f(_is_obj),
    "shrink": _f(lambda v: v in ("complete", "budget", "interrupted"), _SHRINK_ENDS),
}


def newer_schema(schema: object) -> bool:
    """Whether ``schema`` names a results format newer than this ackbound reads."""
    m = _SCHEMA_RE.match(schema) if isinstance(schema, str) else None
    return m is not None and int(m.group(1)) > 1


def validate_results(doc: Any, *, strict: bool = True) -> list[str]:
    """Problems with a results.json document; an empty list when it is valid.

    ``strict`` also rejects fields docs/results.md does not describe (tests use it; readers
    of newer minor revisions do not).
    """
    v = _V(strict)
    if not v.obj("$", doc, _RUN_FIELDS):
        return v.problems
    schema = doc.get("schema")
    if isinstance(schema, str):
        if _SCHEMA_RE.match(schema) is None:
            v.bad("$.schema", f'expected "{RESULTS_SCHEMA}"; got {_short(schema)}')
        elif newer_schema(schema):
            v.bad("$.schema", f"{schema} is newer than this ackbound reads; upgrade ackbound")
    if _is_obj(doc.get("target")):
        v.obj("$.target", doc["target"], _TARGET_FIELDS)
    if _is_obj(doc.get("topology")):
        topo = doc["topology"]
        if v.obj("$.topology", topo, _TOPOLOGY_FIELDS) and type(topo.get("nodes")) is list:
            for i, n in enumerate(topo["nodes"]):
                v.obj(f"$.topology.nodes[{i}]", n, _NODE_FIELDS)
    mode_verdicts = []
    if _is_obj(doc.get("modes")):
        for name, m in doc["modes"].items():
            path = f"$.modes.{name}"
            if name not in MODES:
                v.bad(path, "a mode is none, sync or async")
            if _validate_mode(v, path, name, m):
                mode_verdicts.append(m.get("valid"))
    if not v.problems:
        merged = merge_verdicts(mode_verdicts)
        if merged is True and (not doc["complete"] or doc["error"] is not None):
            merged = "unknown"
        if doc["valid"] != merged:
            v.bad("$.valid", f"is {_short(doc['valid'])} but its modes merge to {_short(merged)}")
    return v.problems


def _validate_mode(v: _V, path: str, name: str, m: Any) -> bool:
    n_problems = len(v.problems)
    if not v.obj(path, m, _MODE_FIELDS):
        return False
    if _is_str(m.get("mode")) and m["mode"] != name:
        v.bad(f"{path}.mode", f"is {m['mode']!r} but the mode is filed under {name!r}")
    if _is_obj(m.get("faults_fired")):
        for f, n in m["faults_fired"].items():
            if not (_is_int(n) and n >= 0):
                v.bad(
                    f"{path}.faults_fired.{f}", f"expected a non-negative integer; got {_short(n)}"
                )
    verdicts = []
    if _is_obj(m.get("properties")):
        for pname, p in m["properties"].items():
            verdicts.append(_validate_property(v, f"{path}.properties.{pname}", p, m))
    if _is_obj(m.get("stats")):
        st = m["stats"]
        if v.obj(f"{path}.stats", st, _STATS_FIELDS) and _is_obj(st.get("write_latency_ms")):
            v.obj(f"{path}.stats.write_latency_ms", st["write_latency_ms"], _LATENCY_FIELDS)
    failure = m.get("failure")
    if _is_obj(failure) and v.obj(f"{path}.failure", failure, _FAILURE_FIELDS, _FAILURE_OPTIONAL):
        steps = failure.get("steps")
        for i, s in enumerate(steps if type(steps) is list else []):  # v.obj named a non-list
            v.obj(f"{path}.failure.steps[{i}]", s, _STEP_FIELDS)
        if _is_obj(failure.get("options")):
            v.obj(f"{path}.failure.options", failure["options"], {}, _OPTION_FIELDS)
        if failure.get("violated"):
            verdicts.append(False)
    records = m.get("example_records")
    if type(records) is list:
        for i, r in enumerate(records):
            v.obj(f"{path}.example_records[{i}]", r, _RECORD_FIELDS, _ERROR_FIELD)
        if _is_int(m.get("examples")) and len(records) != m["examples"]:
            v.bad(
                f"{path}.example_records",
                f"has {len(records)} records for {m['examples']} examples",
            )
    if len(v.problems) == n_problems and m["valid"] != merge_verdicts(verdicts):
        v.bad(
            f"{path}.valid",
            f"is {_short(m['valid'])} but its properties merge to {_short(merge_verdicts(verdicts))}",
        )
    return True


def _validate_property(v: _V, path: str, p: Any, mode: dict[str, Any]) -> Any:
    n_problems = len(v.problems)
    if not v.obj(path, p, _PROPERTY_FIELDS, _ERROR_FIELD):
        return "unknown"
    fv = p.get("first_violation")
    if _is_obj(fv):
        v.obj(f"{path}.first_violation", fv, _FIRST_VIOLATION_FIELDS)
    if len(v.problems) > n_problems:
        return p.get("valid")
    ev, vi, er = p["examples_with_evidence"], p["examples_violated"], p["examples_errored"]
    if vi > ev:
        v.bad(path, f"examples_violated ({vi}) exceeds examples_with_evidence ({ev})")
    if _is_int(mode.get("examples")) and ev + er > mode["examples"]:
        v.bad(path, f"counts {ev + er} examples judged or errored of {mode['examples']}")
    expected = verdict_from_counts(with_evidence=ev, violated=vi, errored=er)
    if p["valid"] != expected:
        v.bad(f"{path}.valid", f"is {_short(p['valid'])} but its counts give {_short(expected)}")
    if vi and fv is None:
        v.bad(f"{path}.first_violation", "is null although an example violated the property")
    if not vi and fv is not None:
        v.bad(f"{path}.first_violation", "is set although no example violated the property")
    return p["valid"]
