"""Valkey GLIDE as the run's client: what it does when async writes are rejected, and a run.

The probe (harness/cluster/_probe.py) drives one writer through the rejecting buffer of an
async bundled cluster. GLIDE in standalone mode passes CLUSTERDOWN straight to the caller:
the primary counts exactly as many rejections as there were rejected calls (no hidden
retries), rejected calls return at once, and the first write after the lag drains succeeds.
docs/clients.md shows the figures.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _deps import missing

from harness.cluster import connect
from harness.cluster._probe import ClientProbe, probe_client
from harness.report import validate_results
from harness.targets import load_target_file

GLIDE_TARGET = """
extends = "bundled"
name = "bundled-glide"
client = "glide"
[glide]
request_timeout_ms = 1000
[glide.reconnect]
retries = 3
factor_ms = 50
"""


def need_glide() -> None:
    if importlib.util.find_spec("glide_sync") is None:
        missing("Valkey GLIDE", "pip install 'ackbound[glide]' (valkey-glide-sync)")


@pytest.fixture
def glide_target(tmp_path: Path) -> Path:
    need_glide()
    path = tmp_path / "glide.toml"
    path.write_text(GLIDE_TARGET, encoding="utf-8")
    return path


def phase(probe: ClientProbe, name: str) -> dict[str, object]:
    return next(p for p in probe.to_json()["phases"] if p["phase"] == name)


@pytest.mark.slow
@pytest.mark.parametrize("client", ["glide", "valkey-py"])
def test_rejected_async_writes_are_passed_through_not_retried(
    tmp_path: Path, glide_target: Path, client: str
) -> None:
    target = load_target_file(glide_target) if client == "glide" else "bundled"
    probe = probe_client(target, run_dir=tmp_path / "probe", lag_limit_ms=300)
    assert probe.client.startswith(f"{client} ")
    healthy, rejecting, draining = (phase(probe, p) for p in ("healthy", "rejecting", "draining"))
    assert healthy["writes"] == healthy["ok"] and healthy["ok"] > 0
    assert rejecting["errors"].get("CLUSTERDOWN", 0) > 10  # type: ignore[attr-defined]
    # every rejection the primary sent reached the caller as one rejected call
    assert probe.server_rejections == probe.client_rejections > 10
    assert probe.hidden_retries == 0
    # a rejected call returns at once: nothing waits or backs off inside the client
    assert rejecting["p50_ms"] is not None and rejecting["p50_ms"] < 50  # type: ignore[operator]
    assert draining["ok"] > 0 and probe.first_ok_after_heal_ms is not None
    assert probe.first_ok_after_heal_ms < 3000  # the bundled target's recovery allowance
    restarted = phase(probe, "restarted")
    assert restarted["ok"] > 0 and probe.first_ok_after_restart_ms is not None
    json.dumps(probe.to_json())  # reports as data


def test_the_probe_counts_stock_valkeys_noreplicas_rejections(tmp_path: Path) -> None:
    """Stock Valkey rejects with NOREPLICAS (min-replicas-to-write), not CLUSTERDOWN: its
    rejections are counted too, so hidden retries can be told (they were always 0)."""
    from _deps import need_valkey

    need_valkey()
    probe = probe_client(
        "valkey", run_dir=tmp_path / "probe", lag_limit_ms=1000, rejecting_s=6, restart=False
    )
    # 6 s of rejecting: in 3 s a loaded CI machine once fitted only 6 rejections.
    assert phase(probe, "rejecting")["errors"].get("NOREPLICAS", 0) > 10  # type: ignore[attr-defined]
    assert probe.server_rejections == probe.client_rejections > 10
    assert probe.hidden_retries == 0 and probe.notes == []


@pytest.mark.slow
def test_a_glide_driven_async_run_reaches_a_verdict(tmp_path: Path, glide_target: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--target", str(glide_target), "--mode",
         "async", "--budget", "8", "--seed", "5", "--report-dir", "run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode in (0, 1, 2), out.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    validate_results(results)
    assert results["target"]["client"].startswith("glide ")
    assert "Error executing command" not in out.stderr  # GLIDE's own stderr noise is dropped
    ops = [
        json.loads(line)
        for history in (tmp_path / "run" / "async" / "examples").glob("*/history.ndjson")
        for line in history.read_text().splitlines()[1:]
    ]
    rejected = [o for o in ops if (o.get("error") or "").startswith("CLUSTERDOWN")]
    assert all(o["type"] == "fail" for o in rejected)  # classified as with valkey-py


def test_glide_clients_open_no_connections_from_forked_children() -> None:
    """GlideClient.create's fork hook would reconnect every live client in each child."""
    need_glide()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "harness.server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        admin = connect("valkey-py", "n1", "127.0.0.1", port, 5.0)
        deadline = time.monotonic() + 10
        while True:
            try:
                admin.execute("PING")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        clients = [connect("glide", "n1", "127.0.0.1", port, 2.0) for _ in range(5)]
        for c in clients:
            assert c.execute("SET", "k", "v") == "OK"

        def received() -> int:
            info = admin.execute("INFO", "stats")
            return int(info.split("total_connections_received:")[1].split()[0])

        before = received()
        for _ in range(3):
            subprocess.run(["true"], preexec_fn=lambda: None, check=True)
        assert received() == before
        for c in clients:
            c.close()
    finally:
        server.kill()
        server.wait(10)


