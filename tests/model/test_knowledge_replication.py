"""Who can acknowledge whose writes, once promotions and re-pointings are recorded."""

from __future__ import annotations

from models import (
    Knowledge,
    Promote,
    Replicate,
    TimedEffect,
    effect_from_json,
    initial_knowledge,
)


def _after(k: Knowledge, start: int, end: int, effect: object) -> Knowledge:
    return k.observe(TimedEffect(start=start, end=end, effect=effect))  # type: ignore[arg-type]


def test_a_promoted_or_re_pointed_replica_acks_no_other_nodes_writes() -> None:
    k = initial_knowledge({"n1": "a", "n2": "b", "n3": "c"}, "n1")
    assert k.possible_ackers("n1", 0) == {"n2", "n3"}
    k = _after(k, 20, 22, Promote(node="n2", by_offset=True))
    k = _after(k, 30, 31, Replicate(node="n3", source="n2"))
    # n1's writes applied before those effects ended may have been acknowledged...
    assert k.possible_ackers("n1", 21) == {"n2", "n3"}
    assert k.possible_ackers("n1", 25) == {"n3"}
    # ...later ones by nobody: n2 is a primary, n3 follows n2
    assert k.possible_ackers("n1", 50) == frozenset()
    assert k.isolation_start("n1") == 31
    # n1 was never seen re-pointed: as far as anyone knows it may follow n2 already
    assert k.possible_ackers("n2", 50) == {"n1", "n3"}
    # pointed back at n1 (from the start of that effect), n3 may ack n1's writes again
    k = _after(k, 60, 61, Replicate(node="n3", source="n1"))
    assert k.possible_ackers("n1", 50) == {"n3"}
    assert k.blocked_since("n3", "n2") == 61


def test_a_promotion_lets_every_other_node_follow_the_new_primary() -> None:
    """A failover re-points the replicas whether or not the history records it: a replica
    that stopped following n1 may follow it again once n1 is promoted (the exact model's
    trace Crash n1, Failover n2, RestartWiped n1, Failover n1 has n2 ack n1's next write)."""
    k = initial_knowledge({"n1": "a", "n2": "b", "n3": "c"}, "n1")
    k = _after(k, 20, 22, Promote(node="n2", by_offset=True))
    assert k.possible_ackers("n1", 30) == {"n3"}
    k = _after(k, 40, 42, Promote(node="n1", by_offset=False))
    assert k.possible_ackers("n1", 50) == {"n2", "n3"}
    assert k.possible_ackers("n2", 50) == {"n3"}  # n1 is a primary now


def test_a_failover_by_offset_to_a_replica_the_offsets_show_behind_is_not_by_offset() -> None:
    """The offsets a failover records decide whether it went to the most up-to-date
    replica: a node behind another candidate was not, whatever ``by`` claims; a tie is."""

    def promote(candidates: object, by: str = "offset") -> Promote:
        e = effect_from_json({"promote": "n2", "candidates": candidates, "by": by})
        assert isinstance(e, Promote)
        return e

    assert not promote({"n2": 50, "n3": 95}).by_offset
    assert promote({"n2": 95, "n3": 95}).by_offset
    assert promote({"n2": 95, "n3": 50}).by_offset
    assert promote(["n2", "n3"]).by_offset  # no offsets recorded: as it says
    assert promote({"n2": None, "n3": 95}).by_offset  # an offset not read: as it says
    # A named failover stays named: its candidates need not list every replica.
    assert not promote({"n2": 95, "n3": 50}, by="named").by_offset
