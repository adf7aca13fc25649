"""The TLA+ spec and the Python model agree.

For the same constants (each .cfg of specs/ read into ``models.Params``):

- TLC gives every configuration its pinned result (what ``ackbound spec check --all`` does);
- the Python explorer visits exactly as many distinct states as TLC, to the same depth, and
  finds no violation where TLC finds none;
- every buggy configuration is refuted by both, on the same invariant, with counterexamples
  of the same (shortest) length; TLC's counterexample replays through the Python model step
  by step, each step an event named like TLC's action; without its bug, the configuration
  passes;
- on small constants the two reachable state sets are identical (TLC's ``-dump``).
"""

from __future__ import annotations

import shutil
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from harness.spec import (
    ConfigCheck,
    Manifest,
    Tlc,
    load_manifest,
    params_from_cfg,
    parse_dump,
    read_cfg,
    replay,
    run_tlc,
    state_from_tlc,
)
from models import INVARIANTS, Params, State, explore, init, successors

MANIFEST = load_manifest()
SMALL = [c.name for c in MANIFEST.tier("small")]
BUGGY = [c.name for c in MANIFEST.tier("buggy")]
SPECS = MANIFEST.specs_dir


def params_of(manifest: Manifest, name: str) -> Params:
    return params_from_cfg(read_cfg(manifest.get(name).cfg))  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALL + BUGGY)
def test_tlc_gives_the_pinned_result(name: str, tlc_check: Callable[[str], ConfigCheck]) -> None:
    check = tlc_check(name)
    assert check.ok, f"{name}: {'; '.join(check.problems)}"


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALL)
def test_python_explores_the_same_states_as_tlc(
    name: str, manifest: Manifest, tlc_check: Callable[[str], ConfigCheck]
) -> None:
    entry = manifest.get(name)
    found = explore(params_of(manifest, name))
    tlc = tlc_check(name).result
    assert tlc.outcome == "pass", tlc.error
    assert found.complete and found.violation is None, found.violation
    assert found.distinct_states == tlc.distinct_states == entry.distinct_states
    # TLC on two workers may report a larger depth (its search is only roughly breadth
    # first); the pin was taken on one worker.
    assert found.depth == entry.depth


@pytest.mark.parametrize("name", BUGGY)
def test_buggy_configs_are_refuted_by_both(
    name: str, manifest: Manifest, tlc_check: Callable[[str], ConfigCheck]
) -> None:
    entry = manifest.get(name)
    params = params_of(manifest, name)
    assert {b.value for b in params.bugs} == {name}, "a buggy config switches on its own bug"
    found = explore(params)
    tlc = tlc_check(name).result
    assert found.violation is not None
    assert found.violation.invariant == tlc.outcome == entry.expect
    assert len(found.violation.trace) == len(tlc.trace) == entry.trace_length

    steps = replay(tlc.trace, params)
    for s in steps[1:]:
        assert type(s.event).__name__ == s.tlc.action, "spec actions and events share names"
    for s in steps[:-1]:
        assert all(pred(s.state) for pred in INVARIANTS.values())
    assert not INVARIANTS[entry.expect](steps[-1].state)


@pytest.mark.slow
@pytest.mark.parametrize("name", BUGGY)
def test_without_its_bug_a_buggy_config_passes(name: str, manifest: Manifest) -> None:
    params = params_of(manifest, name)
    found = explore(replace(params, bugs=frozenset()))
    assert found.complete and found.violation is None


def reachable(params: Params) -> set[State]:
    seen = {init(params)}
    todo = deque(seen)
    while todo:
        for _, t in successors(todo.popleft()):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


TINY = {
    "sync-same-az": """
        Zones = {{n1, n2}, {n3}}  InitPrimary = n1  Mode = "sync"  SyncReplicas = 1
        LagLimit = 1  SyncTimeout = 1  MaxWrites = 1  MaxTime = 1  MaxCrashes = 1
        CuttableLinks = {{n1, n3}}  Bugs = {}""",
    "async-two-nodes": """
        Zones = {{n1}, {n2}}  InitPrimary = n2  Mode = "async"  SyncReplicas = 1
        LagLimit = 0  SyncTimeout = 1  MaxWrites = 2  MaxTime = 2  MaxCrashes = 1
        CuttableLinks = {{n1, n2}}  Bugs = {}""",
    "none-skip-entry": """
        Zones = {{n1}, {n2}, {n3}}  InitPrimary = n1  Mode = "none"  SyncReplicas = 1
        LagLimit = 1  SyncTimeout = 1  MaxWrites = 2  MaxTime = 0  MaxCrashes = 1
        CuttableLinks = {}  Bugs = {"skip-entry"}""",
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_reachable_state_sets_are_identical(name: str, tlc: Tlc, tmp_path: Path) -> None:
    for module in SPECS.glob("*.tla"):
        shutil.copy(module, tmp_path)
    cfg = tmp_path / f"{name}.cfg"
    cfg.write_text(f"CONSTANTS {TINY[name]}\nINIT Init\nNEXT Next\n", encoding="utf-8")
    dump = tmp_path / "states"
    result = run_tlc(tlc, cfg, extra=("-dump", str(dump)))
    assert result.outcome == "pass", result.error
    params = params_from_cfg(read_cfg(cfg))
    tlc_states = {
        state_from_tlc(v, params)
        for v in parse_dump((tmp_path / "states.dump").read_text(encoding="utf-8"))
    }
    py_states = reachable(params)
    assert len(tlc_states) == result.distinct_states
    assert tlc_states == py_states, (
        f"only TLC: {list(tlc_states - py_states)[:3]}; "
        f"only Python: {list(py_states - tlc_states)[:3]}"
    )
