"""Every fault against real 3-node clusters of bundled, valkey and redis (local backend).

Each test applies faults, checks the effects the controller records (they must be true: the
checker believes them) and observes the fault's effect on the servers themselves, then heals
and checks that the cluster is whole: every node up, replicas caught up, writes accepted.
"""

from __future__ import annotations

import time

import pytest

from harness.cluster import Cluster
from harness.faults import FAULT_NAMES, FaultError

from ._util import poll, read, write

ALL_PEERS = {"n1", "n2", "n3", "client"}


def whole(cluster: Cluster, primary: str = "n1") -> None:
    """Every node up, one primary, replicas synced, a write accepted and on every node."""
    synced = cluster.wait_recovered(10)
    assert cluster.primary == primary
    assert [n.status for n in cluster.nodes] == ["up", "up", "up"]
    assert sorted(e["synced"] for e in synced if "synced" in e) == sorted(
        n for n in ("n1", "n2", "n3") if n != primary
    )
    value = f"whole-{time.monotonic_ns()}"
    assert write(cluster, value, key="whole")[0] == "ok"
    for node in ("n1", "n2", "n3"):

        def has_value(n: str = node) -> bool:
            return value in read(cluster, n, key="whole")

        poll(has_value, f"{value} on {node}")


def test_starts_three_nodes_in_three_azs_replicating(cluster: Cluster) -> None:
    assert [(n.name, n.az, n.role, n.status) for n in cluster.nodes] == [
        ("n1", "az1", "primary", "up"),
        ("n2", "az2", "replica", "up"),
        ("n3", "az3", "replica", "up"),
    ]
    client = cluster.client()
    assert cluster.perform(client, "register", "write", "r", "w1") == ("ok", "w1", None)
    assert cluster.perform(client, "list", "write", "l", "w2") == ("ok", "w2", None)
    assert cluster.perform(client, "set", "write", "s", "w3") == ("ok", "w3", None)
    assert cluster.perform(client, "counter", "write", "c", 4) == ("ok", 4, None)
    cluster.wait_recovered(10)
    for node in ("n1", "n2", "n3"):
        c = cluster.client(node)
        assert cluster.perform(c, "register", "read", "r", None) == ("ok", "w1", None)
        assert cluster.perform(c, "list", "read", "l", None) == ("ok", ["w2"], None)
        assert cluster.perform(c, "set", "read", "s", None) == ("ok", ["w3"], None)
        assert cluster.perform(c, "counter", "read", "c", None) == ("ok", 4, None)
        assert cluster.perform(c, "counter", "read", "absent", None) == ("ok", 0, None)
    offsets = cluster.offsets()
    assert set(offsets) == {"n1", "n2", "n3"} and len(set(offsets.values())) == 1


def test_kill_primary_then_failover_promotes_the_most_up_to_date_replica(cluster: Cluster) -> None:
    # Hold back n3's replication stream so that n2 is strictly ahead when n1 dies.
    assert cluster.apply("slow-link", src="n1", dst="n3", bandwidth=200) == [{"slow": ["n1", "n3"]}]
    for i in range(5):
        assert write(cluster, f"a{i}" + "x" * 400)[0] == "ok"
    poll(lambda: cluster.offsets()["n2"] == cluster.offsets()["n1"], "n2 to catch up")
    assert cluster.offsets()["n3"] < cluster.offsets()["n2"]

    assert cluster.apply("kill", node="n1") == [{"down": "n1"}]
    typ, _, error = write(cluster, "lost", node="n1")
    assert typ == "info" and error is not None  # the primary is gone: outcome unknown

    offsets_before = cluster.offsets()
    effects = cluster.apply("failover")
    promote = effects[0]
    assert promote["promote"] == "n2" and promote["by"] == "offset"
    assert set(promote["candidates"]) == {"n2", "n3"}
    assert promote["candidates"]["n2"] == max(promote["candidates"].values())
    assert promote["candidates"]["n2"] > promote["candidates"]["n3"]
    assert promote["candidates"]["n2"] >= offsets_before["n3"]
    assert effects[1:] == [{"replicate": "n3", "from": "n2"}]
    assert cluster.primary == "n2"
    assert write(cluster, "after-failover")[0] == "ok"

    effects = cluster.heal()
    assert {"fast": ["n1", "n3"]} in effects
    assert effects[-3:] == [{"lose-data": "n1"}, {"up": "n1"}, {"replicate": "n1", "from": "n2"}]
    whole(cluster, primary="n2")
    # Every acknowledged write survived on every node (n2 had them all).
    expected = [f"a{i}" + "x" * 400 for i in range(5)] + ["after-failover"]
    for node in ("n1", "n2", "n3"):
        assert read(cluster, node) == expected


