"""The three durability modes at the server level, including live mode changes."""

from __future__ import annotations

import time

from harness.resp import ErrorReply

from .conftest import ClusterFactory, Conn, ServerFactory, poll

NOSYNC = ErrorReply("NOSYNCREPLICAS Not enough synchronous replicas to write.")


def test_sync_rejects_without_eligible_replica(start_server: ServerFactory) -> None:
    node = start_server("--durability", "sync")
    c = node.conn()
    assert c("SET", "k", "v") == NOSYNC
    assert c("GET", "k") is None  # rejected before it was applied
    assert c("MULTI") == b"OK" and c("SET", "k", "v") == b"QUEUED"
    assert c("EXEC") == NOSYNC
    assert c("GET", "k") is None
    assert node.info("durability")["durability_sync_rejections"] == "2"


def test_sync_waits_for_other_az_replica(cluster: ClusterFactory) -> None:
    primary, [replica] = cluster(1, primary_flags=("--durability", "sync"))
    c = primary.conn()
    assert c("SET", "k", "v") == b"OK"
    assert replica.conn()("GET", "k") == b"v"  # acked => already applied on the replica
    assert c("MULTI") == b"OK" and c("INCR", "n") == b"QUEUED"
    assert c("EXEC") == [1]
    assert primary.info("durability")["durability_eligible_replicas"] == "1"


def test_sync_same_az_replica_does_not_count(cluster: ClusterFactory) -> None:
    primary, _ = cluster(1, primary_flags=("--durability", "sync"), azs=["az-a", "az-a"])
    assert primary.conn()("SET", "k", "v") == NOSYNC


def test_sync_timeout_is_indeterminate_and_write_stays(cluster: ClusterFactory) -> None:
    primary, [replica] = cluster(
        1, primary_flags=("--durability", "sync", "--sync-timeout-ms", "300")
    )
    replica.proc.send_signal(19)  # SIGSTOP: connected but silent
    try:
        c = primary.conn()
        start = time.monotonic()
        reply = c("SET", "k", "v")
        assert isinstance(reply, ErrorReply) and reply.prefix == "SYNCTIMEOUT"
        assert reply.message == (
            "SYNCTIMEOUT Timed out waiting for 1 synchronous replica(s); the write was applied "
            "locally and may or may not be durable."
        )
        assert time.monotonic() - start >= 0.29
        assert c("GET", "k") == b"v"
        assert primary.info("durability")["durability_sync_timeouts"] == "1"
        # The silent replica is dropped after repl-timeout-ms, and writes are then rejected.
        poll(
            lambda: primary.info("replication")["connected_slaves"] == "0",
            "the silent replica to be dropped",
        )
        assert c("SET", "k2", "v") == NOSYNC
    finally:
        replica.proc.send_signal(18)  # SIGCONT


def test_async_rejects_over_lag_and_resumes(cluster: ClusterFactory) -> None:
    primary, [replica] = cluster(
        1, primary_flags=("--durability", "async", "--lag-limit-ms", "300")
    )
    c = primary.conn()
    assert c("SET", "a", "1") == b"OK"
    replica.proc.send_signal(19)
    try:
        assert c("SET", "b", "2") == b"OK"  # lag starts here

        def rejected() -> bool:
            reply = c("SET", "probe", "x")
            return isinstance(reply, ErrorReply) and reply.prefix == "CLUSTERDOWN"

        poll(rejected, "writes to be rejected with CLUSTERDOWN")
        assert c("GET", "c") is None and c("GET", "b") == b"2"  # reads keep working
        reply = c("SET", "c", "3")
        assert isinstance(reply, ErrorReply)
        assert reply.message.startswith("CLUSTERDOWN Write rejected: durability lag ")
        assert reply.message.endswith(
            " ms exceeds the limit of 300 ms; retry when replication catches up."
        )
        info = primary.info("durability")
        assert int(info["durability_lag_ms"]) > 300
        assert int(info["durability_buffer_exceeded_error_count"]) >= 2
    finally:
        replica.proc.send_signal(18)
    poll(lambda: c("SET", "d", "4") == b"OK", "writes to be accepted after the replica caught up")
    assert int(primary.info("durability")["durability_lag_ms"]) < 300