class _ResettingPrimary:
    """A RESP peer that passes for a primary, answers SET with +OK and then resets the
    connection (as a fault proxy does when it drops a link), and answers WAIT with 1."""

    def __init__(self) -> None:
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.seen: list[tuple[int, str]] = []  # (connection number, command)
        self._threads = threading
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            n += 1
            self._threads.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    def _serve(self, conn: socket.socket, n: int) -> None:
        import struct

        from _resp_peer import received_commands

        for argv in received_commands(conn):
            name = argv[0].upper().decode()
            self.seen.append((n, name))
            try:
                if name == "SET":
                    conn.sendall(b"+OK\r\n")
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()  # RST: whatever else was sent on it is lost
                    return
                conn.sendall(self._answer(name, argv))
            except (BrokenPipeError, ConnectionResetError):
                return  # the client closed this connection (a probe, or the client's end)

    @staticmethod
    def _answer(name: str, argv: list[bytes]) -> bytes:
        if name == "HELLO":
            proto = argv[1] if len(argv) > 1 else b"2"
            head = b"%3\r\n" if proto == b"3" else b"*6\r\n"
            return (
                head + b"+server\r\n+valkey\r\n+version\r\n+9.0.0\r\n+proto\r\n:" + proto + b"\r\n"
            )
        if name == "INFO":
            text = b"# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
            return b"$%d\r\n%s\r\n" % (len(text), text)
        if name == "WAIT":
            return b":1\r\n"
        if name == "PING":
            return b"+PONG\r\n"
        return b"+OK\r\n"

    def close(self) -> None:
        self.sock.close()


def test_a_glide_sync_write_waits_on_its_own_connection() -> None:
    """WAIT counts the replication of its connection's last write. GLIDE reconnects by
    itself: had WAIT gone as a second request after the reset, it would have run on a new
    connection that wrote nothing, answered 1 at once, and the lost write been recorded as
    acknowledged. Sent with the write, on one connection, it is lost with it: indeterminate."""
    import dataclasses

    from harness.cluster._perform import perform
    from harness.targets import ModeParams, load_target

    need_glide()
    peer = _ResettingPrimary()
    target = dataclasses.replace(load_target("valkey"), client="glide")
    client = connect("glide", "n1", "127.0.0.1", peer.port, 2.0)
    try:
        assert client.execute("PING") == "PONG"
        params = ModeParams(sync_replicas=1, sync_timeout_ms=500)
        typ, _value, error = perform(target, "sync", params, client, "register", "write", "k", "v")
        time.sleep(0.3)  # any reconnect and WAIT GLIDE would send
    finally:
        client.close()
        peer.close()
    assert typ == "info", error
    set_on = {n for n, name in peer.seen if name == "SET"}
    wait_on = {n for n, name in peer.seen if name == "WAIT"}
    assert len(set_on) == 1 and wait_on <= set_on, peer.seen
