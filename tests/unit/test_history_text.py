"""The text language (``harness.history.parse_text``): its grammar, exactly, and its errors."""

from __future__ import annotations

from typing import Any

import pytest

from harness.history import Header, HistoryError, Op, parse_text

MS = 1_000_000
NODES = "nodes n1@a n2@b n3@c\n"


def ops_of(text: str) -> list[dict[str, Any]]:
    return [o.to_json() for o in parse_text(text).ops]


def effects_of(text: str) -> list[list[dict[str, Any]]]:
    """The effects of each nemesis completion, in order."""
    return [
        o.value["effects"]
        for o in parse_text(text).ops
        if o.process == "nemesis" and o.type == "ok"
    ]


def error_of(text: str) -> str:
    with pytest.raises(HistoryError) as info:
        parse_text(text, "t.txt")
    message = str(info.value)
    assert "\n" not in message
    return message


# -- directives -----------------------------------------------------------------------------


def test_directives_make_the_header() -> None:
    h = parse_text(
        "# a comment line\n"
        "mode async   # trailing comment\n"
        "params K=2 L=1000 timeout=500 tolerance=100 recovery=2000.5\n"
        "nodes n1@a n2@b\n"
        "nodes n3@c\n"
        "primary n2\n"
        "durable-restart yes\n"
    )
    assert h.ops == ()
    assert h.header == Header(
        mode="async",
        params={
            "sync_replicas": 2,
            "lag_limit_ms": 1000.0,
            "sync_timeout_ms": 500.0,
            "tolerance_ms": 100.0,
            "recovery_ms": 2000.5,
        },
        topology={
            "nodes": [
                {"name": "n1", "az": "a"},
                {"name": "n2", "az": "b"},
                {"name": "n3", "az": "c"},
            ],
            "primary": "n2",
        },
        durable_restart=True,
    )


def test_first_node_is_primary_and_the_header_keeps_the_initial_primary() -> None:
    h = parse_text(NODES + "1 nemesis failover n2\n")
    assert h.header.topology == {
        "nodes": [{"name": "n1", "az": "a"}, {"name": "n2", "az": "b"}, {"name": "n3", "az": "c"}],
        "primary": "n1",
    }


def test_no_directives_gives_an_empty_header() -> None:
    assert parse_text("").header == Header()


# -- client operations ----------------------------------------------------------------------


