"""Throughput of the durability checker on long, realistic histories.

    python bench/checker_bench.py [--ops 1000000] [--small 100000] [--seed 1] [--repeat 5]
                                  [--phases] [--profile]

Generates (deterministically, from the seed) an async-mode history the way a long
conformance run records one: 16 clients writing and reading all four workloads against a
three-node cluster (one node per AZ), with replication lag, the async lag limit rejecting
writes while the replicas are cut off, faults every few seconds — replica partitions, both
replicas cut off, slow links, pauses, primary kills with a failover by offset (candidates and
offsets recorded) and the old primary's restart without its data — lag observations every
100 ms, and a final phase (heal, probe write, recovery, final reads of every key on every
node). It writes each history as ndjson, then times ``load_history`` and ``check`` on one
core and prints ops/s and the t(N)/t(small) ratios, best of ``--repeat`` rounds (each round
times both histories, in turn) for each phase, and each round's memory and cache probes (how
fast this machine's memory was, and what a random read costs in a column of each history).
``--phases`` adds the CPU time of each phase of the check; ``--profile`` adds the checker's top
functions by own time (cProfile). A script that prints figures, never a test.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import heapq
import io
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.checker import Params, check
from harness.history import load_history
from models import Mode

MS = 1_000_000
NODES = {"n1": "a", "n2": "b", "n3": "c"}
LAG_LIMIT_MS = 1000
TOLERANCE_MS = 250
RECOVERY_MS = 10_000
CLIENTS = 16
REPL_DELAY = 2 * MS  # a connected replica acknowledges an entry this long after its apply
# Keys per workload for every 1,000,000 ops (scaled with the history, so that a short
# history is a scaled-down long one): ~100 elements per list or set at the end.
KEYS_PER_MILLION = {"register": 1000, "list": 2000, "set": 2000, "counter": 200}
COUNTER_BITS = 60  # increments per counter key: distinct powers of two that fit in 64 bits
REJECT = "ERR durability lag above limit"
RESET = "ConnectionError: Connection reset by peer"

try:
    import orjson

    def dumps(obj: dict[str, Any]) -> bytes:
        return orjson.dumps(obj) + b"\n"
except ImportError:  # the stdlib writes the same lines, only slower

    def dumps(obj: dict[str, Any]) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


# -- the simulated cluster ----------------------------------------------------------------


@dataclass
class Cluster:
    """The primary's log and state, and how far each replica has acknowledged it."""

    primary: str = "n1"
    down: set[str] = field(default_factory=set)
    cut: set[str] = field(default_factory=set)  # replicas cut off from the primary
    log: list[tuple[str, str, Any]] = field(default_factory=list)  # (workload, key, value)
    applied: list[int] = field(default_factory=list)  # apply time of each log entry
    frozen: dict[str, int] = field(default_factory=dict)  # offset of a disconnected replica
    state: dict[str, Any] = field(default_factory=dict)  # key -> value on the primary
    history_of: dict[str, list[Any]] = field(default_factory=dict)  # register key -> values

    def replicas(self) -> list[str]:
        return [n for n in NODES if n != self.primary]

    def connected(self, r: str) -> bool:
        return r not in self.down and r not in self.cut and self.primary not in self.down

    def acked(self, r: str, t: int) -> int:
        if not self.connected(r):
            return self.frozen.get(r, 0)
        live = bisect.bisect_right(self.applied, t - REPL_DELAY)
        return max(self.frozen.get(r, 0), live)

    def disconnect(self, r: str, t: int) -> None:
        self.frozen[r] = self.acked(r, t)

    def reconnect(self, r: str) -> None:
        self.frozen[r] = min(self.frozen.get(r, 0), len(self.log))

    def lag(self, t: int) -> int:
        """Durability lag (ns): age of the oldest entry no eligible replica acknowledged."""
        best = max((self.acked(r, t) for r in self.replicas()), default=0)
        return 0 if best >= len(self.log) else max(0, t - self.applied[best])

    def apply(self, workload: str, key: str, value: Any, t: int) -> None:
        self.log.append((workload, key, value))
        self.applied.append(t)
        s = self.state
        if workload == "register":
            self.history_of.setdefault(key, []).append(value)
            s[key] = value
        elif workload == "counter":
            s[key] = s.get(key, 0) + value
        else:
            s.setdefault(key, []).append(value)

    def truncate(self, offset: int) -> None:
        """The log after a failover to a replica that had ``offset`` entries."""
        s = self.state
        while len(self.log) > offset:
            workload, key, value = self.log.pop()
            self.applied.pop()
            if workload == "register":
                values = self.history_of[key]
                values.pop()
                s[key] = values[-1] if values else None
            elif workload == "counter":
                s[key] -= value
            else:
                s[key].pop()

    def read(self, workload: str, key: str) -> Any:
        v = self.state.get(key)
        if workload == "counter":
            return v or 0
        if workload == "register":
            return v
        values = list(v or [])
        return sorted(values) if workload == "set" else values


