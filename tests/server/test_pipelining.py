"""Commands sent in one read give exactly the replies they give one at a time.

The server runs plain GET and SET on a fast path and parses a whole read ahead; these tests
send scripts both ways and compare every reply, around each thing the fast path must notice
mid-batch: a mode change, MULTI, HELLO 3, a TTL, a wrong type, AUTH, a replica's role.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import pytest

from harness.resp import ErrorReply, encode_command

from .conftest import (
    ClusterFactory,
    Conn,
    Node,
    ServerFactory,
    spawn,
    stop,
    wait_offset_match,
    wait_ready,
)


def _normalized(reply: object) -> object:
    """What may differ between runs: numbers in error texts (a measured lag), HELLO's id."""
    if isinstance(reply, ErrorReply):
        return ErrorReply(re.sub(r"\d+", "N", reply.message))
    if isinstance(reply, dict) and b"id" in reply:
        return {k: v for k, v in reply.items() if k != b"id"}
    if isinstance(reply, list) and reply[:1] == [b"server"]:  # HELLO 2
        return _normalized(dict(zip(reply[::2], reply[1::2], strict=True)))
    return reply


def one_at_a_time(node: Node, script: list[str]) -> list[object]:
    c = Conn(node.port)
    try:
        return [_normalized(c(*shlex.split(line))) for line in script]
    finally:
        c.close()


def pipelined(node: Node, script: list[str]) -> list[object]:
    c = Conn(node.port)
    try:
        c.send_raw(b"".join(encode_command(*shlex.split(line)) for line in script))
        return [_normalized(c.read()) for _ in script]
    finally:
        c.close()


def reset(node: Node) -> None:
    c = Conn(node.port)
    try:
        assert c("CONFIG", "SET", "durability", "none", "lag-limit-ms", "10000") == b"OK"
        assert c("FLUSHALL") == b"OK"
    finally:
        c.close()


SCRIPTS = {
    "types": ["SET k v", "GET k", "GET nope", "RPUSH l a", "GET l", "SET l x", "GET l"],
    "resp3": ["HELLO 3", "GET nope", "SET k v", "GET k", "HELLO 2", "GET nope"],
    "multi": ["MULTI", "SET k v", "GET k", "EXEC", "GET k", "MULTI", "GET k", "DISCARD"],
    "to-sync": ["SET k v", "CONFIG SET durability sync", "SET k w", "GET k"],
    "from-sync": [
        *("CONFIG SET durability sync", "SET k v", "CONFIG SET durability none"),
        *("SET k w", "GET k"),
    ],
    "ttl": [
        *("SET k v EX 100", "GET k", "SET k w", "GET k", "DEBUG DIGEST"),
        *("SET k2 x PX 1", "DEBUG SLEEP 0.01", "GET k2", "EXISTS k2"),
    ],
    "case": ["set k v", "get k", "Set k w", "gEt k", "GET", "SET k", "GET k x"],
}
ANY = object()
"""In EXPECTED: a reply only compared between the two ways (HELLO's map, a digest)."""
WRONGTYPE = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")
NOSYNC = ErrorReply("NOSYNCREPLICAS Not enough synchronous replicas to write.")
EXPECTED: dict[str, list[object]] = {
    "types": [b"OK", b"v", None, 1, WRONGTYPE, b"OK", b"x"],
    "resp3": [ANY, None, b"OK", b"v", ANY, None],
    "multi": [b"OK", b"QUEUED", b"QUEUED", [b"OK", b"v"], b"v", b"OK", b"QUEUED", b"OK"],
    "to-sync": [b"OK", b"OK", NOSYNC, b"v"],
    "from-sync": [b"OK", NOSYNC, b"OK", b"OK", b"w"],
    "ttl": [b"OK", b"v", b"OK", b"w", ANY, b"OK", b"OK", None, 0],
    "case": [b"OK", b"v", b"OK", b"w"]
    + [
        ErrorReply(f"ERR wrong number of arguments for '{c}' command")
        for c in ("get", "set", "get")
    ],
}
# On a fresh server without replicas: the lag grows from the first write (SET a) and never
# shrinks, so it is under 200 ms for SET a and over it after the sleep.
ASYNC_LAG = [
    *("CONFIG SET lag-limit-ms 200 durability async", "SET a 1", "DEBUG SLEEP 0.3"),
    *("SET b 2", "GET a", "GET b", "CONFIG SET durability none", "SET b 3", "GET b"),
]


@pytest.fixture(scope="module", params=["default", "pure"])
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    """One server for every script (each runs on a reset server both ways); ``pure``: no
    hiredis parser and asyncio's own event loop."""
    flags = ("--no-hiredis", "--no-uvloop") if request.param == "pure" else ()
    server = spawn(tmp_path_factory.mktemp("pipelining"), "--az", "a", *flags)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(server)


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_pipelined_replies_equal_sequential(node: Node, name: str) -> None:
    script = SCRIPTS[name]
    reset(node)
    want = one_at_a_time(node, script)
    reset(node)
    got = pipelined(node, script)
    assert got == want, f"script {name!r}: pipelined replies differ from one at a time"
    expected = EXPECTED[name]
    assert [w for w, e in zip(want, expected, strict=True) if e is not ANY] == [
        e for e in expected if e is not ANY
    ], f"script {name!r}: wrong replies"


