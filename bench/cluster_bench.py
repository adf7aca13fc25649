"""Benchmark: how fast a 3-node local cluster starts and resets (not a test).

Prints, per target, the time from ``start_cluster`` to a ready cluster (replicas streaming,
mode applied) and the time of ``Cluster.reset()`` between examples:

- after an example of writes only;
- after an example that killed the primary, failed over and partitioned a replica (the reset
  restarts the dead node, makes it the primary again and resyncs every replica); the example
  lasts a second, as examples do, so the node's standby process is ready;
- the same, but reset at once after the kill: the restart then waits for a process to start.

Targets (issue 4): bundled up ≤ 2 s, valkey up ≤ 3 s, reset ≤ 0.5 s.

    python bench/cluster_bench.py [--runs N] [--targets bundled,valkey,redis]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from harness.cluster import history_header, start_cluster
from harness.history import HistoryWriter
from harness.targets import load_target


def bench(name: str, runs: int) -> dict[str, list[float]]:
    target = load_target(name)
    out: dict[str, list[float]] = {"up": [], "reset": [], "after-failover": [], "at-once": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="ackbound-bench-") as run_dir:
            history = HistoryWriter(None, history_header(target, "sync"))
            started = time.perf_counter()
            with start_cluster(target, mode="sync", run_dir=run_dir, history=history) as cluster:
                out["up"].append(time.perf_counter() - started)
                client = cluster.client()
                for i in range(50):
                    cluster.perform(client, "list", "write", "l", f"w{i}")
                client.close()
                started = time.perf_counter()
                cluster.reset()
                out["reset"].append(time.perf_counter() - started)
                for column, example_s in (("after-failover", 1.0), ("at-once", 0.0)):
                    time.sleep(example_s)
                    cluster.apply("kill", node="n1")
                    cluster.apply("failover")
                    cluster.apply("partition", node="n3")
                    started = time.perf_counter()
                    cluster.reset()
                    out[column].append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--targets", default="bundled,valkey,redis")
    args = parser.parse_args()
    print(f"3-node local cluster, 3 AZs, mode sync; median (max) of {args.runs} runs, seconds")
    heads = ("up", "reset", "reset after failover", "reset at once after kill")
    print(f"{'target':<9}" + "".join(f" {h:>25}" for h in heads))
    for name in args.targets.split(","):
        r = bench(name, args.runs)
        cells = [f"{statistics.median(v):.3f} ({max(v):.3f})" for v in r.values()]
        print(f"{name:<9}" + "".join(f" {c:>25}" for c in cells))


if __name__ == "__main__":
    main()