# -- the generator ----------------------------------------------------------------------------


class Generator:
    def __init__(self, seed: int, target_ops: int) -> None:
        self.rng = random.Random(seed)
        self.c = Cluster()
        self.events: list[tuple[int, int, dict[str, Any]]] = []
        self.seq = 0
        self.next_value = 0
        self.n_keys = {w: max(4, k * target_ops // 1_000_000) for w, k in KEYS_PER_MILLION.items()}
        slots = self.n_keys["counter"]
        self.counter_version = [0] * slots
        self.counter_used = [0] * slots
        self.keys: set[tuple[str, str]] = set()
        self.kills: list[int] = []  # times at which the primary dies (replies lost after)

    def emit(self, t: int, **op: Any) -> None:
        self.events.append((t, self.seq, op))
        self.seq += 1

    # -- faults -------------------------------------------------------------------------
    def nemesis(self, t0: int, t1: int, f: str, value: dict[str, Any], effects: list[Any]) -> None:
        self.emit(t0, process="nemesis", type="invoke", f=f, value=value)
        self.emit(t1, process="nemesis", type="ok", f=f, value={**value, "effects": effects})

    def schedule_faults(self, start: int, end: int) -> list[tuple[int, Callable[[], None]]]:
        """Faults as (time, action) pairs; each action also records its nemesis op."""
        rng = self.rng
        plan: list[tuple[int, Callable[[], None]]] = []
        t = start
        while True:
            t += rng.randint(200, 1200) * MS
            duration = rng.randint(500, 2500) * MS
            if t + duration + 500 * MS > end:
                return plan
            kind = rng.choices(
                ["partition-one", "partition-both", "kill", "slow", "pause"],
                weights=[30, 15, 25, 15, 15],
            )[0]
            plan.extend(self.fault(kind, t, duration))
            t += duration

    def fault(self, kind: str, t: int, duration: int) -> list[tuple[int, Callable[[], None]]]:
        c = self.c
        heal_at = t + duration

        def heal(effects_of: Callable[[], list[Any]]) -> tuple[int, Callable[[], None]]:
            def act() -> None:
                effects = effects_of()
                self.nemesis(heal_at, heal_at + MS, "heal", {}, effects)

            return heal_at, act

        if kind in ("partition-one", "partition-both"):
            chosen: list[str] = []

            def cut() -> None:
                reps = c.replicas()
                chosen[:] = reps if kind == "partition-both" else [self.rng.choice(reps)]
                effects = []
                for r in chosen:
                    c.disconnect(r, t + MS)
                    c.cut.add(r)
                    effects += [{"cut": [c.primary, r]}, {"cut": [r, c.primary]}]
                self.nemesis(t, t + MS, "partition", {"nodes": list(chosen)}, effects)

            def undo() -> list[Any]:
                effects = []
                for r in chosen:
                    c.cut.discard(r)
                    c.reconnect(r)
                    effects += [{"heal-link": [c.primary, r]}, {"heal-link": [r, c.primary]}]
                return effects

            return [(t, cut), heal(undo)]
        if kind == "slow":
            link: list[str] = []

            def slow() -> None:
                link[:] = [c.primary, self.rng.choice(c.replicas())]
                self.nemesis(t, t + MS, "slow-link", {"link": list(link)}, [{"slow": list(link)}])

            return [(t, slow), heal(lambda: [{"fast": list(link)}])]
        if kind == "pause":
            paused: list[str] = []

            def pause() -> None:
                r = self.rng.choice(c.replicas())
                paused[:] = [r]
                c.disconnect(r, t + MS)
                c.down.add(r)
                self.nemesis(t, t + MS, "pause", {"node": r}, [{"down": r}])

            def resume() -> list[Any]:
                c.down.discard(paused[0])
                c.reconnect(paused[0])
                return [{"up": paused[0]}]

            return [(t, pause), heal(resume)]
        # kill: the primary dies, the most up-to-date connected replica is promoted by offset,
        # the old primary comes back without its data and resyncs from the new one.
        self.kills.append(t)
        promote_at = t + self.rng.randint(150, 400) * MS
        old: list[str] = []

        def kill() -> None:
            old[:] = [c.primary]
            for r in c.replicas():
                c.disconnect(r, t)
            c.down.add(c.primary)
            self.nemesis(t, t + MS, "kill", {"node": c.primary}, [{"down": c.primary}])

        def failover() -> None:
            cands = {r: c.acked(r, promote_at) for r in c.replicas() if r not in c.down}
            cands = {r: o for r, o in cands.items() if r not in c.cut} or cands
            new = max(sorted(cands), key=lambda r: cands[r])
            c.truncate(cands[new])
            c.primary = new
            c.cut.clear()
            for r in c.replicas():
                c.frozen[r] = min(c.frozen.get(r, 0), cands.get(r, 0), len(c.log))
            effects = [{"promote": new, "candidates": cands, "by": "offset"}]
            effects += [{"replicate": r, "from": new} for r in c.replicas() if r not in c.down]
            self.nemesis(promote_at, promote_at + 5 * MS, "failover", {}, effects)

        def restart() -> list[Any]:
            n = old[0]
            c.down.discard(n)
            c.frozen[n] = 0
            return [{"lose-data": n}, {"up": n}, {"replicate": n, "from": c.primary}]

        return [(t, kill), (promote_at, failover), heal(restart)]

    # -- client operations --------------------------------------------------------------
    def pick_key(self, workload: str) -> str:
        rng = self.rng
        if workload != "counter":
            return f"{workload[0]}{rng.randrange(self.n_keys[workload])}"
        slot = rng.randrange(self.n_keys["counter"])
        return f"c{slot}.{self.counter_version[slot]}"

    def write_value(self, workload: str, key: str) -> Any:
        if workload != "counter":
            self.next_value += 1
            return f"w{self.next_value}"
        slot = int(key[1 : key.index(".")])
        bit = self.counter_used[slot]
        self.counter_used[slot] += 1
        if self.counter_used[slot] == COUNTER_BITS:
            self.counter_used[slot] = 0
            self.counter_version[slot] += 1
        return 1 << bit

    def client_op(self, p: int, t: int) -> int:
        """Invoke one op for client ``p`` at ``t``; returns its completion time."""
        rng, c = self.rng, self.c
        workload = rng.choice(("register", "list", "set", "counter"))
        key = self.pick_key(workload)
        self.keys.add((workload, key))
        comp = t + rng.randint(500, 5000) * 1000
        node = c.primary
        k = bisect.bisect_left(self.kills, t)  # the primary dies before the reply arrives
        died = c.primary in c.down or (k < len(self.kills) and self.kills[k] < comp)
        if rng.random() < 0.85:
            value = self.write_value(workload, key)
            self.emit(t, process=p, type="invoke", f="write", workload=workload, key=key, value=value, node=node)  # fmt: skip
            err: str | None
            if c.primary in c.down:
                typ, err = "info", RESET
            elif c.lag(t) > LAG_LIMIT_MS * MS:
                typ, err = "fail", REJECT
            else:
                c.apply(workload, key, value, t)
                typ, err = ("info", RESET) if died else ("ok", None)
            done: dict[str, Any] = dict(process=p, type=typ, f="write", workload=workload, key=key, value=value, node=node)  # fmt: skip
            if err:
                done["error"] = err
            self.emit(comp, **done)
            return comp
        self.emit(t, process=p, type="invoke", f="read", workload=workload, key=key, value=None, node=node)  # fmt: skip
        if died:
            self.emit(comp, process=p, type="info", f="read", workload=workload, key=key, value=None, error=RESET, node=node)  # fmt: skip
        else:
            got = c.read(workload, key)
            self.emit(comp, process=p, type="ok", f="read", workload=workload, key=key, value=got, node=node)  # fmt: skip
        return comp

    # -- the whole run --------------------------------------------------------------------
    def run(self, target_ops: int) -> list[dict[str, Any]]:
        rng, c = self.rng, self.c
        # Simulated duration: ~5,500 client ops/s; faults are planned over all of it.
        duration = int(target_ops / 2 / 5_500 * 1e9) + 2_000 * MS
        plan = sorted(self.schedule_faults(0, duration), key=lambda x: x[0])
        free = [(rng.randint(0, 1000) * 1000, p) for p in range(CLIENTS)]
        heapq.heapify(free)
        next_obs = 100 * MS
        i = 0
        while True:
            t, p = free[0]
            while i < len(plan) and plan[i][0] <= t:
                plan[i][1]()
                i += 1
            while next_obs <= t:
                if c.primary not in c.down:
                    lag_ms = c.lag(next_obs) // MS
                    self.emit(next_obs, process="observer", type="invoke", f="lag", node=c.primary)
                    self.emit(next_obs + MS // 2, process="observer", type="ok", f="lag", value=lag_ms, node=c.primary)  # fmt: skip
                next_obs += 100 * MS
            final_ops = 2 * len(self.keys) * len(NODES) + 8
            if len(self.events) + final_ops >= target_ops or t >= duration:
                break
            comp = self.client_op(p, t)
            heapq.heapreplace(free, (comp + rng.randint(0, 300) * 1000, p))
        self.finish(max(t, duration) if i < len(plan) else t)
        ordered = sorted(self.events, key=lambda e: (e[0], e[1]))
        return [{"index": k, "time": tt, **op} for k, (tt, _s, op) in enumerate(ordered)]

    def finish(self, t: int) -> None:
        """heal → probe write → recovery → final reads of every key on every node."""
        c = self.c
        t += 100 * MS
        effects: list[Any] = []
        for r in sorted(c.cut):
            effects += [{"heal-link": [c.primary, r]}, {"heal-link": [r, c.primary]}]
        for n in sorted(c.down):
            effects += [{"lose-data": n}, {"up": n}] if n not in c.replicas() else [{"up": n}]
        c.cut.clear()
        c.down.clear()
        self.nemesis(t, t + MS, "heal", {}, effects)
        t += 10 * MS
        self.client_op(0, t)
        t += 10 * MS
        self.nemesis(
            t, t + 50 * MS, "recover", {"timeout_s": 10.0}, [{"synced": r} for r in c.replicas()]
        )
        t += 100 * MS
        for node in sorted(NODES):
            for workload, key in sorted(self.keys):
                self.emit(t, process=0, type="invoke", f="read", workload=workload, key=key, value=None, node=node, final=True)  # fmt: skip
                self.emit(t + 100_000, process=0, type="ok", f="read", workload=workload, key=key, value=c.read(workload, key), node=node, final=True)  # fmt: skip
                t += 200_000


HEADER = {
    "format": "ackbound-history",
    "version": 1,
    "mode": "async",
    "params": {
        "lag_limit_ms": LAG_LIMIT_MS,
        "tolerance_ms": TOLERANCE_MS,
        "recovery_ms": RECOVERY_MS,
    },
    "topology": {"nodes": [{"name": n, "az": az} for n, az in NODES.items()], "primary": "n1"},
    "target": "bundled",
    "durable_restart": False,
}
PARAMS = Params(
    mode=Mode.ASYNC,
    lag_limit=LAG_LIMIT_MS * MS,
    tolerance=TOLERANCE_MS * MS,
    recovery=RECOVERY_MS * MS,
)


def generate(path: Path, n_ops: int, seed: int) -> int:
    ops = Generator(seed, n_ops).run(n_ops)
    with path.open("wb") as fh:
        buf = io.BufferedWriter(fh, buffer_size=1 << 20)
        buf.write(dumps(HEADER))
        for op in ops:
            buf.write(dumps(op))
        buf.flush()
    return len(ops)


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Timing:
    """Seconds of one load and one check, on the wall clock and in this process's CPU time.

    On a machine shared with other work the wall clock also counts time spent waiting for
    the CPU; CPU time does not, so it is the fairer "one core" figure there.
    """

    ops: int
    load_s: float
    check_s: float
    load_cpu_s: float
    check_cpu_s: float
    result: dict[str, Any]
    phases: dict[str, float] = field(default_factory=dict)  # CPU s, of the fastest check

    @property
    def total_s(self) -> float:
        return self.load_s + self.check_s

    @property
    def total_cpu_s(self) -> float:
        return self.load_cpu_s + self.check_cpu_s


def run_once(path: Path) -> Timing:
    """One load and one check of the history at ``path``."""
    w0, c0 = time.perf_counter(), time.process_time()
    history = load_history(path)
    w1, c1 = time.perf_counter(), time.process_time()
    phases: dict[str, float] = {}
    result = check(history, PARAMS, source=str(path), timings=phases)
    w2, c2 = time.perf_counter(), time.process_time()
    return Timing(len(history), w1 - w0, w2 - w1, c1 - c0, c2 - c1, result, phases)


def best_of(runs: list[Timing]) -> Timing:
    """The best of each phase and clock on its own (the best is the least disturbed; on a
    noisy machine the two phases' best runs differ)."""
    fastest = min(runs, key=lambda r: r.check_cpu_s)
    return Timing(
        runs[0].ops,
        min(r.load_s for r in runs),
        min(r.check_s for r in runs),
        min(r.load_cpu_s for r in runs),
        fastest.check_cpu_s,
        runs[0].result,
        fastest.phases,
    )


class MemoryProbe:
    """A fixed memory-bound pass: summing a million floats in a shuffled order, so that
    nearly every read misses the caches. The checker's speed follows this machine's speed
    on such work, which on a VM can drift by the minute while a CPU-bound loop does not;
    timed once per round, it tells a reader how fast memory was while the figures were
    taken."""

    def __init__(self) -> None:
        self.data = [float(i) for i in range(1_000_000)]
        random.Random(0).shuffle(self.data)

    def run(self) -> float:
        c0 = time.process_time()
        sum(self.data)
        return time.process_time() - c0


class CacheProbe:
    """Random reads from a list as long as one column of a history's writes (about two in
    five of its ops), in nanoseconds per read. A column of the short history fits this
    core's L2 cache and one of the long history does not; what a read costs in each is
    what the t(N)/t(small) ratio is made of, as the checker looks columns up by position
    all the time. The positions are read in the order they were made, so that only the
    list's reads miss."""

    READS = 200_000

    def __init__(self, ops: int) -> None:
        self.entries = max(1, ops * 2 // 5)
        self.data: list[None] = [None] * self.entries
        rng = random.Random(self.entries)
        self.at = [rng.randrange(self.entries) for _ in range(self.READS)]

    def run(self) -> float:
        c0 = time.process_time()
        deque(map(self.data.__getitem__, self.at), maxlen=0)
        return (time.process_time() - c0) / self.READS * 1e9


@dataclass
class Probes:
    """Each round's memory probe (CPU s) and cache probes (ns per read, one per history)."""

    memory: list[float] = field(default_factory=list)
    cache: list[list[float]] = field(default_factory=list)
    cache_entries: list[int] = field(default_factory=list)  # each cache probe's list length


def measure(
    paths: list[Path], sizes: tuple[int, ...], repeat: int
) -> tuple[list[Timing], list[list[Timing]], Probes]:
    """Best of ``repeat`` rounds; each round runs every history once, in turn, so that the
    histories whose times are compared are timed under the same conditions (a VM's memory
    speed drifts over seconds). Also every run, by history, and the probes' figures in each
    round."""
    memory = MemoryProbe()
    caches = [CacheProbe(n) for n in sizes]
    runs: list[list[Timing]] = [[] for _ in paths]
    probes = Probes(cache_entries=[c.entries for c in caches])
    for _ in range(repeat):
        probes.memory.append(memory.run())
        probes.cache.append([c.run() for c in caches])
        for path, got in zip(paths, runs, strict=True):
            got.append(run_once(path))
    return [best_of(r) for r in runs], runs, probes


def profile(path: Path, top: int) -> str:
    history = load_history(path)
    prof = cProfile.Profile()
    prof.enable()
    check(history, PARAMS, source=str(path))
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--ops", type=int, default=1_000_000, help="ops in the long history")
    ap.add_argument("--small", type=int, default=100_000, help="ops in the short history")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, help="where to write the histories (default: a temp dir)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="rounds, each running every history once; the best of each phase counts",
    )
    ap.add_argument("--profile", action="store_true", help="profile check on the long history")
    ap.add_argument(
        "--phases", action="store_true", help="print the CPU time of each phase of the check"
    )
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one core")
    args = ap.parse_args(argv)
    print(
        f"python {sys.version.split()[0]}, json: {'orjson' if 'orjson' in sys.modules else 'stdlib'}"
    )
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory(prefix="ackbound-bench-") as tmp:
        where = args.dir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        sizes = (args.small, args.ops)
        paths, gen_s = [], {}
        for n in sizes:
            path = where / f"history-{n}-seed{args.seed}.ndjson"
            t0 = time.perf_counter()
            if not path.exists():
                generate(path, n, args.seed)
            gen_s[n] = time.perf_counter() - t0
            paths.append(path)
        best, runs, probes = measure(paths, sizes, args.repeat)
        timings = dict(zip(sizes, best, strict=True))
        for n, path in zip(sizes, paths, strict=True):
            tm = timings[n]
            st = tm.result["stats"]
            print(
                f"{tm.ops:>9,} ops  {path.stat().st_size / 1e6:7.1f} MB  generated in {gen_s[n]:5.1f} s  "
                f"verdict {tm.result['valid']!s:<7}  writes {st['attempted']:,} "
                f"({st['acknowledged']:,} ok, {st['rejected']:,} rejected, "
                f"{st['indeterminate']:,} indeterminate, {st['lost']:,} lost)  "
                f"failovers {st['failovers']}  faults {sum(st['faults'].values())}"
            )
            for clock, load_s, check_s in (
                ("cpu ", tm.load_cpu_s, tm.check_cpu_s),
                ("wall", tm.load_s, tm.check_s),
            ):
                print(
                    f"      {clock} load {load_s:6.2f} s  check {check_s:6.2f} s  "
                    f"check {tm.ops / check_s:>9,.0f} ops/s  "
                    f"load+check {tm.ops / (load_s + check_s):>9,.0f} ops/s"
                )
            if args.phases:
                print(
                    "      phases (CPU s): "
                    + ", ".join(
                        f"{k} {v:.2f}" for k, v in sorted(tm.phases.items(), key=lambda kv: -kv[1])
                    )
                )
            bad = {
                k: p["valid"] for k, p in tm.result["properties"].items() if p["valid"] is not True
            }
            if bad:
                print(f"           not valid: {json.dumps(bad)}")
        big, small = timings[args.ops], timings[args.small]
        print(
            f"t({big.ops:,})/t({small.ops:,}) on cpu: check "
            f"{big.check_cpu_s / small.check_cpu_s:.2f}, load+check "
            f"{big.total_cpu_s / small.total_cpu_s:.2f}; on the wall clock: check "
            f"{big.check_s / small.check_s:.2f}, load+check {big.total_s / small.total_s:.2f}"
        )
        # The best short check and the best long one may come from different rounds; each
        # round's own ratio compares two checks run back to back, under one machine state.
        per_round = [
            long_run.check_cpu_s / short_run.check_cpu_s
            for short_run, long_run in zip(runs[0], runs[1], strict=True)
        ]
        print(
            "check ratio in each round (CPU): "
            + " ".join(f"{x:.2f}" for x in per_round)
            + f"; median {statistics.median(per_round):.2f}"
        )
        print(
            "memory probe (a shuffled sum of 1,000,000 floats) per round: "
            + " ".join(f"{x:.3f}" for x in probes.memory)
            + " s CPU (lower: faster memory)"
        )
        entries = " and ".join(f"{n:,}" for n in probes.cache_entries)
        print(
            f"cache probe (random reads from a list of {entries} entries) per round: "
            + " ".join("/".join(f"{x:.0f}" for x in r) for r in probes.cache)
            + " ns a read"
        )
        print(
            "targets: ≥ 300,000 ops/s on one core; ratio ≤ 12.  load average "
            + " ".join(f"{x:.1f}" for x in os.getloadavg())
            + f" on {os.cpu_count()} cores"
        )
        if args.profile:
            print(profile(where / f"history-{args.ops}-seed{args.seed}.ndjson", 25))
    return 0


if __name__ == "__main__":
    sys.exit(main())