def test_set_clears_ttl_on_the_fast_path(node: Node) -> None:
    reset(node)
    c = node.conn()
    assert c("SET", "k", "w") == b"OK"
    plain = c("DEBUG", "DIGEST")
    assert c("SET", "k", "v", "EX", "100") == b"OK"
    assert c("DEBUG", "DIGEST") != plain
    assert c("SET", "k", "w") == b"OK"
    assert c("DEBUG", "DIGEST") == plain


def test_pipelined_sync_rejection(node: Node) -> None:
    reset(node)
    assert pipelined(node, SCRIPTS["to-sync"])[2] == ErrorReply(
        "NOSYNCREPLICAS Not enough synchronous replicas to write."
    )


def test_pipelined_async_lag(start_server: ServerFactory) -> None:
    want = one_at_a_time(start_server(), ASYNC_LAG)
    got = pipelined(start_server(), ASYNC_LAG)
    assert got == want
    assert got[1] == b"OK"
    assert isinstance(got[3], ErrorReply) and got[3].prefix == "CLUSTERDOWN"
    assert got[4:] == [b"1", None, b"OK", b"OK", b"3"]


def test_pipelined_auth(start_server: ServerFactory) -> None:
    node = start_server("--requirepass", "pw")
    noauth = ErrorReply("NOAUTH Authentication required.")
    script = ["SET k v", "GET k", "AUTH pw", "SET k v", "GET k"]
    assert pipelined(node, script) == [noauth, noauth, b"OK", b"OK", b"v"]


def test_pipelined_writes_on_a_replica_and_wait(cluster: ClusterFactory) -> None:
    primary, [replica] = cluster(1)
    replies = pipelined(replica, ["SET x 1", "GET x"])
    assert isinstance(replies[0], ErrorReply) and replies[0].prefix == "READONLY"
    assert replies[1] is None
    assert pipelined(primary, ["SET a 1", "SET b 2", "WAIT 1 2000", "GET b"]) == [
        b"OK",
        b"OK",
        1,
        b"2",
    ]
    assert Conn(replica.port)("GET", "b") == b"2"


def test_backlog_counts_writes_of_the_same_read(node: Node) -> None:
    reset(node)
    c = Conn(node.port)
    c.send_raw(encode_command("SET", "k", "v") + encode_command("INFO", "replication"))
    assert c.read() == b"OK"
    text = c.read()
    assert isinstance(text, bytes)
    fields = dict(line.split(":", 1) for line in text.decode().split("\r\n") if ":" in line)
    offset = int(fields["master_repl_offset"])
    assert offset >= len(encode_command("SET", "k", "v"))
    first = int(fields["repl_backlog_first_byte_offset"])
    assert int(fields["repl_backlog_histlen"]) == offset - first + 1


def test_fast_path_values_of_every_size_replicate(cluster: ClusterFactory) -> None:
    # Values below and above the fast path's table of encoded sizes, pipelined.
    primary, [replica] = cluster(1)
    sizes = [0, 1, 9, 10, 9999, 10000, 12345]
    c = Conn(primary.port)
    c.send_raw(
        b"".join(encode_command("SET", b"k" * size or b"e", b"v" * size) for size in sizes)
        + b"".join(encode_command("GET", b"k" * size or b"e") for size in sizes)
    )
    assert [c.read() for _ in sizes] == [b"OK"] * len(sizes)
    assert [c.read() for _ in sizes] == [b"v" * size for size in sizes]
    wait_offset_match(primary, replica)
    assert Conn(replica.port)("DEBUG", "DIGEST") == c("DEBUG", "DIGEST")
    assert Conn(replica.port)("GET", b"k" * 12345) == b"v" * 12345


def test_pipelined_write_after_promotion_counts_inherited_lag(cluster: ClusterFactory) -> None:
    # The SET after REPLICAOF NO ONE in the same read must see the writes the node
    # inherited as unacknowledged (async rejects), like one sent on its own.
    primary, [replica] = cluster(1)
    assert pipelined(primary, ["SET a 1", "WAIT 1 2000"]) == [b"OK", 1]
    replies = pipelined(
        replica,
        [
            *("CONFIG SET lag-limit-ms 200 durability async", "DEBUG SLEEP 0.3"),
            *("REPLICAOF NO ONE", "SET k v", "GET a"),
        ],
    )
    assert replies[:3] == [b"OK", b"OK", b"OK"]
    assert isinstance(replies[3], ErrorReply) and replies[3].prefix == "CLUSTERDOWN", replies
    assert replies[4] == b"1"
