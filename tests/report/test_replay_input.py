"""What ``ackbound replay`` reads: a run's results.json, refused in one line when it is not
one as ackbound writes it, and the run's settings, so the replay sets its cluster up alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _report_fixtures import build_run
from hypothesis.stateful import RuleBasedStateMachine, rule

from harness._errors import AckboundError
from harness.report import results_json
from harness.run._replay import load_failures, step_problem


def _write(run_dir: Path, mutate: Callable[[dict[str, Any]], None] | None = None) -> None:
    result, _ = build_run(run_dir)
    doc = json.loads(results_json(result))
    if mutate is not None:
        mutate(doc)
    (run_dir / "results.json").write_text(json.dumps(doc))


def test_a_failure_comes_with_the_settings_its_run_used(run_dir: Path) -> None:
    _write(run_dir)
    (mode,) = load_failures(run_dir)
    info = load_failures(run_dir)[mode]
    # No options recorded with this failure: they are worked out from the mode's parameters
    # and the topology.
    assert info["options"] == {
        "backend": "local",
        "lag_limit_ms": 10000,
        "sync_timeout_ms": 500,
        "sync_replicas": 1,
        "nodes": 3,
        "azs": 3,
    }
    recorded = {"backend": "docker", "lag_limit_ms": 2000, "nodes": 5, "azs": 2}
    recorded["image"] = "ackbound-valkey:local"  # --image: the replay needs the same one

    def record(doc: dict[str, Any]) -> None:
        doc["modes"][mode]["failure"]["options"] = recorded

    _write(run_dir, record)
    assert load_failures(run_dir)[mode]["options"] == recorded
    # An option a newer ackbound records, which replay_program would not take, is left out.
    recorded_later = {**recorded, "cpu_quota": 2}

    def record_later(doc: dict[str, Any]) -> None:
        doc["modes"][mode]["failure"]["options"] = recorded_later

    _write(run_dir, record_later)
    assert load_failures(run_dir)[mode]["options"] == recorded


def _modes(value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.__setitem__("modes", value)


def _failure(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["modes"]["sync"]["failure"][key] = value

    return mutate


def _drop_steps(doc: dict[str, Any]) -> None:
    del doc["modes"]["sync"]["failure"]["steps"]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_modes([1]), "$.modes: expected an object; got [1]"),
        (_modes(None), "$.modes: expected an object; got null"),
        (lambda d: d.__setitem__("target", "bundled"), "$.target: expected an object"),
        (lambda d: d.pop("target"), "$: missing the field 'target'"),
        (_failure("steps", ["write"]), "$.modes.sync.failure.steps: expected a list of {rule, args}"),
        (_drop_steps, "$.modes.sync.failure: missing the field 'steps'"),
        (_failure("options", "abc"), "$.modes.sync.failure.options: expected an object"),
        (_failure("options", {"nodes": "three"}), "$.modes.sync.failure.options.nodes: expected an integer ≥ 1"),
        (_failure("options", {"lag_limit_ms": 1e400}), "$.modes.sync.failure.options.lag_limit_ms: expected a non-negative integer or null"),
    ],
)  # fmt: skip
def test_a_malformed_results_file_is_one_line_naming_the_field(
    run_dir: Path, mutate: Callable[[dict[str, Any]], None], problem: str
) -> None:
    _write(run_dir, mutate)
    with pytest.raises(AckboundError) as exc:
        load_failures(run_dir)
    message = str(exc.value)
    assert message.startswith(f"{run_dir / 'results.json'}: not a valid results document: ")
    assert problem in message and "\n" not in message
    assert message.endswith("; replay the directory of a run as ackbound wrote it")


@pytest.mark.parametrize(
    ("schema", "said"),
    [
        ("ackbound-results/2", "ackbound-results/2 is newer than this ackbound reads; upgrade "
         "ackbound to replay it"),
        ("something-else/1", "not an ackbound results file (schema ackbound-results/1)"),
        (None, "not an ackbound results file (schema ackbound-results/1)"),
    ],
)  # fmt: skip
def test_a_results_file_of_a_newer_ackbound_says_to_upgrade(
    run_dir: Path, schema: str | None, said: str
) -> None:
    """A newer schema was called 'not an ackbound results file', as {"a": 1} is."""
    _write(run_dir, lambda d: d.__setitem__("schema", schema))
    with pytest.raises(AckboundError) as exc:
        load_failures(run_dir)
    assert str(exc.value) == f"{run_dir / 'results.json'}: {said}"


def test_results_json_that_is_a_directory_is_named(run_dir: Path) -> None:
    (run_dir / "results.json").mkdir()
    with pytest.raises(AckboundError, match=r"results.json: not a file; pass the directory"):
        load_failures(run_dir)


def _step_arg(i: int, name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["modes"]["sync"]["failure"]["steps"][i]["args"][name] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_step_arg(1, "node", 3), 'the sync failure\'s step 2 (kill): node is 3, not a role: primary, replicas or replica-N'),
        (_step_arg(0, "key", "0"), 'the sync failure\'s step 1 (write): key is "0", not an integer 0..2'),
        (_step_arg(0, "key", True), "the sync failure's step 1 (write): key is true, not an integer 0..2"),
        (_step_arg(0, "workload", "x" * 60), f'the sync failure\'s step 1 (write): workload is "{"x" * 36}..., not one of register, list, set, counter'),
        (_step_arg(0, "hold_ms", "2000"), 'the sync failure\'s step 1 (write): hold_ms is "2000", not a number of milliseconds 0..86400000 (a day)'),
        (_step_arg(0, "hold_ms", 10**12), "the sync failure's step 1 (write): hold_ms is 1000000000000, not a number of milliseconds 0..86400000 (a day)"),
    ],
)  # fmt: skip
def test_a_step_argument_no_run_draws_is_named_when_the_document_is_read(
    run_dir: Path, mutate: Callable[[dict[str, Any]], None], problem: str
) -> None:
    """A string hold_ms was a traceback (exit 1, as if violated), and 10**12 waited for
    ever."""
    _write(run_dir, mutate)
    with pytest.raises(AckboundError) as exc:
        load_failures(run_dir)
    assert str(exc.value) == (
        f"{run_dir / 'results.json'}: {problem}; the results.json was edited or written by "
        "another version of ackbound"
    )


def test_a_results_file_is_read_as_well_as_its_directory(run_dir: Path) -> None:
    """replay RUN/results.json said 'RUN/results.json/results.json: Not a directory'."""
    _write(run_dir)
    (run_dir / "copy.json").write_text((run_dir / "results.json").read_text())
    assert load_failures(run_dir / "results.json") == load_failures(run_dir)
    assert load_failures(run_dir / "copy.json") == load_failures(run_dir)


class _Machine(RuleBasedStateMachine):
    @rule()
    def heal(self) -> None:
        pass

    @rule()
    def kill(self, node: str = "primary") -> None:
        pass

    def teardown(self) -> None:  # a method, not a rule
        pass


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ([{"rule": "heal", "args": {}}, {"rule": "kill", "args": {"node": "n2"}}], None),
        (
            [{"rule": "heal", "args": {}}, {"rule": "nosuch", "args": {}}],
            "step 2: 'nosuch' is not a rule of the run's state machine; the results.json was "
            "edited or written by another version of ackbound",
        ),
        (
            [{"rule": "teardown", "args": {}}],
            "step 1: 'teardown' is not a rule of the run's state machine; the results.json was "
            "edited or written by another version of ackbound",
        ),
        (
            [{"rule": "kill", "args": {"zzz": 1}}],
            "step 1 (kill): got an unexpected keyword argument 'zzz'; the results.json was "
            "edited or written by another version of ackbound",
        ),
    ],
)
def test_steps_the_machine_cannot_run_are_named_before_any_runs(
    steps: list[dict[str, Any]], problem: str | None
) -> None:
    assert step_problem(_Machine, steps) == problem


def test_a_bug_this_version_does_not_have_is_named_before_any_cluster_starts(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    _write(run_dir, lambda doc: doc["target"].__setitem__("bug", "no-such-bug"))
    assert main(["replay", str(run_dir)]) == 3
    assert capsys.readouterr().err == (
        f"ackbound: error: {run_dir}: the sync failure was found with the seeded bug "
        "'no-such-bug', which this ackbound does not have; replay it with the version that "
        "found it\n"
    )
    assert not (run_dir / "replay").exists()


def test_a_docker_run_s_image_is_recorded_for_its_replay() -> None:
    from harness.run import RunConfig
    from harness.run._example import ModeSetup
    from harness.run._runner import _replay_options

    setup = ModeSetup(mode="async", sync_replicas=1, sync_timeout_ms=500, lag_limit_ms=1000,
                      tolerance_ms=250, recovery_ms=1000)  # fmt: skip
    config = RunConfig(target="valkey", backend="docker", image="ackbound-valkey:local")
    assert _replay_options(config, setup)["image"] == "ackbound-valkey:local"
    assert "image" not in _replay_options(RunConfig(target="valkey"), setup)


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ([False, True], 1),  # reproduced once
        ([True, True], 0),  # held every time: a fix, say
        ([True, "unknown"], 2),  # not reproduced, and not shown sound either
        (["unknown"], 2),
    ],
)
def test_the_replay_exit_code_says_whether_the_failure_came_back(
    run_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    verdicts: list[Any],
    code: int,
) -> None:
    import harness.report
    import harness.run._replay as replay
    from harness.cli import main

    _write(run_dir, lambda doc: doc["target"].__setitem__("bug", None))
    results = iter(verdicts)

    class _State:
        class record:
            history = run_dir / "replay.ndjson"

    monkeypatch.setattr(replay, "replay_program", lambda **kwargs: _State())
    monkeypatch.setattr(replay, "replay_steps", lambda state, steps: {"valid": next(results)})
    monkeypatch.setattr(harness.report, "print_check_result", lambda result, source: None)
    assert main(["replay", str(run_dir), "--times", str(len(verdicts))]) == code
    failed = verdicts.count(False)
    assert f"sync: failed {failed} of {len(verdicts)} replays" in capsys.readouterr().out


def test_ctrl_c_after_a_violation_says_what_was_violated_and_how_to_replay(
    run_dir: Path,
) -> None:
    from harness.cli._run import _found_before

    _write(run_dir)
    assert _found_before(run_dir) == [
        "ackbound: violated before the interruption: acked-writes-survive in mode sync "
        f"(example sync-1); replay it: {run_dir / 'program.txt'} or ackbound replay {run_dir}"
    ]
    (run_dir / "results.json").write_text("{not json")
    assert _found_before(run_dir) == []  # the reports' own line already said where they are


def test_a_seeded_bug_on_another_target_is_refused_as_the_run_refuses_it(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replayed against the bundled server instead, it would 'reproduce' on the wrong one."""
    from harness.cli import main

    _write(run_dir, lambda doc: doc["target"].update(name="valkey", bug="phantom-value"))
    assert main(["replay", str(run_dir)]) == 3
    assert capsys.readouterr().err == (
        "ackbound: error: --bug 'phantom-value' seeds a bug into the bundled server; use "
        "--target bundled\n"
    )
