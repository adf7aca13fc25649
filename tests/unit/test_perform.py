"""``perform``: one client op under a target's write protocol, outcome classified.

A scripted client stands in for the server, so every outcome path is exercised exactly."""

from __future__ import annotations

from typing import Any

import pytest

from harness.cluster import ClientConnectionError, ClientTimeout, ServerError, perform
from harness.targets import ModeParams, load_target


class Scripted:
    """Replies (or raises) from a script, recording the commands sent."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.sent: list[tuple[Any, ...]] = []

    @property
    def node(self) -> str:
        return "n1"

    def execute(self, *args: Any) -> Any:
        self.sent.append(args)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def close(self) -> None:
        pass


VALKEY = load_target("valkey")
BUNDLED = load_target("bundled")
K2 = ModeParams(sync_replicas=2, sync_timeout_ms=250)


@pytest.mark.parametrize(
    ("target", "mode", "replies", "outcome", "sent"),
    [
        (VALKEY, "none", ["OK"], ("ok", "w1", None), [("SET", "k", "w1")]),
        (VALKEY, "sync", ["OK", 2], ("ok", "w1", None), [("SET", "k", "w1"), ("WAIT", 2, 250)]),
        (
            VALKEY,
            "sync",
            ["OK", 1],
            ("info", "w1", "WAIT: 1 of 2 replica(s) acknowledged within 250 ms"),
            [("SET", "k", "w1"), ("WAIT", 2, 250)],
        ),
        (
            VALKEY,
            "sync",
            ["OK", ClientTimeout("n1: Timeout reading")],
            ("info", "w1", "WAIT failed: timeout: n1: Timeout reading"),
            [("SET", "k", "w1"), ("WAIT", 2, 250)],
        ),
        (
            VALKEY,
            "async",
            [ServerError("NOREPLICAS Not enough good replicas to write.")],
            ("fail", "w1", "NOREPLICAS Not enough good replicas to write."),
            [("SET", "k", "w1")],
        ),
        (
            VALKEY,
            "none",
            [ServerError("WRONGTYPE Operation against a key")],
            ("fail", "w1", "WRONGTYPE Operation against a key"),
            [("SET", "k", "w1")],
        ),
        (
            VALKEY,
            "none",
            [ServerError("WEIRD never seen")],
            ("info", "w1", "WEIRD never seen"),
            [("SET", "k", "w1")],
        ),
        (
            VALKEY,
            "none",
            [ClientConnectionError("n1: reset")],
            ("info", "w1", "connection error: n1: reset"),
            [("SET", "k", "w1")],
        ),
        (
            VALKEY,
            "none",
            ["QUEUED"],
            ("info", "w1", "unexpected reply to SET: 'QUEUED'"),
            [("SET", "k", "w1")],
        ),
        (
            BUNDLED,
            "sync",
            [ServerError("SYNCTIMEOUT Timed out")],
            ("info", "w1", "SYNCTIMEOUT Timed out"),
            [("SET", "k", "w1")],
        ),
        (
            BUNDLED,
            "sync",
            [ServerError("NOSYNCREPLICAS Not enough")],
            ("fail", "w1", "NOSYNCREPLICAS Not enough"),
            [("SET", "k", "w1")],
        ),
        (BUNDLED, "sync", ["OK"], ("ok", "w1", None), [("SET", "k", "w1")]),  # no WAIT: plain
    ],
)
def test_register_writes(
    target: Any, mode: str, replies: list[Any], outcome: Any, sent: Any
) -> None:
    client = Scripted(*replies)
    assert perform(target, mode, K2, client, "register", "write", "k", "w1") == outcome
    assert client.sent == sent


def test_each_workload_writes_and_reads_with_its_commands() -> None:
    client = Scripted(1, 1, 5, ["a", "b"], ["y", "x"], "5", None, None)
    assert perform(VALKEY, "none", K2, client, "list", "write", "l", "a") == ("ok", "a", None)
    assert perform(VALKEY, "none", K2, client, "set", "write", "s", "x") == ("ok", "x", None)
    assert perform(VALKEY, "none", K2, client, "counter", "write", "c", 4) == ("ok", 4, None)
    assert perform(VALKEY, "none", K2, client, "list", "read", "l", None) == (
        "ok",
        ["a", "b"],
        None,
    )
    assert perform(VALKEY, "none", K2, client, "set", "read", "s", None) == ("ok", ["x", "y"], None)
    assert perform(VALKEY, "none", K2, client, "counter", "read", "c", None) == ("ok", 5, None)
    assert perform(VALKEY, "none", K2, client, "counter", "read", "d", None) == ("ok", 0, None)
    assert perform(VALKEY, "none", K2, client, "register", "read", "r", None) == ("ok", None, None)
    assert client.sent == [
        ("RPUSH", "l", "a"),
        ("SADD", "s", "x"),
        ("INCRBY", "c", 4),
        ("LRANGE", "l", 0, -1),
        ("SMEMBERS", "s"),
        ("GET", "c"),
        ("GET", "d"),
        ("GET", "r"),
    ]


def test_failed_reads() -> None:
    assert perform(
        VALKEY, "none", K2, Scripted(ServerError("LOADING")), "list", "read", "l", None
    ) == (
        "fail",
        None,
        "LOADING",
    )
    assert perform(
        VALKEY, "none", K2, Scripted(ClientTimeout("n1: t")), "list", "read", "l", None
    ) == (
        "info",
        None,
        "timeout: n1: t",
    )


@pytest.mark.parametrize(
    ("workload", "reply"),
    [
        ("list", "abc"),  # a bulk string would read as the list ['a', 'b', 'c']
        ("set", "abc"),
        ("list", {"a": "b"}),  # a RESP3 map
        ("list", ["a", 7]),
        ("register", 7),
        ("register", ["a", "b"]),
        ("counter", True),  # RESP3 #t would read as 1
        ("counter", 7),
    ],
)
def test_a_read_reply_of_the_wrong_type_is_indeterminate_not_values(
    workload: str, reply: Any
) -> None:
    typ, value, error = perform(VALKEY, "none", K2, Scripted(reply), workload, "read", "k", None)
    assert (typ, value) == ("info", None)
    assert error == f"unexpected reply to a {workload} read: {reply!r}"


class Pipelined(Scripted):
    """A client that may reconnect between requests, so it sends WAIT with the write."""

    def execute_all(self, *commands: Any) -> list[Any]:
        self.sent.append(tuple(commands))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        assert isinstance(reply, list)
        return reply


@pytest.mark.parametrize(
    ("replies", "outcome"),
    [
        ([["OK", 2]], ("ok", "w1", None)),
        ([["OK", 1]], ("info", "w1", "WAIT: 1 of 2 replica(s) acknowledged within 250 ms")),
        ([["OK", True]], ("info", "w1", "WAIT: True of 2 replica(s) acknowledged within 250 ms")),
        ([[ServerError("NOREPLICAS no"), 0]], ("fail", "w1", "NOREPLICAS no")),
        (
            [["OK", ServerError("ERR WAIT cannot be used")]],
            ("info", "w1", "WAIT failed: ERR WAIT cannot be used"),
        ),
        ([ClientConnectionError("n1: reset")], ("info", "w1", "connection error: n1: reset")),
    ],
)
def test_a_client_that_reconnects_sends_wait_with_the_write(
    replies: list[Any], outcome: Any
) -> None:
    client = Pipelined(*replies)
    assert perform(VALKEY, "sync", K2, client, "register", "write", "k", "w1") == outcome
    assert client.sent == [(("SET", "k", "w1"), ("WAIT", 2, 250))]
