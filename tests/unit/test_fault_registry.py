"""The fault registry is data: names, parameter schemas, needs, effects; validation is strict."""

from __future__ import annotations

import pytest

from harness.faults import FAULT_NAMES, FAULTS, FaultError, get_fault
from harness.targets import PROCESS_CAPABILITIES

NODES = ("n1", "n2", "n3")
AZS = ("az1", "az2", "az3")


def test_one_entry_per_fault_name_of_the_vocabulary() -> None:
    assert FAULT_NAMES == (
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
    )


def test_every_fault_is_described_as_data() -> None:
    for name, spec in FAULTS.items():
        data = spec.to_json()
        assert data["name"] == name and data["description"]
        assert set(data) == {"name", "description", "params", "needs", "effects"}
        assert set(data["effects"]) <= {
            "down",
            "up",
            "cut",
            "heal-link",
            "slow",
            "fast",
            "lose-data",
            "promote",
            "replicate",
            "synced",
        }
        assert spec.missing(PROCESS_CAPABILITIES) == frozenset(), name
    assert get_fault("partition").to_json()["params"] == [
        {
            "name": "node",
            "type": "node",
            "required": True,
            "description": "the node's name, e.g. n1",
        },
        {
            "name": "direction",
            "type": "enum",
            "required": False,
            "description": "which traffic is cut: both ways, into the node, out of it",
            "default": "both",
            "choices": ["both", "in", "out"],
        },
    ]


@pytest.mark.parametrize(
    ("fault", "params", "normalised"),
    [
        ("partition", {"node": "n2"}, {"node": "n2", "direction": "both"}),
        ("partition", {"node": "n2", "direction": "in"}, {"node": "n2", "direction": "in"}),
        ("slow-link", {"node": "n1", "latency_ms": 5}, {"node": "n1", "latency_ms": 5}),
        (
            "slow-link",
            {"src": "n1", "dst": "n2", "bandwidth": 1000},
            {"src": "n1", "dst": "n2", "bandwidth": 1000},
        ),
        ("failover", {}, {}),
        ("failover", {"node": "n3"}, {"node": "n3"}),
        ("az-outage", {"az": "az2"}, {"az": "az2"}),
        ("heal", {}, {}),
    ],
)
def test_valid_parameters_are_normalised(
    fault: str, params: dict[str, object], normalised: dict[str, object]
) -> None:
    assert get_fault(fault).validate(params, nodes=NODES, azs=AZS) == normalised


@pytest.mark.parametrize(
    ("fault", "params", "message"),
    [
        ("kill", {}, "fault 'kill': parameter 'node' is required (the node's name, e.g. n1)"),
        (
            "kill",
            {"node": "n9"},
            "fault 'kill': parameter 'node': 'n9' is not a node; use one of n1, n2, n3",
        ),
        (
            "kill",
            {"node": "n1", "signal": 9},
            "fault 'kill': unknown parameter 'signal'; its parameters are: node",
        ),
        (
            "heal",
            {"node": "n1"},
            "fault 'heal': unknown parameter 'node'; its parameters are: none",
        ),
        (
            "partition",
            {"node": "n1", "direction": "sideways"},
            "fault 'partition': parameter 'direction': 'sideways' is not allowed; use one of both, in, out",
        ),
        (
            "az-outage",
            {"az": "az9"},
            "fault 'az-outage': parameter 'az': 'az9' is not an AZ; use one of az1, az2, az3",
        ),
        (
            "slow-link",
            {"node": "n1"},
            "fault 'slow-link': give bandwidth (bytes/s), a latency_ms above 0, or both",
        ),
        (  # it changed nothing, yet was recorded as a slow link that no heal undid
            "slow-link",
            {"node": "n1", "latency_ms": 0},
            "fault 'slow-link': give bandwidth (bytes/s), a latency_ms above 0, or both",
        ),
        (  # a NaN latency delayed nothing
            "slow-link",
            {"node": "n1", "latency_ms": float("nan")},
            "fault 'slow-link': parameter 'latency_ms': must be a number; got nan",
        ),
        (
            "slow-link",
            {"latency_ms": 5},
            "fault 'slow-link': give either node (every link of that node) or src and dst (one link)",
        ),
        (
            "slow-link",
            {"src": "n1", "latency_ms": 5},
            "fault 'slow-link': give src and dst together (one direction of a link) or node alone",
        ),
        (
            "slow-link",
            {"src": "n1", "dst": "n1", "latency_ms": 5},
            "fault 'slow-link': src and dst must be different nodes",
        ),
        (
            "slow-link",
            {"node": "n1", "bandwidth": 0},
            "fault 'slow-link': parameter 'bandwidth': 0 is out of range; use 1..10000000000",
        ),
        (
            "slow-link",
            {"node": "n1", "bandwidth": 1.5},
            "fault 'slow-link': parameter 'bandwidth': must be an integer; got 1.5",
        ),
        (
            "slow-link",
            {"node": "n1", "latency_ms": True},
            "fault 'slow-link': parameter 'latency_ms': must be a number; got True",
        ),
    ],
)
def test_bad_parameters_name_the_fault_rule_and_fix(
    fault: str, params: dict[str, object], message: str
) -> None:
    with pytest.raises(FaultError) as exc:
        get_fault(fault).validate(params, nodes=NODES, azs=AZS)
    assert str(exc.value) == message


def test_unknown_fault() -> None:
    with pytest.raises(FaultError) as exc:
        get_fault("explode")
    assert str(exc.value) == (
        "'explode' is not a fault; use one of kill, restart, wipe-restart, pause, resume, "
        "partition, slow-link, failover, az-outage, heal (ackbound faults list)"
    )
