"""A long raw-bytes fuzz campaign against the bundled server (manual runs, not a test).

    python bench/fuzz_server.py [--seconds 600] [--seed N]

Sends random and RESP-shaped garbage over many short connections to one server process and,
after every connection, checks that a fresh client still gets PONG; stops on the first
failure and prints the bytes that caused it. Loopback only; bounded by --seconds.
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import time

PIECES = [
    b"*",
    b"$",
    b"\r\n",
    b"\n",
    b"*2\r\n$3\r\nGET\r\n",
    b"$-1\r\n",
    b"*-1\r\n",
    b"PING\r\n",
    b'"',
    b"'",
    b"*1\r\n$4\r\nPING\r\n",
    b"MULTI\r\n",
    b"EXEC\r\n",
    b"HELLO 3\r\n",
    b"SET k v\r\n",
    b"*3\r\n$3\r\nSET\r\n",
    b"$999999999\r\n",
    b"*99999999\r\n",
    b"REPLCONF ACK 5\r\n",
    b"PSYNC ? -1\r\n",
    b"WAIT 1 10\r\n",
    b"CONFIG SET az x\r\n",
    # complete commands (a read holding several takes the hiredis parser's whole-read path)
    b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
    # RESP3 elements a request must not hold
    b"~2\r\n",
    b">1\r\n",
    b"|1\r\n",
    b"%1\r\n",
    b"(12\r\n",
    b"=5\r\ntxt:x\r\n",
    b"+OK\r\n",
    b"#f\r\n",
    b"*1000000\r\n",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.server", "--port", str(port)], stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 15
        while not ping(port):
            if time.monotonic() > deadline:
                print("server did not start")
                return 2
            time.sleep(0.05)
        end = time.monotonic() + args.seconds
        cases = 0
        while time.monotonic() < end:
            payload = b"".join(
                rng.choice(PIECES) if rng.random() < 0.6 else rng.randbytes(rng.randrange(64))
                for _ in range(rng.randrange(1, 20))
            )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(payload)
            except OSError:
                pass
            cases += 1
            if proc.poll() is not None or not ping(port):
                print(f"FAILED after {cases} cases (seed {seed}); payload: {payload!r}")
                return 1
        print(f"ok: {cases} cases in {args.seconds:.0f} s, seed {seed}")
        return 0
    finally:
        proc.kill()


if __name__ == "__main__":
    sys.exit(main())