def test_partition_of_the_only_eligible_replica_stops_sync_acknowledgements(
    cluster: Cluster,
) -> None:
    cluster.configure("sync", {"sync_replicas": 1, "sync_timeout_ms": 300})
    assert cluster.apply("kill", node="n3") == [{"down": "n3"}]  # n2 is now the only replica
    assert write(cluster, "before")[0] == "ok"

    effects = cluster.apply("partition", node="n2")
    assert sorted(tuple(e["cut"]) for e in effects) == sorted(
        [("n2", p) for p in ALL_PEERS - {"n2"}] + [(p, "n2") for p in ALL_PEERS - {"n2"}]
    )
    for i in range(3):
        typ, _, error = write(cluster, f"during{i}")
        assert typ in ("info", "fail"), (
            f"a sync write was acknowledged with its replica cut off: {error}"
        )
    # The partitioned replica is unreachable for clients too.
    assert write(cluster, "to-n2", node="n2", timeout_s=0.3)[0] == "info"

    effects = cluster.heal()
    assert sorted(tuple(e["heal-link"]) for e in effects if "heal-link" in e) == sorted(
        [("n2", p) for p in ALL_PEERS - {"n2"}] + [(p, "n2") for p in ALL_PEERS - {"n2"}]
    )
    assert effects[-3:] == [{"lose-data": "n3"}, {"up": "n3"}, {"replicate": "n3", "from": "n1"}]
    whole(cluster)
    assert write(cluster, "after")[0] == "ok"


def test_partition_one_direction_cuts_only_that_direction(cluster: Cluster) -> None:
    effects = cluster.apply("partition", node="n1", direction="in")
    assert sorted(tuple(e["cut"]) for e in effects) == [
        ("client", "n1"),
        ("n2", "n1"),
        ("n3", "n1"),
    ]
    assert cluster.link("client", "n1").policy("up").blocked
    assert not cluster.link("client", "n1").policy("down").blocked
    assert write(cluster, "nothing-reaches-n1", timeout_s=0.3)[0] == "info"
    cluster.heal()

    effects = cluster.apply("partition", node="n3", direction="out")
    assert sorted(tuple(e["cut"]) for e in effects) == [
        ("n3", "client"),
        ("n3", "n1"),
        ("n3", "n2"),
    ]
    assert cluster.link("n3", "n1").policy("up").blocked  # n3's acknowledgements to n1
    assert not cluster.link("n3", "n1").policy("down").blocked  # the stream to n3 passes
    # A failover cannot pick n3: the controller (with the clients) cannot reach it.
    effects = cluster.apply("failover")
    assert effects[0]["promote"] == "n2" and set(effects[0]["candidates"]) == {"n2"}
    assert {"replicate": "n1", "from": "n2"} in effects
    cluster.heal()
    whole(cluster, primary="n2")


