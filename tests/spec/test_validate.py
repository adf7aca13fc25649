"""Trace validation (``ackbound spec validate``): a history is a behaviour of the spec or not.

The histories are small and written in the text language (harness.history.parse_text), so
each TLC run takes a few seconds, most of it the JVM's start. Exit codes of the command:
0 validated, 1 the run left the spec (the first line names the event and its op index), 3
could not validate (one line on stderr naming the fix).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.history import History, dump_history, parse_text
from harness.spec import Tlc, UnsupportedHistory, build_trace, validate_history
from harness.spec._validate import default_specs_dir, summary_line, write_load

NODES = "nodes n1@a n2@b n3@c\n"

# A sync write acknowledged on n1, n1 killed, n2 (which holds both writes) promoted.
KEPT = (
    "mode sync\n" + NODES + "0..2   p0 append l w1 @n1\n"
    "3..4   p1 append l w2 @n1\n"
    "5      nemesis kill n1\n"
    "6      nemesis failover n2\n"
    "10..11 p0 lrange l -> ok [w1 w2] @n2 final\n"
)
# No fault at all, yet the primary has lost an acknowledged write.
LOST = (
    "mode sync\n" + NODES + "0..2   p0 append l w1 @n1\n"
    "3..4   p1 append l w2 @n1\n"
    "10..11 p0 lrange l -> ok [w1] @n1 final\n"
)
# Both replicas down: the write is rejected, yet a read returns it.
REJECTED_READ = (
    "mode sync\n" + NODES + "0      nemesis kill n2\n"
    "1      nemesis kill n3\n"
    "2..3   p0 append l w1 -> fail NOREPLICAS Not enough good replicas to write. @n1\n"
    "4..5   p0 lrange l -> ok [w1] @n1 final\n"
)
# Async, L = 100 ms (+50 ms tolerance), no replica running: accepted while the lag was
# within the limit, rejected after, a lag observation in between.
ASYNC_OK = (
    "mode async\nparams L=100 tolerance=50\n" + NODES + "0        nemesis kill n2\n"
    "1        nemesis kill n3\n"
    "10..11   p0 append l w1 @n1\n"
    "60       observer lag n1 50\n"
    "100..101 p0 append l w2 @n1\n"
    "300..301 p0 append l w3 -> fail NOREPLICAS lag too high @n1\n"
    "400..401 p0 lrange l -> ok [w1 w2] @n1 final\n"
)
# The same, but a write is accepted with a lag of ~390 ms (the async-never-rejects bug).
ASYNC_NEVER_REJECTS = (
    "mode async\nparams L=100 tolerance=50\n" + NODES + "0        nemesis kill n2\n"
    "1        nemesis kill n3\n"
    "10..11   p0 append l w1 @n1\n"
    "400..401 p0 append l w2 @n1\n"
    "500..501 p0 lrange l -> ok [w1 w2] @n1 final\n"
)

# The primary paused while a sync write waits for its replicas (neither has it yet); it
# resumes and acknowledges it, as a resumed server may (its clients kept their connections).
PAUSED_PRIMARY = (
    "mode sync\n" + NODES + "0..20  p0 append l w1 @n1\n"
    "1..2   p1 lrange l -> ok [w1] @n1\n"
    "3      nemesis pause n1\n"
    "4..5   p1 lrange l -> ok [] @n2\n"
    "6..7   p2 lrange l -> ok [] @n3\n"
    "8      nemesis resume n1\n"
    "30..31 p1 lrange l -> ok [w1] @n1 final\n"
)

# Async, both replicas paused after acknowledging w1 (a pause is validated as a crash that
# keeps the data): the lag counts from w2, not from w1, so w2 is accepted. A replica's
# crash must not make the primary forget what it acknowledged.
PAUSED_REPLICAS = (
    "mode async\nparams L=100 tolerance=50\n" + NODES + "10..11   p0 append l w1 @n1\n"
    "300      nemesis pause n2\n"
    "301      nemesis pause n3\n"
    "310..311 p0 append l w2 @n1\n"
    "400..401 p0 lrange l -> ok [w1 w2] @n1 final\n"
)
# The same with kills: n3 down from the start, n2 killed after acknowledging w1.
KILLED_REPLICA = (
    "mode async\nparams L=100 tolerance=50\n" + NODES + "0        nemesis kill n3\n"
    "10..11   p0 append l w1 @n1\n"
    "300      nemesis kill n2\n"
    "310..311 p0 append l w2 @n1\n"
    "400..401 p0 lrange l -> ok [w1 w2] @n1 final\n"
)


# Six sync writes that time out while w1 is acknowledged, all shown by the final read: TLC
# must try their orders, and whether each was applied, before w9's acknowledgement.
BUSY = (
    "mode sync\n"
    + NODES
    + "0..2   p0 append l w1 @n1\n"
    + "".join(
        f"{3 + i}..90 p{1 + i} append l w{2 + i} -> info timeout: no reply @n1\n" for i in range(6)
    )
    + "10..11 p0 append l w9 @n1\n"
    + "100..101 p0 lrange l -> ok [w1 w2 w3 w4 w5 w6 w7 w9] @n1 final\n"
)


# A sync write that times out on n1 (SYNCTIMEOUT: applied there, durability unknown), then
# two reads of n1: the first, after the timeout, does not show it; the second does. Applied
# by its timeout, the write cannot be missing from the first read; a write whose error says
# nothing of it (a client timeout) could have been applied after that read.
def applied_late(error: str) -> str:
    return (
        "mode sync\n" + NODES + f"0..5   p1 append l w1 -> info {error} @n1\n"
        "6..7   p0 lrange l -> ok [] @n1\n"
        "8..9   p0 lrange l -> ok [w1] @n1 final\n"
    )


SYNCTIMEOUT = "SYNCTIMEOUT Timed out waiting for 1 synchronous replica(s)"
# n1 cut off from both replicas: the spec rejects every sync write, but a server that has
# not yet noticed the cut accepts one and times out. Only the heal lets the spec apply it.
CUT_OFF = (
    "mode sync\n" + NODES + "0      nemesis partition n1\n"
    f"4..6   p1 append l w1 -> info {SYNCTIMEOUT} @n1\n"
    "7      nemesis heal\n"
    "10..11 p0 lrange l -> ok [w1] @n1 final\n"
)


def history(text: str) -> History:
    return parse_text(text, source="<test>")


# --------------------------------------------------------------------------------------
# From a history to a trace (no TLC)


def test_the_trace_of_a_failover_history() -> None:
    t = build_trace(history(KEPT))
    assert [(e.kind, e.x, e.op, e.text) for e in t.events] == [
        ("ok", 1, 1, "write w1 to l on n1 completed ok"),
        ("ok", 2, 3, "write w2 to l on n1 completed ok"),
        ("steps", 1, 5, "kill completed: Crash(n1)"),
        ("steps", 2, 7, "failover completed: Failover(n2)"),
        ("check", 1, 9, "read of l on n2 returned [w1 w2]"),
    ]
    assert [str(s) for s in t.steps] == ["Crash(n1)", "Failover(n2)"]
    assert (t.mode, t.primary, t.max_crashes, t.max_time, t.tick_ns) == ("sync", "n1", 1, 0, None)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (SYNCTIMEOUT, "SYNCTIMEOUT"),
        ("WAIT: 0 of 1 replica(s) acknowledged within 1000 ms", "WAIT"),
        ("WAIT failed: timeout: Timeout reading from socket", "WAIT"),
    ],
)
def test_an_info_write_whose_error_says_it_was_applied_is_applied_by_its_completion(
    error: str, code: str
) -> None:
    t = build_trace(history(applied_late(error)))
    assert [(e.kind, e.x, e.op, e.text) for e in t.events] == [
        (
            "applied",
            1,
            1,
            f"write w1 to l on n1 completed info ({code}): applied, durability unknown",
        ),
        ("check", 1, 3, "read of l on n1 returned []"),
        ("check", 2, 5, "read of l on n1 returned [w1]"),
    ]
    [w] = t.writes
    assert (w.start, w.end) == (0, 1)


@pytest.mark.parametrize("error", ["timeout: no reply", "SYNCTIMEOUTS", "ERR WAIT: 0 of 1"])
def test_any_other_info_write_stays_open_to_the_end(error: str) -> None:
    t = build_trace(history(applied_late(error)))
    assert [e.kind for e in t.events] == ["check", "check"]
    [w] = t.writes
    assert (w.start, w.end) == (0, 3)  # past the last event: never closed


# A replica killed and restarted while the write waits: calm when it began and when it
# ended, but not throughout.
RESTARTED_MEANWHILE = (
    "mode sync\n" + NODES + f"0..10  p1 append l w1 -> info {SYNCTIMEOUT} @n1\n"
    "3      nemesis kill n3\n"
    "5      nemesis restart n3\n"
    "20..21 p0 lrange l -> ok [w1] @n1 final\n"
)


@pytest.mark.parametrize("text", [CUT_OFF, RESTARTED_MEANWHILE], ids=["cut-off", "meanwhile"])
def test_a_write_applied_while_a_fault_is_in_force_stays_open(text: str) -> None:
    t = build_trace(history(text))
    assert "applied" not in [e.kind for e in t.events]
    [w] = t.writes
    assert w.end == len(t.events) + 1
    assert "sync writes timed out during a fault may be applied after their reply" in t.notes


def test_async_time_is_quantised_by_the_lag_limit() -> None:
    t = build_trace(history(ASYNC_OK))
    # A tick is L/4 = 25 ms; LagLimit = (100 + 50) ms / 25 ms + 1 tick of rounding.
    assert (t.tick_ns, t.lag_limit) == (25_000_000, 7)
    assert [(e.kind, e.tick) for e in t.events] == [
        ("steps", 0),
        ("steps", 0),
        ("ok", 0),
        ("open", 2),
        ("check", 2),
        ("open", 4),
        ("ok", 4),
        ("open", 16),
        ("check", 16),
    ]
    [lag] = [c for c in t.checks if c.kind == "lag"]
    assert (lag.node, lag.lo, lag.hi) == ("n1", 0, 5)  # (50 + 50) ms / 25 ms + 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mode sync\n", "the history holds no operations, so there is nothing to validate"),
        (
            "mode sync\n" + NODES + "0 nemesis failover-to n3\n",
            "op 1: a named failover to n3: the spec's Failover promotes a most up-to-date "
            "replica only",
        ),
        (
            "mode async\n" + NODES + "0 p0 append l w1\n",
            "header params.lag_limit_ms is None; async traces quantise time by the lag limit",
        ),
    ],
)
def test_histories_outside_the_spec_are_named(text: str, message: str) -> None:
    with pytest.raises(UnsupportedHistory) as info:
        build_trace(history(text), source="<test>")
    assert str(info.value).startswith("<test>: ")
    assert message in str(info.value)


_HEADER = (
    '{"format": "ackbound-history", "version": 1, "mode": "none", "topology": {"nodes": '
    '[{"name": "n1", "az": "a"}, {"name": "n2", "az": "b"}], "primary": "n1"}}'
)


def _write(i: int, key: str, value: str) -> list[str]:
    op = f'"process": 0, "f": "write", "workload": "list", "key": {key}, "value": {value}'
    return [
        f'{{"index": {i}, "time": {i}, "type": "invoke", {op}}}',
        f'{{"index": {i + 1}, "time": {i + 1}, "type": "ok", "node": "n1", {op}}}',
    ]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (_write(0, '"l"', '"w\\n1"'), "op 0: 'w\\n1' holds a character the spec's strings"),
        (_write(0, '"k\\u00e9"', '"w1"'), "op 0: 'ké' holds a character the spec's strings"),
        (
            [
                *_write(0, '"l"', '"w1"'),
                '{"index": 2, "time": 2, "process": "nemesis", "type": "invoke", "f": "cut"}',
                '{"index": 3, "time": 3, "process": "nemesis", "type": "ok", "f": "cut", '
                '"value": {"effects": [{"cut": ["n1", "n1"]}]}}',
            ],
            "op 3: effect 'cut' names n1 twice (a link joins two nodes)",
        ),
    ],
    ids=["newline-value", "non-ascii-key", "self-cut"],
)
def test_what_the_generated_module_cannot_hold_is_named_not_left_to_tlc(
    lines: list[str], message: str
) -> None:
    from harness.history import parse_lines

    with pytest.raises(UnsupportedHistory) as info:
        build_trace(parse_lines([_HEADER, *lines]), source="<test>")
    assert message in str(info.value)


@pytest.mark.parametrize("name", ["n\u0153ud1", 'n"1', "n\\1", "n\t1"])
def test_a_node_name_the_spec_cannot_hold_is_named_not_left_to_tlc(name: str) -> None:
    """TLC answered 'threw an unexpected exception' or 'Assumption ... is false'."""
    import json

    from harness.history import parse_lines

    header = _HEADER.replace('"n1"', json.dumps(name))
    lines = [line.replace('"n1"', json.dumps(name)) for line in _write(0, '"l"', '"w1"')]
    with pytest.raises(UnsupportedHistory) as info:
        build_trace(parse_lines([header, *lines]), source="<test>")
    assert str(info.value) == (
        f"<test>: node {name!r} holds a character the spec's node names cannot (only "
        "printable ASCII, without quotes or backslashes); rename it in the header's topology "
        "and in every op that names it"
    )


_UNREACHED = """mode none
nodes n1@a n2@b n3@c
0..1   p0 append l w1
2..3   p0 lrange l -> ok [w1] @n2
4      nemesis cut n1 n2
5..6   p0 append l w2
7..8   p0 lrange l -> ok [w1 w2] @n3
9      nemesis partition n3
{heal}10     nemesis kill n1
11     nemesis failover n2
20..21 p0 lrange l -> ok [w1] @n2 final
"""


def test_a_failover_past_a_node_the_controller_could_not_reach_is_outside_the_spec() -> None:
    """The controller promotes no node cut off from the clients' side; the spec's Failover
    knows nothing of the clients, so such a run "left the spec" (exit 1, a bug) instead of
    being named as beyond it."""
    with pytest.raises(UnsupportedHistory) as info:
        build_trace(history(_UNREACHED.format(heal="")), source="<test>")
    assert str(info.value) == (
        "<test>: op 15: the failover to n2 chose among the nodes the controller could reach, "
        "and n3 was cut off from it; the spec's Failover chooses among every replica that is "
        "up (what the controller can reach is not modelled); the spec cannot judge this run "
        "(--max-events 7 validates the 7 events before it)"
    )
    # Healed before the failover, n3 is a candidate again: the trace is the spec's to judge.
    healed = build_trace(history(_UNREACHED.format(heal="9.5    nemesis heal\n")))
    assert "Failover(n2)" in [str(s) for s in healed.steps]


def test_a_failover_that_recorded_fewer_candidates_than_nodes_up_is_outside_the_spec() -> None:
    from harness.history import parse_lines

    lines = [
        _HEADER.replace('"n2", "az": "b"}]', '"n2", "az": "b"}, {"name": "n3", "az": "c"}]'),
        *_write(0, '"l"', '"w1"'),
        '{"index": 2, "time": 2, "process": "nemesis", "type": "invoke", "f": "failover"}',
        '{"index": 3, "time": 3, "process": "nemesis", "type": "ok", "f": "failover", '
        '"value": {"effects": [{"down": "n1"}, {"promote": "n2", "candidates": {"n2": 5}, '
        '"by": "offset"}]}}',
    ]
    with pytest.raises(UnsupportedHistory) as info:
        build_trace(parse_lines(lines), source="<test>")
    assert "op 3: the failover to n2 chose among the nodes the controller could reach, and n3 " in (
        str(info.value)
    )


def test_a_counter_beyond_tlc_integers_is_named() -> None:
    text = "mode none\n" + NODES + "0..1 p0 incr c 1 @n1\n2..3 p0 incr c 2147483648 @n1\n"
    with pytest.raises(UnsupportedHistory) as info:
        build_trace(history(text), source="<test>")
    assert "op 2: counter 'c' may reach beyond TLC's integers (2^31 - 1)" in str(info.value)


# --------------------------------------------------------------------------------------
# TLC's verdict


@pytest.mark.parametrize(
    "text",
    [
        KEPT,
        ASYNC_OK,
        PAUSED_PRIMARY,
        PAUSED_REPLICAS,
        KILLED_REPLICA,
        applied_late("timeout: no reply"),
        CUT_OFF,
    ],
    ids=[
        "sync-failover",
        "async-lag",
        "paused-primary",
        "paused-replicas",
        "killed-replica",
        "info-applied-late",
        "applied-while-cut-off",
    ],
)
def test_a_correct_history_validates(tlc: Tlc, text: str) -> None:
    v = validate_history(history(text), tlc, timeout=120)
    assert (v.outcome, v.failed_at, v.error) == ("validated", None, "")
    n = len(v.trace.events)
    assert summary_line(v) == f"validated: the run is a behaviour of the spec ({n} observed events)"


@pytest.mark.parametrize(
    ("text", "event", "line"),
    [
        (
            LOST,
            3,
            "left the spec at event 3 (op index 5): read of l on n1 returned [w1]",
        ),
        (
            REJECTED_READ,
            3,
            "left the spec at event 3 (op index 7): read of l on n1 returned [w1]",
        ),
        (
            ASYNC_NEVER_REJECTS,
            5,
            "left the spec at event 5 (op index 7): write w2 to l on n1 completed ok",
        ),
        (
            applied_late(SYNCTIMEOUT),
            2,
            "left the spec at event 2 (op index 3): read of l on n1 returned []",
        ),
    ],
    ids=["acked-write-lost", "rejected-write-read", "async-never-rejects", "applied-unseen"],
)
def test_a_violating_history_leaves_the_spec_at_the_event(
    tlc: Tlc, text: str, event: int, line: str
) -> None:
    v = validate_history(history(text), tlc, timeout=120)
    assert (v.outcome, v.failed_at) == ("left", event)
    assert summary_line(v) == (f"{line} — no spec action explains it; the state before was:")
    assert v.state is not None and v.state["primary"] == "n1"


# Four sync writes to three keys, their intervals overlapping, one timing out; n1 killed and
# n2 promoted; two more writes. TLC tries the orders the writes were applied in, how far
# each replica got, and when each write completed.
CONCURRENT = (
    "mode sync\n" + NODES + "0..4   p0 append l w1 @n1\n"
    "1..5   p1 append m w2 @n1\n"
    f"2..6   p2 append k w3 -> info {SYNCTIMEOUT} @n1\n"
    "3..7   p3 append l w4 @n1\n"
    "8      nemesis kill n1\n"
    "9      nemesis failover n2\n"
    "10..12 p0 append m w5 @n2\n"
    "11..13 p1 append k w6 @n2\n"
    "20..21 p0 lrange l -> ok [w1 w4] @n2 final\n"
    "22..23 p0 lrange m -> ok [w2 w5] @n2 final\n"
    "24..25 p0 lrange k -> ok [w3 w6] @n2 final\n"
)


def specs_changed(d: Path, changes: list[tuple[str, str]]) -> Path:
    """A copy of the specs in ``d`` with each ``(old, new)`` of ``changes`` made in
    DurabilityTrace.tla, where ``old`` must occur once."""
    src = default_specs_dir()
    shutil.copyfile(src / "Durability.tla", d / "Durability.tla")
    text = (src / "DurabilityTrace.tla").read_text(encoding="utf-8")
    for old, new in changes:
        assert text.count(old) == 1, f"DurabilityTrace.tla no longer has {old!r}"
        text = text.replace(old, new)
    (d / "DurabilityTrace.tla").write_text(text, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def unreduced_specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The specs with DurabilityTrace's completion and view reductions taken out: sync
    writes complete at any time after they can, and states differ in every write status,
    in the spec's ids of the writes and in every log."""
    return specs_changed(
        tmp_path_factory.mktemp("unreduced"),
        [
            (
                "\\E w \\in PendingWrites : TimeOut(w)",
                "\\E w \\in PendingWrites : Complete(w) \\/ TimeOut(w)",
            ),
            ("    \\/ ~AckDue /\\ Completed\n", ""),
            ("       /\\ ~CompleteDue\n", ""),
            ("[i \\in DOMAIN writes |-> WriteView(i)]", "writes"),
            (
                "TraceView == IF Bugs = {} THEN CanonicalView ELSE ExactView",
                "TraceView == ExactView",
            ),
        ],
    )