def test_async_without_replica_lag_grows_from_oldest_write(start_server: ServerFactory) -> None:
    node = start_server("--durability", "async", "--lag-limit-ms", "200")
    c = node.conn()
    assert c("SET", "a", "1") == b"OK"
    poll(lambda: int(node.info("durability")["durability_lag_ms"]) > 200, "the lag to exceed L")
    assert isinstance(c("SET", "b", "2"), ErrorReply)
    assert c("GET", "a") == b"1"


def test_none_mode_replies_without_replicas(start_server: ServerFactory) -> None:
    node = start_server()
    assert node.conn()("SET", "k", "v") == b"OK"


def test_live_mode_change(cluster: ClusterFactory) -> None:
    primary, _ = cluster(1)
    c = primary.conn()
    assert c("CONFIG", "SET", "durability", "sync", "sync-replicas", "2") == b"OK"
    assert c("SET", "k", "v") == NOSYNC
    assert c("CONFIG", "SET", "sync-replicas", "1") == b"OK"
    assert c("SET", "k", "v") == b"OK"
    assert c("CONFIG", "SET", "az", "az-b") == b"OK"  # now the replica shares our AZ
    assert c("SET", "k", "w") == NOSYNC
    assert c("CONFIG", "SET", "durability", "none") == b"OK"
    assert c("SET", "k", "w") == b"OK"
    assert primary.info("durability")["durability_mode"] == "none"


def test_wait_counts_all_replicas(cluster: ClusterFactory) -> None:
    primary, _ = cluster(2, azs=["az-a", "az-a", "az-b"])
    c = primary.conn()
    assert c("SET", "k", "v") == b"OK"
    assert c("WAIT", "2", "2000") == 2
    start = time.monotonic()
    assert c("WAIT", "3", "200") == 2
    assert time.monotonic() - start >= 0.19
    assert c("WAIT", "x", "1") == ErrorReply("ERR value is not an integer or out of range")
    assert isinstance(Conn, type)


def test_a_promoted_replica_counts_its_inherited_writes_in_its_lag(
    cluster: ClusterFactory,
) -> None:
    """A new primary has no acknowledgement for what it inherited: by the semantics its lag
    counts from the oldest inherited write, so (async) it rejects writes until its own
    replicas acknowledge them — a second failure then loses no more than the limit."""
    primary, [replica] = cluster(1)
    c = primary.conn()
    for i in range(5):
        assert c("RPUSH", "l", str(i)) == i + 1
    poll(lambda: replica.conn()("LLEN", "l") == 5, "the replica to apply the writes")
    r = replica.conn()
    assert r("CONFIG", "SET", "lag-limit-ms", "200") == b"OK"
    assert r("CONFIG", "SET", "durability", "async") == b"OK"
    time.sleep(0.3)  # the inherited writes are now older than the limit
    assert r("REPLICAOF", "NO", "ONE") == b"OK"
    reply = r("RPUSH", "l", "new")
    assert isinstance(reply, ErrorReply) and reply.prefix == "CLUSTERDOWN", reply
    assert int(replica.info("durability")["durability_lag_ms"]) >= 300


def test_a_blocked_client_that_disconnects_is_freed(start_server: ServerFactory) -> None:
    # A blocked client used to stop reading, so its EOF went unseen: it stayed connected
    # (CLOSE_WAIT) and blocked for good. Like Valkey, it is freed when it goes.
    node = start_server()
    for _ in range(3):
        c = Conn(node.port)
        c.send_raw(b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n0\r\n")
        poll(lambda: node.info("clients")["blocked_clients"] == "1", "WAIT to block")
        c.close()
        poll(lambda: node.info("clients")["blocked_clients"] == "0", "the client to be freed")
    assert node.info("clients")["connected_clients"] == "1"  # INFO's own connection
    c = Conn(node.port)
    c.send_raw(b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n100\r\n*1\r\n$4\r\nPING\r\n")
    assert c.read() == 0 and c.read() == b"PONG"  # commands sent while blocked run after