def test_slow_link_makes_the_replica_lag_then_catch_up(cluster: Cluster) -> None:
    assert cluster.apply("slow-link", src="n1", dst="n2", bandwidth=2000) == [
        {"slow": ["n1", "n2"]}
    ]
    for i in range(8):
        assert write(cluster, f"big{i}" + "y" * 2000, workload="register", key=f"k{i}")[0] == "ok"
    poll(lambda: cluster.offsets()["n3"] == cluster.offsets()["n1"], "n3 to keep up")
    offsets = cluster.offsets()
    assert offsets["n2"] < offsets["n1"], f"n2 should lag behind a 2 kB/s link: {offsets}"

    effects = cluster.apply("slow-link", node="n3", latency_ms=300)
    assert sorted(tuple(e["slow"]) for e in effects) == [
        ("n1", "n3"),
        ("n2", "n3"),
        ("n3", "n1"),
        ("n3", "n2"),
    ]
    started = time.monotonic()
    assert write(cluster, "late")[0] == "ok"
    poll(lambda: "late" in read(cluster, "n3"), "the late write on n3")
    assert time.monotonic() - started >= 0.3

    effects = cluster.heal()
    assert sorted(tuple(e["fast"]) for e in effects) == [
        ("n1", "n2"),
        ("n1", "n3"),
        ("n2", "n3"),
        ("n3", "n1"),
        ("n3", "n2"),
    ]
    whole(cluster)


def test_pause_and_resume(cluster: Cluster) -> None:
    cluster.configure("sync", {"sync_replicas": 2, "sync_timeout_ms": 300})
    assert write(cluster, "both-replicas")[0] == "ok"
    assert cluster.apply("pause", node="n2") == [{"down": "n2"}]
    assert [n.status for n in cluster.nodes] == ["up", "paused", "up"]
    outcome = write(cluster, "one-replica")
    assert outcome[0] in ("info", "fail"), f"acknowledged with n2 paused: {outcome}"
    assert write(cluster, "to-paused", node="n2", timeout_s=0.3)[0] == "info"
    assert cluster.apply("resume", node="n2") == [{"up": "n2"}]
    whole(cluster)


def test_wipe_restart_and_az_outage_lose_data_and_rejoin(cluster: Cluster) -> None:
    assert write(cluster, "kept")[0] == "ok"
    cluster.wait_recovered(10)
    assert cluster.apply("wipe-restart", node="n3") == [
        {"down": "n3"},
        {"lose-data": "n3"},
        {"up": "n3"},
        {"replicate": "n3", "from": "n1"},
    ]
    cluster.wait_recovered(10)
    assert read(cluster, "n3") == ["kept"]  # resynced from the primary

    assert cluster.apply("az-outage", az="az2") == [{"down": "n2"}, {"lose-data": "n2"}]
    assert cluster.node("n2").status == "down"
    assert cluster.apply("restart", node="n2") == [
        {"lose-data": "n2"},
        {"up": "n2"},
        {"replicate": "n2", "from": "n1"},
    ]
    cluster.wait_recovered(10)
    assert read(cluster, "n2") == ["kept"]

    # Losing the primary's AZ with auto_failover: the controller fails over, recorded.
    cluster.auto_failover = True
    assert cluster.apply("az-outage", az="az1") == [{"down": "n1"}, {"lose-data": "n1"}]
    assert cluster.primary in ("n2", "n3")
    new_primary = cluster.primary
    assert read(cluster) == ["kept"]
    effects = cluster.heal()
    assert effects == [{"lose-data": "n1"}, {"up": "n1"}, {"replicate": "n1", "from": new_primary}]
    whole(cluster, primary=new_primary)