# Histories that validate only if two overlapping writes to different keys (w1 to a, w2
# to b) were applied in one order, w2 first, which only a lagging node shows: states that
# forget that order too early lose the only behaviour that matches.
TWO_KEYS = "mode sync\n" + NODES + "0..4   p0 append a w1 @n1\n1..5   p1 append b w2 @n1\n"
# n3 lags: it holds w2 and not w1, read by key in turn.
ORDER_SEEN_ON_A_LAGGING_NODE = TWO_KEYS + (
    "6..7   p2 lrange b -> ok [w2] @n3\n"
    "8..9   p2 lrange a -> ok [] @n3\n"
    "20..21 p0 lrange a -> ok [w1] @n1 final\n"
    "22..23 p0 lrange b -> ok [w2] @n1 final\n"
)
# The same, and n2 shows the other order: no behaviour has both.
BOTH_ORDERS_SEEN = TWO_KEYS + (
    "6..7   p2 lrange b -> ok [w2] @n3\n"
    "8..9   p2 lrange a -> ok [] @n3\n"
    "10..11 p3 lrange a -> ok [w1] @n2\n"
    "12..13 p3 lrange b -> ok [] @n2\n"
)
# Every node held both writes; n3 restarts without its data and copies the log again,
# entry by entry: w2 first.
ORDER_SEEN_AFTER_A_WIPE = TWO_KEYS + (
    "6      nemesis synced n2\n"
    "7      nemesis synced n3\n"
    "8      nemesis kill n3\n"
    "9      nemesis wipe-restart n3\n"
    "10..11 p2 lrange b -> ok [w2] @n3\n"
    "12..13 p2 lrange a -> ok [] @n3\n"
)


