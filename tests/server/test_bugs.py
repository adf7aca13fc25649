"""Each seeded bug misbehaves as its description says (at the server level)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from harness.resp import ErrorReply

from .conftest import ClusterFactory, Node, ServerFactory, poll, wait_offset_match

EXPECTED = {
    "sync-ack-before-replication": "acked-writes-survive",
    "sync-counts-same-az-replica": "acked-writes-survive",
    "async-never-rejects": "loss-window-bounded",
    "async-lag-from-last-ack": "loss-window-bounded",
    "lag-underreported": "lag-metric-not-underreported",
    "replica-skips-writes": "no-holes",
    "replica-acks-before-apply": "acked-writes-survive",
    "rejected-write-applied": "rejected-writes-not-applied",
    "offset-overreported": "acked-writes-survive",
    "rejoin-keeps-divergent-writes": "no-holes",
    "never-resumes-writes": "writes-resume-after-heal",
    "forgets-acked-writes": "no-loss-without-failure",
    "phantom-value": "no-phantom-writes",
}


def test_list_bugs_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "harness.server", "--list-bugs"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    bugs = json.loads(out)
    assert {b["name"]: b["breaks"] for b in bugs} == EXPECTED
    for b in bugs:
        assert set(b) == {"name", "breaks", "mode", "description", "topology"}
        assert b["mode"] in ("sync", "async", "none", "any")
        assert b["breaks"] in b["description"]
    same_az = next(b for b in bugs if b["name"] == "sync-counts-same-az-replica")
    assert same_az["topology"] == {"nodes": 3, "azs": 2}


def test_unknown_bug_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.server", "--bug", "nope"], capture_output=True, text=True
    )
    assert proc.returncode == 3 and "--list-bugs" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_a_bad_flag_is_one_line_and_exit_3() -> None:
    # as docs/server.md says, and as `ackbound server` does
    for flags in (["--port", "99999"], ["--bogus"]):
        proc = subprocess.run(
            [sys.executable, "-m", "harness.server", *flags], capture_output=True, text=True
        )
        assert proc.returncode == 3, proc
        assert proc.stderr.startswith("python -m harness.server: error: "), proc.stderr
        assert proc.stderr.endswith("(see 'python -m harness.server --help')\n"), proc.stderr
        assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_sync_ack_before_replication(cluster: ClusterFactory) -> None:
    primary, [replica] = cluster(
        1, primary_flags=("--durability", "sync", "--bug", "sync-ack-before-replication")
    )
    replica.proc.send_signal(19)
    try:
        assert primary.conn()("SET", "k", "v") == b"OK"  # acked with the replica frozen
    finally:
        replica.proc.send_signal(18)


def test_sync_counts_same_az_replica(cluster: ClusterFactory) -> None:
    flags = ("--durability", "sync", "--bug", "sync-counts-same-az-replica")
    primary, _ = cluster(1, primary_flags=flags, azs=["az-a", "az-a"])
    assert primary.conn()("SET", "k", "v") == b"OK"  # a correct server says NOSYNCREPLICAS


def _frozen_async(cluster: ClusterFactory, bug: str) -> tuple[Node, Node]:
    primary, [replica] = cluster(
        1, primary_flags=("--durability", "async", "--lag-limit-ms", "200", "--bug", bug)
    )
    return primary, replica


def test_async_never_rejects(cluster: ClusterFactory) -> None:
    primary, replica = _frozen_async(cluster, "async-never-rejects")
    replica.proc.send_signal(19)
    try:
        c = primary.conn()
        c("SET", "a", "1")
        poll(lambda: int(primary.info("durability")["durability_lag_ms"]) > 400, "lag > 2L")
        assert c("SET", "b", "2") == b"OK"
    finally:
        replica.proc.send_signal(18)


def test_async_lag_from_last_ack(cluster: ClusterFactory) -> None:
    primary, replica = _frozen_async(cluster, "async-lag-from-last-ack")
    c = primary.conn()
    # The replica keeps acking (heartbeats) yet never gets past an old write: simulate by
    # writes whose acks we hold back is not possible from outside, so show the rule instead:
    # the lag is the time since the last ack, and writes are accepted while acks flow, even
    # while the true oldest-unacked age exceeds L.
    for _ in range(10):
        assert c("SET", "k", "v") == b"OK"
        time.sleep(0.05)
    assert int(primary.info("durability")["durability_lag_ms"]) < 200
    replica.proc.send_signal(19)
    try:
        poll(lambda: isinstance(c("SET", "p", "x"), ErrorReply), "rejection once acks stop")
    finally:
        replica.proc.send_signal(18)


def test_lag_underreported(cluster: ClusterFactory) -> None:
    primary, replica = _frozen_async(cluster, "lag-underreported")
    c = primary.conn()
    replica.proc.send_signal(19)
    try:
        c("SET", "a", "1")
        poll(lambda: isinstance(c("SET", "p", "x"), ErrorReply), "rejection over the limit")
        reply = c("SET", "p", "x")
        assert isinstance(reply, ErrorReply)
        true_lag = int(reply.message.split("lag ")[1].split(" ms")[0])
        reported = int(primary.info("durability")["durability_lag_ms"])
        assert true_lag > 200 and reported < true_lag / 2
    finally:
        replica.proc.send_signal(18)


def test_replica_skips_writes(cluster: ClusterFactory) -> None:
    primary, [replica] = cluster(1, replica_flags=("--bug", "replica-skips-writes"))
    c = primary.conn()
    for i in range(14):
        c("SET", f"k{i}", "v")
    wait_offset_match(primary, replica)
    r = replica.conn()
    missing = [i for i in range(14) if r("GET", f"k{i}") is None]
    assert missing and len(missing) <= 2
    assert r("INFO", "replication")  # offset matched although writes are missing


def test_replica_acks_before_apply(cluster: ClusterFactory) -> None:
    primary, [replica] = cluster(
        1,
        primary_flags=("--durability", "sync"),
        replica_flags=("--bug", "replica-acks-before-apply"),
    )
    c = primary.conn()
    assert c("SET", "k", "v") == b"OK"  # acked by the replica ...
    r = replica.conn()
    assert r("GET", "k") is None  # ... which has not applied it
    assert r("REPLICAOF", "NO", "ONE") == b"OK"  # failover inside the window
    time.sleep(0.4)  # past the 300 ms apply delay: the write is gone for good
    assert r("GET", "k") is None


def test_rejected_write_applied(start_server: ServerFactory) -> None:
    node = start_server("--durability", "sync", "--bug", "rejected-write-applied")
    c = node.conn()
    reply = c("SET", "k", "v")
    assert isinstance(reply, ErrorReply) and reply.prefix == "NOSYNCREPLICAS"
    assert c("GET", "k") == b"v"


def test_offset_overreported(cluster: ClusterFactory) -> None:
    primary, [replica] = cluster(
        1, primary_flags=("--durability", "sync"), replica_flags=("--bug", "offset-overreported")
    )
    c = primary.conn()
    assert c("SET", "a", "1") == b"OK"
    assert c("SET", "b", "2") == b"OK"
    r = replica.conn()
    info = replica.info("replication")
    assert (
        int(info["slave_repl_offset"])
        >= int(primary.info("replication")["master_repl_offset"]) - 14
    )
    assert r("GET", "b") is None  # claimed, not applied


def test_rejoin_keeps_divergent_writes(cluster: ClusterFactory) -> None:
    flags = ("--bug", "rejoin-keeps-divergent-writes")
    primary, [replica] = cluster(1, primary_flags=flags, replica_flags=flags)
    c = primary.conn()
    c("SET", "common", "1")
    wait_offset_match(primary, replica)
    new = replica.conn()
    new("REPLICAOF", "NO", "ONE")
    c("SET", "divergent", "x")
    for i in range(5):
        new("SET", f"new{i}", "y")
    c("REPLICAOF", "127.0.0.1", str(replica.port))
    poll(lambda: primary.info("replication")["master_link_status"] == "up", "the link up")
    new("SET", "after", "z")
    poll(lambda: c("GET", "after") == b"z", "the write after rejoining")
    assert c("GET", "divergent") == b"x"  # kept its divergent tail ...
    assert c("GET", "new0") is None  # ... and skipped the new primary's writes


def test_never_resumes_writes(cluster: ClusterFactory) -> None:
    primary, replica = _frozen_async(cluster, "never-resumes-writes")
    c = primary.conn()
    replica.proc.send_signal(19)
    try:
        c("SET", "a", "1")
        poll(lambda: isinstance(c("SET", "p", "x"), ErrorReply), "the first rejection")
    finally:
        replica.proc.send_signal(18)
    poll(lambda: primary.info("durability")["durability_lag_ms"] == "0", "the lag to heal")
    assert isinstance(c("SET", "q", "y"), ErrorReply)


def test_forgets_acked_writes(start_server: ServerFactory) -> None:
    node = start_server("--bug", "forgets-acked-writes")
    c = node.conn()
    for i in range(22):
        assert c("SET", f"k{i}", "v") == b"OK"
    missing = [i for i in range(22) if c("GET", f"k{i}") is None]
    assert missing == [10, 21]


def test_phantom_value(start_server: ServerFactory) -> None:
    node = start_server("--bug", "phantom-value")
    c = node.conn()
    c("SET", "k", "v")
    values = {c("GET", "k") for _ in range(26)}
    assert b"v" in values
    assert any(isinstance(v, bytes) and v.startswith(b"ackbound-phantom-") for v in values)


def test_a_flush_starts_the_bugs_counts_over(cluster: ClusterFactory) -> None:
    """An example begins with FLUSHALL: it then meets each counting bug at the same point
    however many examples came before it, as its replay on a new cluster does."""
    primary, [replica] = cluster(
        1,
        primary_flags=("--bug", "forgets-acked-writes", "--bug", "phantom-value"),
        replica_flags=("--bug", "replica-skips-writes"),
    )
    c = primary.conn()

    def one_example() -> tuple[list[int], list[int], int]:
        assert c("FLUSHALL") == b"OK"
        for i in range(12):
            c("SET", f"k{i}", "v")
        forgotten = [i for i in range(12) if c("EXISTS", f"k{i}") == 0]
        wait_offset_match(primary, replica)
        r = replica.conn()
        skipped = [i for i in range(12) if r("EXISTS", f"k{i}") == 0]
        reads = [c("GET", "k0") for _ in range(5)]
        first_phantom = next(
            n for n, v in enumerate(reads) if isinstance(v, bytes) and v.startswith(b"ackbound-")
        )
        return forgotten, skipped, first_phantom

    first = one_example()
    for _ in range(3):  # counts left over from before would move each bug's point
        c("SET", "other", "x")
        c("GET", "other")
        assert one_example() == first
    # The 11th write since the flush forgotten (so on the replica too), the 7th replicated
    # write skipped, the 5th read a phantom.
    assert first == ([10], [6, 10], 4)