def test_named_failover_and_the_old_primary_rejoins_when_it_comes_back(cluster: Cluster) -> None:
    assert write(cluster, "one")[0] == "ok"
    cluster.wait_recovered(10)
    effects = cluster.apply("failover", node="n3")
    assert effects[0]["promote"] == "n3" and effects[0]["by"] == "named"
    assert list(effects[0]["candidates"]) == ["n3"]
    assert effects[1:] == [{"replicate": "n1", "from": "n3"}, {"replicate": "n2", "from": "n3"}]
    assert write(cluster, "two")[0] == "ok"
    cluster.wait_recovered(10)

    # Freeze the primary, fail over away from it; when it resumes it rejoins as a replica.
    cluster.apply("pause", node="n3")
    effects = cluster.apply("failover")
    assert effects[0]["promote"] in ("n1", "n2") and set(effects[0]["candidates"]) == {"n1", "n2"}
    new_primary = effects[0]["promote"]
    assert write(cluster, "three")[0] == "ok"
    assert cluster.apply("resume", node="n3") == [
        {"up": "n3"},
        {"replicate": "n3", "from": new_primary},
    ]
    whole(cluster, primary=new_primary)
    assert read(cluster, "n3") == ["one", "two", "three"]


def test_async_mode_rejects_writes_cleanly_while_replicas_are_cut_off(cluster: Cluster) -> None:
    limit_ms = cluster.target.lag_limit_ms(200)
    cluster.configure("async", {"lag_limit_ms": limit_ms})
    assert write(cluster, "fine")[0] == "ok"
    cluster.apply("partition", node="n2")
    cluster.apply("partition", node="n3")

    def rejected() -> tuple[str, str] | None:
        typ, _, error = write(cluster, f"v{time.monotonic_ns()}")
        if typ == "fail":
            assert error is not None
            return typ, cluster.classify_error(error)
        return None

    assert poll(rejected, "an async write to be rejected", timeout=limit_ms / 1000 + 5) == (
        "fail",
        "rejected",
    )
    if cluster.target.lag is not None:
        lag = cluster.observe_lag()
        assert lag is not None and lag >= limit_ms
    else:
        assert cluster.observe_lag() is None
    cluster.heal()
    poll(lambda: write(cluster, f"resumed{time.monotonic_ns()}")[0] == "ok", "writes to resume")
    whole(cluster)


def test_a_fault_that_does_not_apply_is_recorded_as_fail(cluster: Cluster) -> None:
    assert cluster.applicable("resume", node="n2") == "node n2 is up, not paused"
    assert cluster.apply("resume", node="n2") == []
    assert cluster.apply("restart", node="n1") == []
    with pytest.raises(FaultError, match="'node' is required"):
        cluster.apply("kill")
    with pytest.raises(FaultError, match="'n9' is not a node"):
        cluster.apply("kill", node="n9")
    ops = [op for op in cluster.history.ops if op.type == "fail"]
    assert [(op.f, op.error) for op in ops] == [
        ("resume", "node n2 is up, not paused"),
        ("restart", "node n1 is up; restart starts a killed node (kill it first)"),
    ]


def test_reset_restores_the_initial_cluster_and_empties_it(cluster: Cluster) -> None:
    assert write(cluster, "old")[0] == "ok"
    cluster.apply("failover", node="n2")
    cluster.apply("kill", node="n3")
    cluster.apply("partition", node="n1")
    cluster.apply("slow-link", node="n2", latency_ms=50)
    recorded = len(cluster.history.ops)
    started = time.monotonic()
    cluster.reset()
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"reset took {elapsed:.2f} s"
    assert len(cluster.history.ops) == recorded  # a reset records nothing
    assert cluster.primary == "n1"
    assert [(n.role, n.status) for n in cluster.nodes] == [
        ("primary", "up"),
        ("replica", "up"),
        ("replica", "up"),
    ]
    for node in ("n1", "n2", "n3"):
        assert read(cluster, node) == []
    whole(cluster)


def test_every_fault_in_the_registry_is_exercised_here() -> None:
    exercised = {
        "kill",
        "restart",
        "wipe-restart",
        "pause",
        "resume",
        "partition",
        "slow-link",
        "failover",
        "az-outage",
        "heal",
    }
    assert set(FAULT_NAMES) == exercised