# Async: n3 down, n2 got one of the two writes before n1 died, and the failover to n2 keeps
# that one alone; n3, back, is seen synced before it is read. (Either order: whichever order
# a wrong reduction would keep, one of the two histories needs the other.)
def kept_by_a_failover(kept: str) -> str:
    a, b = ("[]", "[w2]") if kept == "w2" else ("[w1]", "[]")
    return (
        "mode async\nparams L=100 tolerance=50\ndurable-restart yes\n"
        + NODES
        + "0 nemesis kill n3\n"
        "10..14   p0 append a w1 @n1\n"
        "11..15   p1 append b w2 @n1\n"
        "20       nemesis kill n1\n"
        "21       nemesis failover n2\n"
        "22       nemesis restart n3\n"
        "23       nemesis synced n3\n"
        f"30..31   p0 lrange a -> ok {a} @n3 final\n"
        f"32..33   p0 lrange b -> ok {b} @n3 final\n"
    )


# n3 was seen synced with w1 and w2; then two more overlapping writes, w3 to a and w4 to b,
# of which n3 shows w4 alone: a sync step already taken does not vouch for what follows.
ORDER_SEEN_AFTER_A_SYNC = TWO_KEYS + (
    "6      nemesis synced n3\n"
    "7..11  p0 append a w3 @n1\n"
    "8..12  p1 append b w4 @n1\n"
    "13..14 p2 lrange b -> ok [w2 w4] @n3\n"
    "15..16 p2 lrange a -> ok [w1] @n3\n"
)
# Async (ticks of 25 ms; the spec's lag limit 7 ticks): w1, acknowledged by both replicas,
# was applied late in its window, as only the lag n2 reports after the failover shows (n3
# cannot acknowledge to n2): the tick of an acknowledged write counts again after a failover.
APPLIED_LATE_AS_THE_LAG_SHOWS = (
    "mode async\nparams L=100 tolerance=50\n" + NODES + "10..160  p0 append a w1 @n1\n"
    "170      nemesis cut n3 n2\n"
    "171      nemesis kill n1\n"
    "172      nemesis failover n2\n"
    "200      observer lag n2 0\n"
    "210..211 p0 lrange a -> ok [w1] @n2 final\n"
)


