"""A synthetic async-mode history of any size, for the report's scale and rendering tests.

Ten clients append unique values to list keys while an observer polls the lag; the nemesis
partitions the replicas, heals, then kills the primary and fails over to n2. Writes the
primary acknowledged in the last ``lost_window_s`` before its last acknowledgement are
missing from the final reads (lost), as an async failover may lose them. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from typing import Any

from harness.history import Header, History, Op

MS = 1_000_000
S = 1_000_000_000


def synthetic_history(
    *, ops: int = 100_000, seed: int = 7, duration_s: float = 30.0, lost_window_s: float = 0.3
) -> History:
    rng = random.Random(seed)
    n_clients = 10
    # Each client op is two lines; leave room for nemesis, observer and final reads.
    n_writes = max(10, (ops - 400) // 2)
    span = int(duration_s * S)
    kill_at = int(span * 0.6)
    failover_at = kill_at + 200 * MS
    events: list[tuple[int, int, dict[str, Any]]] = []  # (time, seq, fields)
    seq = 0

    def emit(t: int, **fields: Any) -> None:
        nonlocal seq
        events.append((t, seq, fields))
        seq += 1

    # Nemesis: partition the replicas 20%–35% of the run, heal, kill n1 at 60%, failover.
    part, heal = int(span * 0.2), int(span * 0.35)
    cut = [
        {"cut": [a, b]}
        for a in ("n1", "n2", "n3")
        for b in ("n1", "n2", "n3")
        if a != b and "n1" in (a, b)
    ]
    emit(part, process="nemesis", type="invoke", f="partition", value={"node": "n1"})
    emit(
        part + 50 * MS,
        process="nemesis",
        type="ok",
        f="partition",
        value={"node": "n1", "effects": cut},
    )
    emit(heal, process="nemesis", type="invoke", f="heal", value=None)
    healed = [{"heal-link": e["cut"]} for e in cut]
    emit(heal + 80 * MS, process="nemesis", type="ok", f="heal", value={"effects": healed})
    emit(kill_at, process="nemesis", type="invoke", f="kill", value={"node": "n1"})
    emit(
        kill_at + 20 * MS,
        process="nemesis",
        type="ok",
        f="kill",
        value={"node": "n1", "effects": [{"down": "n1"}]},
    )
    emit(failover_at, process="nemesis", type="invoke", f="failover", value={})
    emit(
        failover_at + 300 * MS,
        process="nemesis",
        type="ok",
        f="failover",
        value={"effects": [{"promote": "n2", "candidates": {"n2": 100, "n3": 90}, "by": "offset"}]},
    )
    # Observer: lag every 100 ms from n2 and n3; it grows during the partition.
    t = 0
    while t < span:
        for i, node in enumerate(("n2", "n3")):
            lag = rng.randint(0, 30)
            if part <= t < heal:
                lag = (t - part) // MS
            at = t + 3 * i * MS
            emit(at, process="observer", type="invoke", f="lag", node=node, value=None)
            emit(at + 2 * MS, process="observer", type="ok", f="lag", node=node, value=lag)
        t += 100 * MS
    # Clients.
    per_client = n_writes // n_clients
    present: dict[str, list[str]] = {f"l{k}": [] for k in range(8)}
    acked: list[tuple[int, str, str]] = []
    step = int(kill_at * 0.7) // per_client
    vid = 0
    for c in range(n_clients):
        t = rng.randint(0, 5 * MS)
        for _ in range(per_client):
            key = f"l{rng.randrange(8)}"
            value = f"w{vid}"
            vid += 1
            lat = int(rng.lognormvariate(0.3, 0.6) * MS)
            typ = "ok"
            err = None
            if part <= t < heal and rng.random() < 0.3:
                typ, err, lat = "info", "timeout", 500 * MS
            elif rng.random() < 0.01:
                typ, err = "fail", "NOREPLICAS Not enough good replicas"
            emit(t, process=c, type="invoke", f="write", workload="list", key=key, value=value)
            emit(
                t + lat,
                process=c,
                type=typ,
                f="write",
                workload="list",
                key=key,
                value=value,
                error=err,
                node="n1",
            )
            if typ == "ok":
                acked.append((t + lat, key, value))
            t += max(step, lat + 1)
            if t >= kill_at:
                break
    # The failover loses what was acknowledged in the last lost_window_s before the kill.
    last = max(comp for comp, _k, _v in acked)
    for comp, key, value in sorted(acked):
        if comp < last - lost_window_s * S:
            present[key].append(value)
    # Final reads after recovery.
    t = max(e[0] for e in events) + 1 * S
    for i, (key, values) in enumerate(sorted(present.items())):
        emit(
            t + i * MS,
            process=0,
            type="invoke",
            f="read",
            workload="list",
            key=key,
            value=None,
            final=True,
        )
        emit(
            t + i * MS + MS // 2,
            process=0,
            type="ok",
            f="read",
            workload="list",
            key=key,
            value=values,
            node="n2",
            final=True,
        )
    events.sort(key=lambda e: (e[0], e[1]))
    out = tuple(Op(index=i, time=10 * S + t, **fields) for i, (t, _s, fields) in enumerate(events))
    header = Header(
        mode="async",
        params={"lag_limit_ms": 1000, "tolerance_ms": 100, "recovery_ms": 2000},
        topology={
            "nodes": [
                {"name": "n1", "az": "a"},
                {"name": "n2", "az": "b"},
                {"name": "n3", "az": "c"},
            ],
            "primary": "n1",
        },
    )
    return History(header=header, ops=out)
