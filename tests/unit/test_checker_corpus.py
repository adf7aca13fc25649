"""The checker against the hand-written corpus in tests/data/histories/.

Every history there has a sibling ``NAME.expected.json`` holding its exact expected result,
derived by hand from docs/semantics.md (the reasoning is in each history's header comment
and in tests/data/histories/README.md): the overall verdict, every applicable property's
verdict, the witnesses (kind and the op indices each cites) and the key stats. One test per
history asserts all of it at once.

A history the checker currently judges wrongly stays in the corpus asserting the right
answer, marked ``xfail(strict=True)`` in :data:`KNOWN_CHECKER_BUGS` so that the test flips to
an unexpected pass — and fails — the moment the checker is fixed; then delete the entry.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.checker import PROPERTIES, Params, applicable, check
from harness.history import History, load_history, parse_text
from models import Mode

CORPUS = Path(__file__).resolve().parent.parent / "data" / "histories"
HISTORY_SUFFIXES = (".txt", ".ndjson")
STATS_KEYS = ("attempted", "acknowledged", "rejected", "indeterminate", "lost", "loss_window_s")

# name -> why the checker's answer differs from the expected one (see the README's table).
KNOWN_CHECKER_BUGS: dict[str, str] = {}


def corpus_names() -> list[str]:
    return sorted(p.stem for p in CORPUS.iterdir() if p.suffix in HISTORY_SUFFIXES)


def history_path(name: str) -> Path:
    for suffix in HISTORY_SUFFIXES:
        p = CORPUS / f"{name}{suffix}"
        if p.exists():
            return p
    raise FileNotFoundError(name)


def load(name: str) -> History:
    path = history_path(name)
    if path.suffix == ".txt":
        return parse_text(path.read_text(encoding="utf-8"), source=path.name)
    return load_history(path)


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (CORPUS / f"{name}.expected.json").read_text(encoding="utf-8")
    )
    return data


def params_from_header(history: History) -> Params:
    """Params exactly as docs/history.md defines the header (times in ms); defaults otherwise."""
    h = history.header
    assert h.mode is not None, "every corpus history names its mode"
    p = h.params
    default = Params(mode=Mode(h.mode))

    def ns(key: str, fallback: int) -> int:
        return round(float(p[key]) * 1_000_000) if key in p else fallback

    return Params(
        mode=Mode(h.mode),
        sync_replicas=int(p.get("sync_replicas", default.sync_replicas)),
        sync_timeout=ns("sync_timeout_ms", default.sync_timeout),
        lag_limit=ns("lag_limit_ms", default.lag_limit),
        tolerance=ns("tolerance_ms", default.tolerance),
        recovery=ns("recovery_ms", default.recovery),
    )


def cited(witness: dict[str, Any]) -> dict[str, Any]:
    """A witness reduced to its kind and the op indices it cites, by role.

    ``{"kind": "hole", "lost": {"ops": [2, 3], ...}, "survived": {"ops": [4, 5], ...}}``
    becomes ``{"kind": "hole", "lost": [2, 3], "survived": [4, 5]}``; a top-level list named
    ``ops`` or ``*_ops`` is kept as it is; anything else (times, values, text) is dropped.
    """
    out: dict[str, Any] = {"kind": witness["kind"]}
    for key, value in witness.items():
        if (key == "ops" or key.endswith("_ops")) and isinstance(value, list):
            out[key] = value
        elif isinstance(value, dict) and isinstance(value.get("ops"), list):
            out[key] = value["ops"]
    return out


def _sorted_witnesses(ws: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(ws, key=lambda w: json.dumps(w, sort_keys=True))


def observed(result: dict[str, Any], stats_keys: list[str]) -> dict[str, Any]:
    """The parts of a check result the corpus pins, in the expected files' shape."""
    props = {}
    for name, prop in result["properties"].items():
        assert prop["witness_count"] == len(prop["witnesses"]), "corpus cases are small"
        props[name] = {
            "valid": prop["valid"],
            "witnesses": _sorted_witnesses([cited(w) for w in prop["witnesses"]]),
        }
    return {
        "valid": result["valid"],
        "properties": props,
        "stats": {k: result["stats"][k] for k in stats_keys},
    }


def _normalised(exp: dict[str, Any]) -> dict[str, Any]:
    return {
        "valid": exp["valid"],
        "properties": {
            name: {"valid": p["valid"], "witnesses": _sorted_witnesses(p["witnesses"])}
            for name, p in exp["properties"].items()
        },
        "stats": exp["stats"],
    }