def taking_turns(n: int, write: str = "append", keys: str = "abc") -> str:
    """A sync history of ``n`` writes on n1 by two clients taking turns, each interval
    overlapping the next; write ``i`` (value ``w{i}``) goes to key ``keys[i % len(keys)]``."""
    return (
        "mode sync\n"
        + NODES
        + "".join(
            f"{3 * i}..{3 * i + 4} p{i % 2} {write} {keys[i % len(keys)]} w{i} @n1\n"
            for i in range(n)
        )
    )


# OVERLAPPING (below) cut to ten writes, so that the unreduced spec validates it too.
OVERLAPPING_TEN = taking_turns(10)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        (KEPT, ("validated", None)),
        (CONCURRENT, ("validated", None)),
        (LOST, ("left", 3)),
        (CUT_OFF, ("validated", None)),
        (applied_late(SYNCTIMEOUT), ("left", 2)),
        (ORDER_SEEN_ON_A_LAGGING_NODE, ("validated", None)),
        (BOTH_ORDERS_SEEN, ("left", 6)),
        (ORDER_SEEN_AFTER_A_WIPE, ("validated", None)),
        (kept_by_a_failover("w1"), ("validated", None)),
        (kept_by_a_failover("w2"), ("validated", None)),
        (ORDER_SEEN_AFTER_A_SYNC, ("validated", None)),
        (APPLIED_LATE_AS_THE_LAG_SHOWS, ("validated", None)),
        (OVERLAPPING_TEN, ("validated", None)),
    ],
    ids=[
        "sync-failover",
        "concurrent",
        "acked-write-lost",
        "applied-while-cut-off",
        "applied-unseen",
        "order-seen-on-a-lagging-node",
        "both-orders-seen",
        "order-seen-after-a-wipe",
        "failover-keeps-w1",
        "failover-keeps-w2",
        "order-seen-after-a-sync",
        "applied-late-as-the-lag-shows",
        "overlapping-ten",
    ],
)
def test_the_reductions_keep_the_verdict_and_explore_fewer_states(
    tlc: Tlc, unreduced_specs: Path, text: str, verdict: tuple[str, int | None]
) -> None:
    reduced = validate_history(history(text), tlc, timeout=120)
    full = validate_history(history(text), tlc, timeout=120, specs_dir=unreduced_specs)
    assert (full.outcome, full.failed_at) == verdict
    assert (reduced.outcome, reduced.failed_at) == verdict
    assert reduced.tlc is not None and full.tlc is not None
    assert reduced.tlc.distinct_states is not None and full.tlc.distinct_states is not None
    assert reduced.tlc.distinct_states <= full.tlc.distinct_states
    if text is CONCURRENT:
        # 6,866 against 36,244 when written.
        assert reduced.tlc.distinct_states * 4 < full.tlc.distinct_states
    if text is OVERLAPPING_TEN:
        assert reduced.tlc.distinct_states * 10 < full.tlc.distinct_states


