"""Values of the wrong shape are one-line load errors or judged data, never a crash.

Found by the differential test (test_checker_differential.py): a ``type`` or ``workload``
that is a JSON object or list raised ``TypeError: unhashable type`` in the loader, and a
read that returned a nested list or map crashed ``no-phantom-writes`` and
``rejected-writes-not-applied`` (both then "unknown") — or, for a register's final read,
the whole check.
"""

from __future__ import annotations

import pytest

from harness.checker import Params, check
from harness.history import Header, History, HistoryError, Op, parse_lines
from models import Mode


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"index":0,"time":1,"process":0,"type":{"a":1},"f":"read"}',
            "f:1: 'type' must be one of invoke, ok, fail, info; got {'a': 1}",
        ),
        (
            '{"index":0,"time":1,"process":0,"type":["ok"],"f":"read"}',
            "f:1: 'type' must be one of invoke, ok, fail, info; got ['ok']",
        ),
        (
            '{"index":0,"time":1,"process":0,"type":"invoke","f":"write","workload":["list"]}',
            "f:1: 'workload' must be one of register, list, set, counter; got ['list']",
        ),
    ],
)
def test_unhashable_type_or_workload_is_a_one_line_error(line: str, message: str) -> None:
    with pytest.raises(HistoryError) as exc:
        parse_lines([line + "\n"], source="f")
    assert str(exc.value) == message


def _history(read_value: object, workload: str = "list") -> History:
    value = "w1"
    ops = (
        Op(0, 0, 0, "invoke", "write", workload, "k", value),
        Op(1, 1, 0, "ok", "write", workload, "k", value),
        Op(2, 2, 0, "invoke", "write", workload, "k", "w2"),
        Op(3, 3, 0, "fail", "write", workload, "k", "w2", error="ERR no"),
        Op(4, 4, 0, "invoke", "read", workload, "k", None, final=True),
        Op(5, 5, 0, "ok", "read", workload, "k", read_value, final=True),
    )
    return History(header=Header(), ops=ops)


def test_a_nested_element_in_a_read_is_a_phantom() -> None:
    result = check(_history(["w1", {"a": 1}, [2]]), Params(mode=Mode.NONE))
    phantom = result["properties"]["no-phantom-writes"]
    assert phantom["valid"] is False
    assert phantom["witnesses"][0]["values"] == [{"a": 1}, [2]]
    assert result["properties"]["rejected-writes-not-applied"]["valid"] is True


def test_a_register_read_as_a_map_is_judged() -> None:
    result = check(_history({"a": 1}, workload="register"), Params(mode=Mode.NONE))
    assert result["properties"]["no-phantom-writes"]["valid"] is False
    assert result["stats"]["acknowledged_judged"] == 0


@pytest.mark.parametrize("workload", ["list", "set"])
@pytest.mark.parametrize("read_value", [{"a": 1}, "nobody", 7])
def test_a_list_or_set_read_that_is_no_list_is_a_phantom(workload: str, read_value: object) -> None:
    """A list or set read returns a list (or nothing); anything else is a value no write
    wrote, not an empty read that passes unseen."""
    result = check(_history(read_value, workload=workload), Params(mode=Mode.NONE))
    phantom = result["properties"]["no-phantom-writes"]
    assert phantom["valid"] is False
    assert phantom["witnesses"][0]["values"] == [read_value]


def test_a_list_read_of_a_rejected_writes_value_alone_is_caught() -> None:
    """The value of a rejected write, read bare rather than in a list, was still read."""
    result = check(_history("w2"), Params(mode=Mode.NONE))
    assert result["properties"]["rejected-writes-not-applied"]["valid"] is False
