"""The shrinker, against a fake cluster whose examples fail by a rule of their steps."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.run._example import ExampleRecord
from harness.run._machine import DurabilityViolation
from harness.run._runner import _pick_failure
from harness.run._shrink import cost, reproduces, shrink_steps

Steps = list[dict[str, Any]]


class _Run:
    def __init__(self, budget_s: float = 60.0) -> None:
        self.shrink_deadline = time.monotonic() + budget_s
        self.stopping = False
        self.tried: list[Steps] = []
        self.examples: list[Any] = []  # what each example left for the reports


def _machine(run: _Run, fails: Callable[[Steps], bool], *, judged: bool = True) -> type[Any]:
    """A state machine whose example fails (at teardown) when ``fails(its steps)``; when
    not ``judged``, the example could not be run to a verdict (the cluster broke)."""

    class Record:
        def __init__(self) -> None:
            self.steps: Steps = []
            self.valid: object = True if judged else "unknown"
            self.result: object = {"valid": True} if judged else None
            self.error: str | None = None if judged else "reset: the reply is not RESP"

    class Machine:
        def __init__(self) -> None:
            self.record = Record()

        def __getattr__(self, rule: str) -> Callable[..., None]:
            def step(**args: Any) -> None:
                self.record.steps.append({"rule": rule, "args": args})

            return step

        def teardown(self) -> None:
            run.tried.append(self.record.steps)
            run.examples.append(self.record)
            if judged and fails(self.record.steps):
                self.record.valid = False
                raise DurabilityViolation("violated")

    return Machine


def _s(rule: str, **args: Any) -> dict[str, Any]:
    return {"rule": rule, "args": args}


def _rules(steps: Steps) -> list[str]:
    return [s["rule"] for s in steps]


def test_steps_the_failure_does_not_need_are_deleted() -> None:
    run: Any = _Run()
    steps = [_s("write", workload="list", key=0), _s("kill", node="primary"), _s("read")]
    steps += [_s("wait", ms=100), _s("heal")]
    best, end = shrink_steps(run, _machine(run, lambda s: "kill" in _rules(s)), steps)
    assert (best, end) == ([_s("kill", node="primary")], "complete")


def test_a_failure_no_step_is_needed_for_shrinks_to_no_steps() -> None:
    """The example's own start and final phase show it: the program is teardown alone."""
    run: Any = _Run()
    steps = [_s("write", workload="list", key=0), _s("wait", ms=600), _s("read")]
    best, end = shrink_steps(run, _machine(run, lambda s: True), steps)
    assert (best, end) == ([], "complete")


def test_a_fault_episode_the_failure_does_not_need_becomes_a_wait() -> None:
    """Only time passing breaks it: the report must not blame the fault."""
    run: Any = _Run()
    episode = _s("episode", fault="slow-link", node="replicas", hold_ms=600, then="stay")

    def waited_long(steps: Steps) -> bool:
        waited: int = sum(s["args"].get("ms", s["args"].get("hold_ms", 0)) for s in steps)
        return waited >= 600

    best, end = shrink_steps(run, _machine(run, waited_long), [_s("write"), episode])
    assert (best, end) == ([_s("wait", ms=600)], "complete")


def test_a_fault_episode_the_failure_needs_is_kept() -> None:
    run: Any = _Run()
    episode = _s("episode", fault="kill", node="primary", hold_ms=600, then="failover")
    best, end = shrink_steps(
        run, _machine(run, lambda s: "episode" in _rules(s)), [_s("write"), episode]
    )
    assert (best, end) == ([episode], "complete")
    assert [_s("wait", ms=600)] in run.tried  # tried, and it passed


def test_a_spent_budget_says_so_and_keeps_what_failed() -> None:
    run: Any = _Run(budget_s=-1)
    steps = [_s("write"), _s("kill", node="primary")]
    best, end = shrink_steps(run, _machine(run, lambda s: "kill" in _rules(s)), steps)
    assert (best, end) == (steps, "budget")
    assert run.tried == []


def test_the_reported_example_runs_once_more_even_past_the_budget() -> None:
    run: Any = _Run(budget_s=-1)
    kill = [_s("kill", node="primary")]
    assert reproduces(run, _machine(run, lambda s: True), kill) is True
    assert reproduces(run, _machine(run, lambda s: False), kill) is False
    assert run.tried == [kill, kill]


def test_an_example_that_could_not_be_judged_again_is_not_called_a_pass() -> None:
    """The report said 'flaky: this example failed, then passed when run again' when the
    run again never got past its reset."""
    run: Any = _Run()
    kill = [_s("kill", node="primary")]
    assert reproduces(run, _machine(run, lambda s: True, judged=False), kill) is None


def test_the_reported_failure_is_the_smallest_then_the_one_with_fewer_faults(
    tmp_path: Path,
) -> None:
    def failed(eid: str, steps: Steps, valid: object = False) -> ExampleRecord:
        return ExampleRecord(id=eid, steps=steps, history=tmp_path, result={"valid": valid})

    examples = [
        failed("a", [_s("write"), _s("kill"), _s("heal")]),
        failed("b", [_s("write"), _s("episode", hold_ms=600)]),
        failed("c", [_s("write"), _s("wait", ms=600)]),
        failed("d", [_s("wait", ms=600), _s("write")]),
        failed("e", [_s("wait", ms=1)], valid=True),
    ]
    picked = _pick_failure(examples)
    assert picked is not None and picked.id == "c"
    assert cost(examples[1].steps) == (2, 1) and cost(examples[2].steps) == (2, 0)