# What of a key's order the view keeps: its reads decide (a list read shows the order, a
# register read the last value, a set or counter read neither).
KINDS_OF_READS = """                      IN  CASE k \\in ListKeys     -> ks
                            [] k \\in RegisterKeys -> <<Range(ks), ks[Len(ks)]>>
                            [] OTHER              -> Range(ks)]"""


def _view_keeping(tmp: Path, per_key: str) -> Path:
    """The specs with CanonicalView keeping ``per_key`` of each key's writes, whatever the
    key's reads show (``ks``: their order; ``Range(ks)``: which they are)."""
    return specs_changed(tmp, [(KINDS_OF_READS, f"                      IN  {per_key}]")])


# Ten sync writes to one set, each interval overlapping the next: a set read shows no order.
SAME_SET_TEN = (
    taking_turns(10, "add", "s")
    + "40..41 p0 smembers s -> ok {"
    + " ".join(f"w{i}" for i in range(10))
    + "} @n1 final\n"
)


def two_writes_of_one_key(kind: str, read: str) -> str:
    """Two overlapping sync writes of one list or register, then a final read that shows
    which order they were applied in (each order in one history: whichever order a view
    that forgot it kept, one of the two needs the other)."""
    write, get = {"list": ("append", "lrange"), "register": ("set", "get")}[kind]
    return (
        "mode sync\n" + NODES + f"0..4   p0 {write} k w1 @n1\n"
        f"1..5   p1 {write} k w2 @n1\n"
        f"20..21 p0 {get} k -> ok {read} @n1 final\n"
    )


