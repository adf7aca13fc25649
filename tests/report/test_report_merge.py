"""The merge rules: over properties and modes, and one property over examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.checker import merge as checker_merge
from harness.report import (
    LatencySamples,
    exit_code_for,
    merge_over_examples,
    merge_verdicts,
    percentile,
    verdict_from_counts,
    verdict_name,
)

U = "unknown"
verdicts = st.sampled_from([True, False, U])


@pytest.mark.parametrize(
    ("vs", "expected"),
    [
        ([], U),
        ([True], True),
        ([True, True], True),
        ([True, U], U),
        ([U, True], U),
        ([True, False], False),
        ([U, False, True], False),
        ([U], U),
    ],
)
def test_merge_verdicts_false_beats_unknown_beats_true(vs: list[object], expected: object) -> None:
    assert merge_verdicts(vs) == expected  # type: ignore[arg-type]


@given(st.lists(verdicts))
def test_merge_verdicts_agrees_with_the_checker(vs: list[object]) -> None:
    assert merge_verdicts(vs) == checker_merge(vs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("vs", "errored", "expected"),
    [
        ([], 0, U),  # no examples: no evidence
        ([U, U], 0, U),  # examples, none with evidence
        ([U, True, U], 0, True),  # one with evidence, none violated: valid
        ([True, False, True], 0, False),  # any violation: violated
        ([U, False], 0, False),
        ([True, U], 1, U),  # a crashed check is never a pass
        ([False, U], 1, False),  # but a violation elsewhere still stands
    ],
)
def test_one_property_over_examples(vs: list[object], errored: int, expected: object) -> None:
    assert merge_over_examples(vs, errored=errored) == expected  # type: ignore[arg-type]


@given(st.lists(verdicts), st.integers(0, 3))
def test_counts_and_lists_give_the_same_verdict(vs: list[object], errored: int) -> None:
    evidence = sum(1 for v in vs if v is not U)
    violated = sum(1 for v in vs if v is False)
    assert verdict_from_counts(
        with_evidence=evidence, violated=violated, errored=errored
    ) == merge_over_examples(vs, errored=errored)  # type: ignore[arg-type]


@given(st.lists(verdicts, min_size=1))
def test_over_examples_differs_from_over_properties_only_on_unknown(vs: list[object]) -> None:
    # Over examples an unknown is outvoted by evidence; over properties it is not.
    a, b = merge_over_examples(vs), merge_verdicts(vs)  # type: ignore[arg-type]
    if a != b:
        assert (a, b) == (True, U)


def test_verdict_names_and_exit_codes() -> None:
    assert [verdict_name(v) for v in (True, False, U)] == ["valid", "violated", "unknown"]
    assert [exit_code_for(v) for v in (True, False, U)] == [0, 1, 2]


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5], 0.99) == 5
    assert percentile([1, 2, 3, 4], 0.5) == 3  # round(1.5) == 2 → index 2
    assert percentile(list(range(101)), 0.99) == 99


@given(st.lists(st.lists(st.integers(0, 10**10), max_size=30), max_size=6))
def test_pooled_latency_is_exact(parts: list[list[int]]) -> None:
    pooled = LatencySamples()
    for p in parts:
        pooled.add(p)
    every = sorted(v for p in parts for v in p)
    s = pooled.summary()
    assert s["count"] == len(every)
    if every:
        assert s["p50"] == round(percentile(every, 0.5) / 1e6, 3)  # type: ignore[operator]
        assert s["p99"] == round(percentile(every, 0.99) / 1e6, 3)  # type: ignore[operator]
        assert s["max"] == round(every[-1] / 1e6, 3)
    else:
        assert s == {"count": 0, "p50": None, "p99": None, "max": None}


def test_a_summary_read_back_cannot_be_pooled() -> None:
    frozen = LatencySamples(frozen={"count": 1, "p50": 1.0, "p99": 1.0, "max": 1.0})
    assert frozen.summary()["p50"] == 1.0
    with pytest.raises(ValueError, match="cannot be pooled"):
        frozen.add([1])
