"""The failing example rendered as a program: exact text, and it runs."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from harness.report import py_literal, render_program

HEADER = {
    "property": "acked-writes-survive",
    "mode": "sync",
    "target": "bundled",
    "bug": "sync-ack-before-replication",
    "seed": 42,
}
STEPS = [
    {"rule": "write", "args": {"workload": "list", "key": 0}},
    {"rule": "kill", "args": {"node": "primary"}},
]


def test_render_program_exact() -> None:
    assert render_program(HEADER, STEPS) == (
        "# ackbound: acked-writes-survive violated in mode sync on target bundled (seed 42)\n"
        "# replay: ackbound replay RUN_DIR\n"
        "from harness.run import replay_program\n"
        'state = replay_program(target="bundled", mode="sync", '
        'bug="sync-ack-before-replication", seed=42)\n'
        'state.write(workload="list", key=0)\n'
        'state.kill(node="primary")\n'
        "state.teardown()\n"
    )


def test_render_program_notes_flaky_unshrunk_options_and_several_properties() -> None:
    header = {
        "properties": ["no-holes", "no-loss-without-failure"],
        "mode": "async",
        "target": "valkey",
        "seed": 1,
        "run_dir": "runs/x",
        "flaky": True,
        "shrunk": False,
        "options": {"backend": "docker", "lag_limit_ms": 500},
    }
    steps = [{"rule": "wait", "args": {"seconds": 0.5}}, {"rule": "teardown", "args": {}}]
    assert render_program(header, steps) == (
        "# ackbound: no-holes, no-loss-without-failure violated in mode async on target valkey"
        " (seed 1)\n"
        "# flaky: this example failed, then passed when run again\n"
        "# not shrunk: this is the example as first found\n"
        "# replay: ackbound replay runs/x\n"
        "from harness.run import replay_program\n"
        'state = replay_program(target="valkey", mode="async", seed=1, backend="docker", '
        "lag_limit_ms=500)\n"
        "state.wait(seconds=0.5)\n"
        "state.teardown()\n"
    )


@pytest.mark.parametrize(
    ("shrink", "note"),
    [
        ("budget", "# shrinking stopped at --shrink-budget: a smaller failing example may exist"),
        ("interrupted", "# shrinking was interrupted: a smaller failing example may exist"),
        ("complete", None),
        (None, None),
    ],
)
def test_a_shrink_cut_short_is_noted(shrink: str | None, note: str | None) -> None:
    text = render_program({"target": "bundled", "mode": "sync", "shrink": shrink}, [])
    notes = [line for line in text.splitlines() if line.startswith("# shrink")]
    assert notes == ([] if note is None else [note])


def test_the_replay_line_quotes_a_run_directory_with_spaces() -> None:
    text = render_program({"target": "bundled", "mode": "sync", "run_dir": "my runs/x"}, [])
    assert "# replay: ackbound replay 'my runs/x'" in text.splitlines()


def test_render_program_without_a_property_or_steps() -> None:
    text = render_program({"target": "bundled", "mode": "none"}, [])
    assert text.splitlines()[0] == "# ackbound: example failed in mode none on target bundled"
    assert text.endswith(
        'state = replay_program(target="bundled", mode="none")\nstate.teardown()\n'
    )


@pytest.mark.parametrize("rule", ["not a name", "class", "", None, "1x"])
def test_rule_names_must_be_identifiers(rule: Any) -> None:
    with pytest.raises(ValueError, match="not a Python identifier"):
        render_program(HEADER, [{"rule": rule, "args": {}}])


def test_argument_names_must_be_identifiers() -> None:
    with pytest.raises(ValueError, match="step 0: argument 'bad-name'"):
        render_program(HEADER, [{"rule": "write", "args": {"bad-name": 1}}])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("list", '"list"'),
        ('say "hi"\n', '"say \\"hi\\"\\n"'),
        ("naïve", '"naïve"'),
        (0, "0"),
        (True, "True"),
        (None, "None"),
        (1.5, "1.5"),
        (float("inf"), 'float("inf")'),
        ([1, "a"], '[1, "a"]'),
        ((1,), "(1,)"),
        ({"n1": 2}, '{"n1": 2}'),
        (frozenset({"b", "a"}), '{"a", "b"}'),
        (set(), "set()"),
    ],
)
def test_py_literal(value: Any, text: str) -> None:
    assert py_literal(value) == text
    if "inf" not in text:
        assert eval(text) == value  # the literal reads back as the value


def test_the_program_runs_and_makes_exactly_its_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class State:
        def __getattr__(self, rule: str) -> Any:
            return lambda **kw: calls.append((rule, kw))

    def replay_program(**kw: Any) -> State:
        calls.append(("replay_program", kw))
        return State()

    stub = types.ModuleType("harness.run")
    stub.replay_program = replay_program  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "harness.run", stub)
    steps = [*STEPS, {"rule": "partition", "args": {"nodes": ["n1", "n2"], "oneway": False}}]
    exec(compile(render_program(HEADER, steps), "program.txt", "exec"), {})
    assert calls == [
        (
            "replay_program",
            {"target": "bundled", "mode": "sync", "bug": "sync-ack-before-replication", "seed": 42},
        ),
        ("write", {"workload": "list", "key": 0}),
        ("kill", {"node": "primary"}),
        ("partition", {"nodes": ["n1", "n2"], "oneway": False}),
        ("teardown", {}),
    ]