def _case(name: str) -> Any:
    reason = KNOWN_CHECKER_BUGS.get(name)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", [_case(n) for n in corpus_names()])
def test_checker_matches_expected_result(name: str) -> None:
    history = load(name)
    exp = expected(name)
    result = check(history, params_from_header(history), source=name)
    assert observed(result, list(exp["stats"])) == _normalised(exp)


# -- the corpus itself -----------------------------------------------------------------------


def test_every_history_has_an_expected_result_and_vice_versa() -> None:
    histories = set(corpus_names())
    results = {p.name.removesuffix(".expected.json") for p in CORPUS.glob("*.expected.json")}
    assert histories - results == set(), "histories without NAME.expected.json"
    assert results - histories == set(), "NAME.expected.json without a history"


def test_known_bugs_name_corpus_histories() -> None:
    assert set(KNOWN_CHECKER_BUGS) - set(corpus_names()) == set()


def test_every_expected_result_lists_exactly_the_applicable_properties_and_key_stats() -> None:
    bad = []
    for name in corpus_names():
        exp = expected(name)
        mode = Mode(load(name).header.mode or "")
        want = [p.name for p in applicable(mode)]
        if sorted(exp["properties"]) != sorted(want):
            bad.append(f"{name}: properties {sorted(exp['properties'])} != {sorted(want)}")
        if sorted(exp["stats"]) != sorted(STATS_KEYS):
            bad.append(f"{name}: stats keys {sorted(exp['stats'])}")
        merged = [p["valid"] for p in exp["properties"].values()]
        overall = False if False in merged else ("unknown" if "unknown" in merged else True)
        if exp["valid"] != overall:
            bad.append(f"{name}: overall {exp['valid']!r} is not the merge {overall!r}")
    assert bad == []


def test_names_say_the_verdict() -> None:
    """``PROPERTY--story`` violates PROPERTY; ``valid--`` is valid; ``unknown--`` is unknown."""
    names = {p.name for p in PROPERTIES}
    bad = []
    for name in corpus_names():
        head = name.split("--", 1)[0]
        exp = expected(name)
        if head == "valid":
            ok = exp["valid"] is True
        elif head == "unknown":
            ok = exp["valid"] == "unknown"
        else:
            ok = head in names and exp["properties"][head]["valid"] is False
        if not ok:
            bad.append(name)
    assert bad == []


def test_text_histories_open_with_a_story() -> None:
    bad = []
    for name in corpus_names():
        path = history_path(name)
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".txt":
            first = text.splitlines()[0]
            if not first.startswith("# ") or len(text.split("\n#")) < 4:
                bad.append(name)
        elif "story" not in load(name).header.extra:
            bad.append(name)
    assert bad == []


def test_corpus_covers_the_acceptance_criteria() -> None:
    verdicts = Counter(expected(n)["valid"] for n in corpus_names())
    assert verdicts[False] >= 20
    assert verdicts[True] >= 20

    seen: dict[str, set[object]] = {p.name: set() for p in PROPERTIES}
    modes: Counter[str] = Counter()
    workloads: dict[object, set[str]] = {True: set(), False: set()}
    suffixes: Counter[str] = Counter()
    for name in corpus_names():
        exp = expected(name)
        history = load(name)
        modes[history.header.mode or ""] += 1
        suffixes[history_path(name).suffix] += 1
        for prop, p in exp["properties"].items():
            seen[prop].add(p["valid"])
        if exp["valid"] in (True, False):
            workloads[exp["valid"]] |= {op.workload for op in history.ops if op.workload}
    assert {p: sorted(map(str, v)) for p, v in seen.items()} == {
        p.name: ["False", "True", "unknown"] for p in PROPERTIES
    }
    assert set(modes) == {"none", "sync", "async"}
    everything = {"register", "list", "set", "counter"}
    assert workloads == {True: everything, False: everything}
    assert suffixes[".ndjson"] >= 3


def test_readme_lists_every_history_and_marks_exactly_the_known_bugs() -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in readme.splitlines():
        if line.startswith("| `"):
            cell = line.split("|")[1]
            rows[cell.split("`")[1]] = "✗" in cell
    assert sorted(rows) == corpus_names()
    assert {name for name, marked in rows.items() if marked} == set(KNOWN_CHECKER_BUGS)