ONE_KEY_IN_EITHER_ORDER = {
    "list": [two_writes_of_one_key("list", "[w1 w2]"), two_writes_of_one_key("list", "[w2 w1]")],
    "register": [two_writes_of_one_key("register", "w1"), two_writes_of_one_key("register", "w2")],
}


def test_the_view_forgets_the_order_no_read_of_a_key_shows(tlc: Tlc, tmp_path: Path) -> None:
    ordered = _view_keeping(tmp_path, "ks")
    reduced = validate_history(history(SAME_SET_TEN), tlc, timeout=120)
    full = validate_history(history(SAME_SET_TEN), tlc, timeout=120, specs_dir=ordered)
    assert (reduced.outcome, full.outcome) == ("validated", "validated")
    assert reduced.tlc is not None and full.tlc is not None
    assert reduced.tlc.distinct_states is not None and full.tlc.distinct_states is not None
    # 2,615 against 40,531 when written.
    assert reduced.tlc.distinct_states * 10 < full.tlc.distinct_states
    # A list's order and a register's last value stay: each history validates.
    for text in (t for texts in ONE_KEY_IN_EITHER_ORDER.values() for t in texts):
        v = validate_history(history(text), tlc, timeout=120)
        assert (v.outcome, v.failed_at) == ("validated", None), text


def test_a_view_that_forgot_a_lists_order_or_a_registers_last_would_be_caught(
    tlc: Tlc, tmp_path: Path
) -> None:
    # The histories above are evidence only if a view that keeps too little fails one of
    # them: keeping which writes a key has, and not their order, does.
    setlike = _view_keeping(tmp_path, "Range(ks)")
    for kind, texts in ONE_KEY_IN_EITHER_ORDER.items():
        verdicts = [
            validate_history(history(text), tlc, timeout=120, specs_dir=setlike).outcome
            for text in texts
        ]
        assert "left" in verdicts, kind


# --------------------------------------------------------------------------------------
# The command


def ackbound(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "spec", "validate", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def run_dir(tmp_path: Path, *texts: str) -> Path:
    """A run directory as `ackbound run` lays it out: each history as an example (sync-0001,
    sync-0002, ...), and the last as the run's history."""
    d = tmp_path / "run"
    for n, text in enumerate(texts, start=1):
        example = d / "sync" / "examples" / f"sync-{n:04d}"
        example.mkdir(parents=True)
        paths = [example / "history.ndjson"] + ([d / "history.ndjson"] if n == len(texts) else [])
        for path in paths:
            with path.open("w", encoding="utf-8") as fh:
                dump_history(history(text), fh)
    return d


def test_cli_validates_a_run_and_an_example(tlc: Tlc, tmp_path: Path) -> None:
    d = run_dir(tmp_path, KEPT)
    done = ackbound(str(d), "--example", "sync-0001")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "validated: the run is a behaviour of the spec (5 observed events)"
    assert lines[1] == f"  history: {d}/sync/examples/sync-0001/history.ndjson (mode sync)"
    assert lines[2].startswith("  trace: 2 writes, 1 read or lag check, 2 fault steps; TLC: ")


def test_cli_names_the_event_where_the_run_left_the_spec(tlc: Tlc, tmp_path: Path) -> None:
    done = ackbound(str(run_dir(tmp_path, LOST)))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "left the spec at event 3 (op index 5): read of l on n1 returned [w1] — no spec "
        "action explains it; the state before was:"
    )
    assert "    n1 (up): log [w1 w2]" in lines
    assert "    writes: w1 ok, w2 ok" in lines