def test_writes_of_each_workload() -> None:
    assert ops_of(
        "0 p0 set r w1\n1 p0 append l w2\n2 p0 add s w3\n3 p0 incr c 4\n"
    ) == [
        {"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "write", "workload": "register", "key": "r", "value": "w1"},
        {"index": 1, "time": 0, "process": 0, "type": "ok", "f": "write", "workload": "register", "key": "r", "value": "w1"},
        {"index": 2, "time": MS, "process": 0, "type": "invoke", "f": "write", "workload": "list", "key": "l", "value": "w2"},
        {"index": 3, "time": MS, "process": 0, "type": "ok", "f": "write", "workload": "list", "key": "l", "value": "w2"},
        {"index": 4, "time": 2 * MS, "process": 0, "type": "invoke", "f": "write", "workload": "set", "key": "s", "value": "w3"},
        {"index": 5, "time": 2 * MS, "process": 0, "type": "ok", "f": "write", "workload": "set", "key": "s", "value": "w3"},
        {"index": 6, "time": 3 * MS, "process": 0, "type": "invoke", "f": "write", "workload": "counter", "key": "c", "value": 4},
        {"index": 7, "time": 3 * MS, "process": 0, "type": "ok", "f": "write", "workload": "counter", "key": "c", "value": 4},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "workload", "value"),
    [
        ("0 p0 get r -> ok w1", "register", "w1"),
        ("0 p0 get r -> ok nil", "register", None),
        ("0 p0 lrange l -> ok [w1 w2 w1]", "list", ["w1", "w2", "w1"]),
        ("0 p0 lrange l -> ok []", "list", []),
        ("0 p0 smembers s -> ok {w2 w1}", "set", ["w2", "w1"]),
        ("0 p0 count c -> ok 12", "counter", 12),
    ],
)
def test_reads_of_each_workload(line: str, workload: str, value: Any) -> None:
    key = line.split()[3]
    assert ops_of(line) == [
        {"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "read", "workload": workload, "key": key, "value": None},
        {"index": 1, "time": 0, "process": 0, "type": "ok", "f": "read", "workload": workload, "key": key, "value": value},
    ]  # fmt: skip


def test_outcomes_errors_nodes_and_final() -> None:
    assert ops_of(
        NODES
        + "0..2.5 p0 append l w1 -> fail NOREPLICAS Not enough good replicas. @n1\n"
        + '3..4 p1 append l w2 -> info "ERR can\'t tell"\n'
        + "5 p2 append l w3 -> pending\n"
        + "6..7 p0 lrange l -> ok [w2] @n2 final\n"
    ) == [
        {"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "write", "workload": "list", "key": "l", "value": "w1"},
        {"index": 1, "time": 2_500_000, "process": 0, "type": "fail", "f": "write", "workload": "list", "key": "l", "value": "w1", "error": "NOREPLICAS Not enough good replicas.", "node": "n1"},
        {"index": 2, "time": 3 * MS, "process": 1, "type": "invoke", "f": "write", "workload": "list", "key": "l", "value": "w2"},
        {"index": 3, "time": 4 * MS, "process": 1, "type": "info", "f": "write", "workload": "list", "key": "l", "value": "w2", "error": "ERR can't tell"},
        {"index": 4, "time": 5 * MS, "process": 2, "type": "invoke", "f": "write", "workload": "list", "key": "l", "value": "w3"},
        {"index": 5, "time": 6 * MS, "process": 0, "type": "invoke", "f": "read", "workload": "list", "key": "l", "value": None, "final": True},
        {"index": 6, "time": 7 * MS, "process": 0, "type": "ok", "f": "read", "workload": "list", "key": "l", "value": ["w2"], "node": "n2", "final": True},
    ]  # fmt: skip


def test_ops_are_ordered_by_time_and_lines_at_one_time_keep_their_order() -> None:
    got = [(o.time // MS, o.process, o.type) for o in parse_text(
        NODES + "0..10 p0 append l w1\n2..3 p1 append l w2\n3 nemesis kill n2\n10 p1 get r -> ok nil\n"
    ).ops]  # fmt: skip
    assert got == [
        (0, 0, "invoke"),
        (2, 1, "invoke"),
        (3, 1, "ok"),
        (3, "nemesis", "invoke"),
        (3, "nemesis", "ok"),
        (10, 0, "ok"),
        (10, 1, "invoke"),
        (10, 1, "ok"),
    ]


def test_observer_lag() -> None:
    assert ops_of(NODES + "4..5 observer lag n2 250\n") == [
        {"index": 0, "time": 4 * MS, "process": "observer", "type": "invoke", "f": "lag", "node": "n2"},
        {"index": 1, "time": 5 * MS, "process": "observer", "type": "ok", "f": "lag", "value": 250, "node": "n2"},
    ]  # fmt: skip


# -- faults and their effects ---------------------------------------------------------------


def test_fault_ops_record_their_arguments() -> None:
    assert ops_of(NODES + "1..2 nemesis kill n1\n") == [
        {"index": 0, "time": MS, "process": "nemesis", "type": "invoke", "f": "kill", "value": {"args": ["n1"]}},
        {"index": 1, "time": 2 * MS, "process": "nemesis", "type": "ok", "f": "kill", "value": {"args": ["n1"], "effects": [{"down": "n1"}]}},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "effects"),
    [
        ("1 nemesis kill n2", [[{"down": "n2"}]]),
        ("1 nemesis pause n2\n2 nemesis resume n2", [[{"down": "n2"}], [{"up": "n2"}]]),
        ("1 nemesis restart n2", [[{"lose-data": "n2"}, {"up": "n2"}]]),
        ("durable-restart yes\n1 nemesis restart n2", [[{"up": "n2"}]]),
        ("durable-restart yes\n1 nemesis wipe-restart n2", [[{"lose-data": "n2"}, {"up": "n2"}]]),
        (
            "1 nemesis partition n2",
            [
                [
                    {"cut": ["n2", "n1"]},
                    {"cut": ["n1", "n2"]},
                    {"cut": ["n2", "n3"]},
                    {"cut": ["n3", "n2"]},
                    {"cut": ["n2", "client"]},
                    {"cut": ["client", "n2"]},
                ]
            ],
        ),
        (
            "1 nemesis cut n1 n2\n2 nemesis heal-link n1 n2\n3 nemesis slow-link client n3",
            [[{"cut": ["n1", "n2"]}], [{"heal-link": ["n1", "n2"]}], [{"slow": ["client", "n3"]}]],
        ),
        ("1 nemesis failover n2", [[{"promote": "n2", "by": "offset"}]]),
        ("1 nemesis failover-to n3", [[{"promote": "n3", "by": "named"}]]),
        (
            "1 nemesis az-outage b",
            [[{"down": "n2"}, {"lose-data": "n2"}]],
        ),
        (
            "1 nemesis failover n2\n2 nemesis rejoin n1",
            [[{"promote": "n2", "by": "offset"}], [{"replicate": "n1", "from": "n2"}]],
        ),
        ("1 nemesis synced n3", [[{"synced": "n3"}]]),
    ],
)
def test_fault_effects(lines: str, effects: list[list[dict[str, Any]]]) -> None:
    assert effects_of(NODES + lines + "\n") == effects


def test_heal_undoes_everything_still_in_force() -> None:
    got = effects_of(
        NODES
        + "1 nemesis kill n1\n2 nemesis pause n2\n3 nemesis cut n3 client\n"
        + "4 nemesis slow-link n1 n3\n5 nemesis heal\n6 nemesis heal\n"
    )
    assert got[-2:] == [
        [
            {"heal-link": ["n3", "client"]},
            {"fast": ["n1", "n3"]},
            {"lose-data": "n1"},  # killed, and restarts without a durable log
            {"up": "n1"},
            {"up": "n2"},  # paused: its data is kept
        ],
        [],  # nothing left to heal
    ]


def test_heal_keeps_a_killed_nodes_data_when_restarts_are_durable() -> None:
    got = effects_of("durable-restart yes\n" + NODES + "1 nemesis kill n1\n2 nemesis heal\n")
    assert got[-1] == [{"up": "n1"}]


def test_a_byte_order_mark_before_the_first_line_is_ignored() -> None:
    with_bom = parse_text("\ufeff5 p0 append l w1\n", source="t.txt")
    assert with_bom.ops == parse_text("5 p0 append l w1\n", source="t.txt").ops


def test_the_docstring_example_parses() -> None:
    import harness.history._text as text

    doc = text.__doc__ or ""
    example = doc.split("::\n", 2)[2]
    h = parse_text("\n".join(ln.strip() for ln in example.splitlines()))
    assert [(o.index, o.process, o.type, o.f) for o in h.ops] == [
        (0, 0, "invoke", "write"),
        (1, 0, "ok", "write"),
        (2, "nemesis", "invoke", "kill"),
        (3, "nemesis", "ok", "kill"),
        (4, "nemesis", "invoke", "failover"),
        (5, "nemesis", "ok", "failover"),
        (6, 0, "invoke", "read"),
        (7, 0, "ok", "read"),
    ]
    assert h.ops[7] == Op(7, 11 * MS, 0, "ok", "read", "list", "l", [], final=True)


# -- errors: one line, naming the line and the fix ------------------------------------------

ERRORS = [
    ("mode fast", "t.txt:1: write 'mode none', 'mode sync' or 'mode async'"),
    (
        "params Q=1",
        "t.txt:1: bad param 'Q=1'; use K=<whole number ≥ 1> and L=, timeout=, tolerance=, "
        "recovery= in ms",
    ),
    (
        "params K=1.5",
        "t.txt:1: bad param 'K=1.5'; use K=<whole number ≥ 1> and L=, timeout=, tolerance=, "
        "recovery= in ms",
    ),
    ("nodes n1", "t.txt:1: write nodes as name@az, e.g. 'nodes n1@a n2@b'"),
    ("nodes", "t.txt:1: write nodes as name@az, e.g. 'nodes n1@a n2@b'"),
    ("nodes n1@a\nprimary", "t.txt:2: write 'primary NODE', e.g. 'primary n1'"),
    ("nodes n1@a\nprimary n9", "t.txt:2: unknown node 'n9'; declare it with 'nodes'"),
    ("durable-restart maybe", "t.txt:1: write 'durable-restart yes' or 'durable-restart no'"),
    ("0 p0 get r\nmode sync", "t.txt:2: 'mode' is a directive; move it above the first operation"),
    ("x p0 append l w1", "t.txt:1: a line starts with a time in ms ('5' or '5..9')"),
    ("-1 p0 append l w1", "t.txt:1: a line starts with a time in ms ('5' or '5..9')"),
    ("5..3 p0 append l w1", "t.txt:1: completion time precedes invocation time"),
    (
        "5 p0 append l w1\n3 p1 append l w2",
        "t.txt:2: invocation at 3 ms precedes the line above; write lines in order of "
        "invocation time",
    ),
    ("5 p0", "t.txt:1: expected TIME PROCESS ACTION ..."),
    ("5 q0 append l w1", "t.txt:1: process is p0, p1, …, nemesis or observer"),
    ("5 p0 append l w1 -> maybe", "t.txt:1: outcome is ok, fail, info or pending; got 'maybe'"),
    (
        "5 p0 push l w1",
        "t.txt:1: unknown action 'push'; clients write with set, append, add, incr and read "
        "with get, lrange, smembers, count",
    ),
    ("5 p0 append l", "t.txt:1: write 'append KEY VALUE'"),
    ("5 p0 incr c x", "t.txt:1: 'incr KEY D' takes an integer D"),
    ("5 p0 lrange -> ok []", "t.txt:1: write 'lrange KEY -> ok VALUE'"),
    ("5 p0 count c -> ok x", "t.txt:1: a counter read's value is an integer, e.g. '-> ok 12'"),
    (
        "5 p0 lrange l -> ok w1",
        "t.txt:1: a list read's value is written [a b] or {a b}: words within one pair of brackets",
    ),
    (
        "5 p0 lrange l -> ok [w1}",
        "t.txt:1: a list read's value is written [a b] or {a b}: words within one pair of brackets",
    ),
    (
        "5 p0 smembers s -> ok [w1 [w2]]",
        "t.txt:1: a set read's value is written [a b] or {a b}: words within one pair of brackets",
    ),
    ("5 p0 append l w1 ->", "t.txt:1: '->' needs an outcome: ok, fail, info or pending"),
    (
        "5 p0 set r w#1",
        "t.txt:1: a '#' inside a word (column 13) would start a comment there and cut the "
        "word; quote the word, or put a space before the comment",
    ),
    (
        "5 p0 append l a\\b",
        "t.txt:1: a backslash outside quotes (column 16) would escape the next character; "
        "quote the word",
    ),
    (
        "5 p0 append l w1 -> ok -> fail",
        "t.txt:1: nothing follows '-> ok' here (only a read's value follows ok, and an error "
        "follows fail or info); got '-> fail'",
    ),
    (
        "5 p0 lrange l -> pending [w1]",
        "t.txt:1: nothing follows '-> pending' here (only a read's value follows ok, and an "
        "error follows fail or info); got '[w1]'",
    ),
    (
        "primary n1\nnodes n1@a",
        "t.txt:1: 'primary' names one of the nodes; declare them above it ('nodes n1@a n2@b')",
    ),
    (
        "nodes n1@a n2@b\n0..100 nemesis kill n1\n50 nemesis pause n2",
        "t.txt:3: the nemesis is still busy: its line t.txt:2 runs until 100 ms; it does one "
        "thing at a time, so start this at or after that",
    ),
    ("5 p0 get r -> ok a b", "t.txt:1: a register read's value is one word or nil"),
    (
        NODES + "5 p0 append l w1 @n1 -> fail ERR x",
        "t.txt:2: '@n1' comes after the outcome: TIME PROCESS ACTION ARGS -> OUTCOME @NODE final",
    ),
    (
        "5 p0 append l 'w1",
        "t.txt:1: No closing quotation; put text holding an apostrophe in double quotes",
    ),
    (
        "1 p0 append l w1 -> pending\n2 p0 append l w2",
        "t.txt:2: p0 is still busy: its line t.txt:1 never completes; it does one thing at a "
        "time, so use another process",
    ),
    (
        "0..10 p0 append l w1\n5 p0 append l w2",
        "t.txt:2: p0 is still busy: its line t.txt:1 runs until 10 ms; it does one thing at a "
        "time, so use another process",
    ),
    (
        "5 nemesis explode n1",
        "t.txt:1: unknown fault 'explode'; the faults are kill, pause, resume, restart, "
        "wipe-restart, partition, cut, heal-link, slow-link, failover, failover-to, az-outage, "
        "rejoin, synced, heal",
    ),
    ("5 nemesis kill", "t.txt:1: 'kill' takes 1 argument(s)"),
    ("5 nemesis heal n1", "t.txt:1: 'heal' takes 0 argument(s)"),
    (NODES + "5 nemesis kill n9", "t.txt:2: unknown node 'n9'; declare it with 'nodes'"),
    (NODES + "5 nemesis cut n1 n9", "t.txt:2: unknown node 'n9'; declare it with 'nodes'"),
    (NODES + "5 nemesis az-outage z", "t.txt:2: no node is in AZ 'z'"),
    (
        NODES + "5 nemesis kill n1 -> fail",
        "t.txt:2: nemesis lines take no '-> OUTCOME', '@NODE' or 'final'; write only the "
        "action and its arguments",
    ),
    (
        NODES + "5 observer lag n1 3 @n1",
        "t.txt:2: observer lines take no '-> OUTCOME', '@NODE' or 'final'; write only the "
        "action and its arguments",
    ),
    ("5 observer lag n1", "t.txt:1: write 'observer lag NODE MS' with MS a whole number of ms"),
    (
        NODES + "5 observer lag n1 fast",
        "t.txt:2: write 'observer lag NODE MS' with MS a whole number of ms",
    ),
    ("nodes n1@a n2@b n1@c\n", "t.txt:1: node 'n1' is declared twice; give each node its own name"),
    (
        "9" * 400 + " p0 append l w1",
        "t.txt:1: a time of 2^62 ns (about 146 years) or more does not fit the clock; write "
        "times in ms from the start of the history",
    ),
    (
        "5..99999999999999 p0 append l w1",
        "t.txt:1: a time of 2^62 ns (about 146 years) or more does not fit the clock; write "
        "times in ms from the start of the history",
    ),
    # Values a read could not show: judged missing (or a phantom) had they been accepted.
    *(
        (
            line,
            f"t.txt:1: {value!r} cannot be read back in this language (a value is one word, "
            "without brackets or quotes, and not nil or null); use e.g. w1",
        )
        for line, value in [
            ('0..2 p0 append l "w1 w2"', "w1 w2"),
            ("0..2 p0 add s [w1]", "[w1]"),
            ("0..2 p0 set r nil", "nil"),
            ("0..2 p0 set r null", "null"),
            ("0..2 p0 set r '\"x'", '"x'),
        ]
    ),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors_name_the_line_and_the_fix(text: str, message: str) -> None:
    assert error_of(text) == message


def test_a_hash_in_quotes_is_text_and_outside_them_a_comment() -> None:
    ops = ops_of(
        NODES + "0..2 p0 append l w1 -> fail \"ERR #1 it's full\"  # a comment, it's fine\n"
    )
    assert ops[1]["error"] == "ERR #1 it's full"


def test_a_process_may_start_again_the_moment_its_last_op_completed() -> None:
    h = parse_text("0..10 p0 append l w1\n10 p0 append l w2\n")
    assert [(o.time // MS, o.type) for o in h.ops] == [
        (0, "invoke"),
        (10, "ok"),
        (10, "invoke"),
        (10, "ok"),
    ]


def test_link_faults_may_name_the_clients() -> None:
    assert effects_of(NODES + "1 nemesis cut client n1\n") == [[{"cut": ["client", "n1"]}]]
