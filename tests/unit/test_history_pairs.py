"""Pairing invocations with completions (``harness.history.pair_ops``)."""

from __future__ import annotations

import pytest

from harness.history import HistoryError, Op, Pair, pair_ops


def w(index: int, time: int, process: int | str, type: str, f: str = "write") -> Op:
    return Op(index, time, process, type, f)


def test_each_invocation_pairs_with_its_process_next_op_in_invocation_order() -> None:
    ops = [
        w(0, 0, 0, "invoke"),
        w(1, 1, 1, "invoke"),
        w(2, 2, 1, "fail"),
        w(3, 3, "nemesis", "invoke", "kill"),
        w(4, 4, 0, "ok"),
        w(5, 5, "nemesis", "info", "kill"),
        w(6, 6, 1, "invoke"),
    ]
    pairs = pair_ops(ops)
    assert pairs == [
        Pair(ops[0], ops[4]),
        Pair(ops[1], ops[2]),
        Pair(ops[3], ops[5]),
        Pair(ops[6], None),
    ]
    assert [(p.type, p.start, p.end) for p in pairs] == [
        ("ok", 0, 4),
        ("fail", 1, 2),
        ("info", 3, 5),
        ("info", 6, None),  # never completed: indeterminate, may take effect any time
    ]


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (
            [w(0, 0, 0, "ok")],
            "h: op 0: ok completion by process 0 has no invocation before it; add the invoke line",
        ),
        (
            [w(0, 0, 3, "invoke"), w(1, 1, 3, "invoke")],
            "h: op 1: process 3 invokes again while op 0 is still open; complete it "
            "(ok/fail/info) first or use a new process id",
        ),
        (
            [w(0, 0, 0, "invoke"), w(1, 1, 0, "ok", "read")],
            "h: op 1: completion f='read' does not match its invocation (op 0, f='write'); "
            "a completion repeats its invocation's f",
        ),
    ],
)
def test_pairing_errors(ops: list[Op], message: str) -> None:
    with pytest.raises(HistoryError) as info:
        pair_ops(ops, "h")
    assert str(info.value) == message