def no_java_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "TLA2TOOLS_JAR")}
    env["PATH"] = str(tmp_path)  # no java, no tlc wrapper
    return env


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Each case: the arguments, and the one line of stderr that must name the fix."""
    empty = tmp_path / "empty"
    empty.mkdir()
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / "history.ndjson").write_text('{"format": "ackbound-history", oops\n')
    blank = tmp_path / "blank"
    blank.mkdir()
    (blank / "history.ndjson").write_text("")
    d = run_dir(tmp_path, KEPT)
    return {
        "missing-dir": (
            [str(tmp_path / "nope")],
            f"{tmp_path}/nope: no such run directory; pass the directory of a run",
        ),
        "a-file": (
            [str(garbled / "history.ndjson")],
            f"{garbled}/history.ndjson: is a file, not a run directory; to validate one "
            f"history, pass --history {garbled}/history.ndjson",
        ),
        "no-history": (
            [str(empty)],
            f"{empty}/history.ndjson: no such file; is {empty} a run directory? "
            "(name a history with --history)",
        ),
        "garbled": (
            [str(garbled)],
            f"{garbled}/history.ndjson:1: not valid JSON (unexpected character, expected a "
            "string key at column 32); fix or remove the line",
        ),
        "no-operations": (
            [str(blank)],
            f"{blank}/history.ndjson: the history holds no operations, so there is nothing to "
            "validate; pass the history.ndjson of a run",
        ),
        "no-such-example": (
            [str(d), "--example", "sync-0002"],
            f"{d}: no example 'sync-0002'; its examples are sync-0001 (under {d}/<mode>/examples/)",
        ),
        "no-run-dir": (
            [],
            "spec validate needs a run directory (RUN_DIR) or --history FILE; "
            "e.g. 'ackbound spec validate runs/latest'",
        ),
        "history-and-run-dir": (
            [str(d), "--history", str(d / "history.ndjson")],
            "--history names the history to validate, and RUN_DIR would pick another (its "
            "header gives its mode); give RUN_DIR or --history, not both",
        ),
        "history-and-mode": (
            ["--history", str(d / "history.ndjson"), "--mode", "async"],
            "--history names the history to validate, and --mode would pick another (its "
            "header gives its mode); give --mode or --history, not both",
        ),
        "jobs-without-all": (
            [str(d), "--jobs", "2"],
            "--jobs validates several examples at a time, so it goes with --all; drop it, "
            "or add --all",
        ),
        "no-java": (
            [str(d), "NO_JAVA"],
            "java not found on PATH: install a Java 11+ runtime "
            "(e.g. apt-get install default-jre-headless) or set JAVA_HOME to one",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing-dir",
        "a-file",
        "no-history",
        "garbled",
        "no-operations",
        "no-such-example",
        "no-run-dir",
        "history-and-run-dir",
        "history-and-mode",
        "jobs-without-all",
        "no-java",
    ],
)
def test_bad_input_exits_3_with_one_line(tmp_path: Path, case: str) -> None:
    args, line = bad_inputs(tmp_path)[case]
    env = None
    if args[-1:] == ["NO_JAVA"]:
        args, env = args[:-1], no_java_env(tmp_path)
    done = ackbound(*args, env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.splitlines() == [f"ackbound: error: {line}"]
    assert done.stdout == ""


# 26 sync writes acknowledged on n1, each interval overlapping the next (two clients
# taking turns), and no fault: no read can tell the order of writes to different keys, and
# the spec's view forgets it.
OVERLAPPING = taking_turns(26)
# The same, then n3 restarts without its data: until then TLC must keep the order it tried
# for each pair (n3 copies the log again, entry by entry).
OVERLAPPING_THEN_WIPED = OVERLAPPING + "80 nemesis kill n3\n81 nemesis wipe-restart n3\n"
OVERLAPPING_WHY = (
    "25 pairs of writes overlap before a failover or a wipe, more than 16 by event 17 of 28 "
    "(TLC keeps the order it tried for each pair until then, so every pair multiplies its "
    "states)"
)


def test_overlapping_pairs_are_counted_as_they_first_overlap_before_a_wipe() -> None:
    three = (
        "mode sync\n" + NODES + "0..9   p0 append a w1 @n1\n"
        "1..2   p1 append b w2 @n1\n"
        "3..4   p1 append c w3 @n1\n"
        "5..6   p2 append a w4 @n1\n"
        "20..21 p0 lrange a -> ok [w1 w4] @n1 final\n"
    )
    wiped = three + "30 nemesis kill n3\n31 nemesis wipe-restart n3\n"
    trace = build_trace(history(wiped))
    # w1's interval holds w2's, w3's and w4's (two writes open at each of the first three
    # events); those three never overlap each other.
    assert [e.kind for e in trace.events] == ["ok", "ok", "ok", "ok", "check", "steps", "steps"]
    assert write_load(trace) == ([2, 2, 2, 1, 0, 0, 0, 0], [1, 2, 3, 3, 3, 3, 3, 3])
    # With no failover or wipe to come, no pair counts.
    assert write_load(build_trace(history(three))) == ([2, 2, 2, 1, 0, 0], [0] * 6)
    assert write_load(build_trace(history(OVERLAPPING_THEN_WIPED)))[1][-1] == 25
    assert write_load(build_trace(history(OVERLAPPING)))[1][-1] == 0


def test_overlapping_writes_with_no_failover_or_wipe_to_come_validate(tlc: Tlc) -> None:
    # Did not validate within 600 s before the spec's view forgot their order; 16,043
    # states in 6 s after.
    v = validate_history(history(OVERLAPPING), tlc, timeout=240)
    assert (v.outcome, v.failed_at) == ("validated", None)
    assert v.tlc is not None and v.tlc.distinct_states is not None
    assert v.tlc.distinct_states < 100_000


BUSY_NOTE = (
    "note: up to 7 writes may be applied in any order, more than 4 from event 2 of 3 on (an "
    "indeterminate write stays open until a read shows it); TLC may take long (it stops after "
    "--timeout 0.01 s); --max-events 1 validates the events before it"
)
BUSY_HINT = (
    "up to 7 writes may be applied in any order, more than 4 from event 2 of 3 on (an "
    "indeterminate write stays open until a read shows it); validate the events before it "
    "with --max-events 1, or allow more --timeout"
)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        (BUSY, BUSY_HINT),
        (
            OVERLAPPING_THEN_WIPED,
            OVERLAPPING_WHY + "; validate the events before it with --max-events 16, or allow "
            "more --timeout",
        ),
        (KEPT, "; validate a prefix with --max-events N (the trace has 5 events)"),
    ],
    ids=["open-writes", "overlapping-writes", "short"],
)
def test_a_validation_out_of_time_says_what_made_it_long(
    tlc: Tlc, tmp_path: Path, text: str, hint: str
) -> None:
    done = ackbound(str(run_dir(tmp_path, text)), "--timeout", "0.01")
    assert done.returncode == 3, done.stdout + done.stderr
    *notes, line = done.stderr.splitlines()
    assert "TLC did not finish within 0.01 s" in line
    assert line.endswith(hint), line
    # Told before TLC starts, too, when the trace is one it may take long over.
    expected = {
        id(BUSY): [BUSY_NOTE],
        id(OVERLAPPING_THEN_WIPED): [
            f"note: {OVERLAPPING_WHY}; TLC may take long (it stops after --timeout 0.01 s); "
            "--max-events 16 validates the events before it"
        ],
    }
    assert notes == expected.get(id(text), [])


def test_a_validation_out_of_time_says_how_far_tlc_got(tlc: Tlc, tmp_path: Path) -> None:
    # 25 pairs of writes overlap before the wipe: far more than 20 s of search, yet the
    # first events match within a second or two of TLC's start.
    d = run_dir(tmp_path, OVERLAPPING_THEN_WIPED)
    done = ackbound(str(d), "--timeout", "20")
    assert done.returncode == 3, done.stdout + done.stderr
    line = done.stderr.splitlines()[-1]
    hint = OVERLAPPING_WHY + "; validate the events before it with --max-events 16, or allow "
    assert hint in line, line
    got = re.search(
        r"; TLC had matched the first (\d+) of 28 events when it stopped, which --max-events "
        r"(\d+) validates$",
        line,
    )
    assert got is not None and got[1] == got[2], line
    assert 1 <= int(got[1]) < 28
    # And so it does.
    done = ackbound(str(d), "--max-events", got[1])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("validated: a prefix of the run"), done.stdout


def test_validate_all_forewarns_of_each_long_example_by_name(tlc: Tlc, tmp_path: Path) -> None:
    done = ackbound(str(run_dir(tmp_path, KEPT, BUSY)), "--all", "--timeout", "0.01")
    assert done.stderr.splitlines() == ["sync/sync-0002: " + BUSY_NOTE]
    out = done.stdout.splitlines()
    assert [ln.split(":")[0] for ln in out[:2]] == ["sync/sync-0001", "sync/sync-0002"], out
    assert out[1].endswith(BUSY_HINT)


def test_validate_all_with_jobs_runs_tlcs_side_by_side_and_prints_in_order(
    tlc: Tlc, tmp_path: Path
) -> None:
    d = run_dir(tmp_path, KEPT, LOST, ASYNC_OK)
    alone = ackbound(str(d), "--all")
    assert alone.returncode == 1, alone.stdout + alone.stderr
    # A java that notes when each TLC starts and ends, and lets none start its work before
    # a second has started (or 30 s have passed): with two jobs, two TLCs run at once.
    log = tmp_path / "java.log"
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(
        "#!/bin/sh\n"
        f"echo start >> {log}\n"
        f"i=0; while [ $(grep -c start {log}) -lt 2 ] && [ $i -lt 300 ]; do "
        "sleep 0.1; i=$((i + 1)); done\n"
        f'{tlc.java} "$@"; rc=$?\n'
        f"echo end >> {log}\n"
        "exit $rc\n"
    )
    java.chmod(0o755)
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "jdk"), "TLA2TOOLS_JAR": str(tlc.jar)}
    side_by_side = ackbound(str(d), "--all", "--jobs", "2", env=env)
    assert side_by_side.returncode == 1, side_by_side.stdout + side_by_side.stderr
    assert log.read_text().split()[:2] == ["start", "start"]
    assert log.read_text().split().count("start") == 3
    assert side_by_side.stdout == alone.stdout
    assert alone.stdout.splitlines() == [
        "sync/sync-0001: validated: the run is a behaviour of the spec (5 observed events)",
        "sync/sync-0002: left the spec at event 3 (op index 5): read of l on n1 returned [w1] "
        "— no spec action explains it",
        "sync/sync-0003: validated: the run is a behaviour of the spec (9 observed events)",
        "2 of 3 example(s) validated, 1 left the spec, 0 could not be judged",
    ]


def _children(pid: int) -> set[int]:
    """The processes ``pid`` started (Linux's /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_validate_all_interrupted_stops_at_once_and_leaves_no_tlc_running(
    tlc: Tlc, tmp_path: Path, jobs: str
) -> None:
    # Two examples TLC takes well over 20 s each, interrupted a few seconds in: SIGINT to
    # ackbound alone (as a supervisor sends it, not a terminal's Ctrl-C to the whole group).
    d = run_dir(tmp_path, OVERLAPPING_THEN_WIPED, OVERLAPPING_THEN_WIPED, KEPT)
    # Python leaves SIGINT ignored when it starts with it ignored, as a background job (a
    # CI script's) does: this ackbound takes it as a terminal's would.
    ackbound_taking_sigint = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from harness.cli import main; sys.exit(main())"
    )
    args = ["spec", "validate", str(d), "--all", "--jobs", jobs]
    proc = subprocess.Popen(
        [sys.executable, "-c", ackbound_taking_sigint, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(5)
    started = _children(proc.pid)
    proc.send_signal(signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=15)  # TLC alone would take it past 20 s
    finally:  # on failure, nothing left running
        for pid in [proc.pid, *started]:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == "ackbound: interrupted"
    for child in started:
        assert not Path(f"/proc/{child}").exists(), f"TLC {child} outlived ackbound"


def test_validate_without_the_spec_files_names_the_missing_one(tlc: Tlc, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = ackbound(str(run_dir(tmp_path, KEPT)), "--specs", str(empty))
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        f"ackbound: error: {empty}/Durability.tla: no such file; "
        "pass --specs DIR naming ackbound's specs/ directory"
    ]
