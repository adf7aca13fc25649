"""The fault proxy never corrupts, drops or reorders bytes, holds hundreds of connections, and
does what each policy says: blocked holds bytes, latency delays them, bandwidth paces them,
reset resets. Everything runs on loopback against an echo server."""

from __future__ import annotations

import hashlib
import random
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from _resp_peer import received_chunks

from harness.faults import PASS, FaultProxy, Link, Policy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        try:
            while data := sock.recv(1 << 18):
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[str, int]]:
    server = _Server(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address  # type: ignore[misc]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    with FaultProxy() as p:
        yield p


def _connect(link: Link) -> socket.socket:
    return socket.create_connection((link.host, link.port), timeout=10)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            break
        out.extend(chunk)
    return bytes(out)


def test_hundreds_of_megabytes_with_random_faults_arrive_intact(
    proxy: FaultProxy, echo: tuple[str, int]
) -> None:
    link = proxy.add_link("bulk", echo)
    per_conn = 48 * 1024 * 1024
    conns = 4  # 4 × 48 MB out and the same back: ~384 MB through the proxy
    rng = random.Random(20240607)
    stop = threading.Event()
    toggles = 0

    def chaos() -> None:
        nonlocal toggles
        policies = [
            PASS,
            Policy(blocked=True),
            Policy(latency_ms=5),
            Policy(latency_ms=1, bandwidth=80_000_000),
            Policy(bandwidth=150_000_000),
        ]
        while not stop.wait(rng.uniform(0.005, 0.03)):
            link.set(rng.choice(("up", "down")), rng.choice(policies))
            toggles += 1
        link.set("up", PASS)
        link.set("down", PASS)

    results: dict[int, tuple[str, str, int]] = {}

    def one(i: int) -> None:
        sock = _connect(link)
        sent = hashlib.sha256()
        got = hashlib.sha256()
        received = 0

        def reader() -> None:
            nonlocal received
            while data := sock.recv(1 << 18):
                got.update(data)
                received += len(data)

        t = threading.Thread(target=reader)
        t.start()
        gen = random.Random(i)
        remaining = per_conn
        while remaining:
            block = gen.randbytes(min(remaining, 1 << 20))
            sent.update(block)
            sock.sendall(block)
            remaining -= len(block)
        sock.shutdown(socket.SHUT_WR)
        t.join(60)
        sock.close()
        results[i] = (sent.hexdigest(), got.hexdigest(), received)

    chaos_thread = threading.Thread(target=chaos)
    chaos_thread.start()
    workers = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    stop.set()
    chaos_thread.join()
    assert toggles > 20, "the faults did not toggle while data flowed"
    for i in range(conns):
        sent, got, received = results[i]
        assert received == per_conn, f"connection {i}: {received} of {per_conn} bytes came back"
        assert got == sent, f"connection {i}: bytes came back altered or reordered"
    stats = link.stats()
    assert stats.bytes_up == stats.bytes_down == conns * per_conn


def test_holds_hundreds_of_connections_at_once(proxy: FaultProxy, echo: tuple[str, int]) -> None:
    link = proxy.add_link("many", echo)
    socks = [_connect(link) for _ in range(400)]
    for i, s in enumerate(socks):
        s.sendall(f"hello {i}\n".encode())
    for i, s in enumerate(socks):
        expected = f"hello {i}\n".encode()
        assert _recv_exactly(s, len(expected)) == expected
    assert link.stats().connections == 400
    for s in socks:
        s.close()
    deadline = time.monotonic() + 10
    while link.stats().connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert link.stats().connections == 0 and link.stats().accepted == 400


def test_blocked_holds_bytes_until_the_direction_passes_again(
    proxy: FaultProxy, echo: tuple[str, int]
) -> None:
    link = proxy.add_link("block", echo)
    sock = _connect(link)
    sock.sendall(b"ping-0")  # (the connection is open through to the server)
    assert _recv_exactly(sock, 6) == b"ping-0"
    link.set("down", Policy(blocked=True))
    sock.sendall(b"ping-1")
    sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        sock.recv(100)
    assert link.stats().bytes_up == 12 and link.stats().bytes_down == 6
    link.set("down", PASS)
    sock.settimeout(5)
    assert _recv_exactly(sock, 6) == b"ping-1"
    link.set("up", Policy(blocked=True))
    sock.sendall(b"ping-2")
    time.sleep(0.2)
    assert link.stats().bytes_up == 12  # held before the server
    link.set("up", PASS)
    assert _recv_exactly(sock, 6) == b"ping-2"
    sock.close()


def test_a_partition_is_silence_to_new_connections_too(
    proxy: FaultProxy, echo: tuple[str, int]
) -> None:
    """The proxy accepted them and connected to the server at once: the server saw a
    connection through a partition (and a dead one reset the client at once)."""
    link = proxy.add_link("cut", echo, down=Policy(blocked=True))
    sock = _connect(link)
    sock.sendall(b"hello")
    sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        sock.recv(100)
    assert link.stats().bytes_up == 0  # nothing reached the server, not even the connection
    link.set("down", PASS)
    sock.settimeout(5)
    assert _recv_exactly(sock, 5) == b"hello"
    sock.close()


def test_the_end_of_a_stream_passes_a_partition_and_a_latency_as_its_bytes_do(
    proxy: FaultProxy, echo: tuple[str, int]
) -> None:
    """A FIN went through a partition, and ahead of the bytes a latency held."""
    link = proxy.add_link("fin", echo)
    sock = _connect(link)
    sock.sendall(b"a")
    assert _recv_exactly(sock, 1) == b"a"
    link.set("up", Policy(blocked=True))
    sock.sendall(b"bc")
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(0.3)
    with pytest.raises(TimeoutError):  # the echo server saw neither the bytes nor the FIN
        sock.recv(100)
    link.set("up", Policy(latency_ms=300))
    sock.settimeout(5)
    assert _recv_exactly(sock, 3) == b"bc"
    assert sock.recv(1) == b""  # then the end, after the bytes
    sock.close()


def test_a_reset_comes_behind_the_bytes_a_latency_holds(proxy: FaultProxy) -> None:
    """The reset overtook them: the server saw a reset and none of the bytes sent before it."""
    got: list[bytes] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                data = b""
                try:
                    while chunk := conn.recv(100):
                        data += chunk
                except OSError:
                    pass
                got.append(data)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        link = proxy.add_link("rst", listener.getsockname(), up=Policy(latency_ms=300))
        sock = _connect(link)
        sock.sendall(b"SET k v\r\n")
        # (Once the proxy has read them: a reset discards what its receiver has not read.)
        time.sleep(0.1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset
        thread.join(10)
    assert got == [b"SET k v\r\n"]


def test_a_latency_must_be_a_finite_number(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="must be finite and ≥ 0"):
        Policy(latency_ms=float("nan"))


def test_latency_delays_each_direction(proxy: FaultProxy, echo: tuple[str, int]) -> None:
    link = proxy.add_link("slow", echo, up=Policy(latency_ms=100), down=Policy(latency_ms=50))
    sock = _connect(link)
    started = time.monotonic()
    sock.sendall(b"x")
    assert _recv_exactly(sock, 1) == b"x"
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 1.0, elapsed
    sock.close()


def test_bandwidth_paces_the_bytes(proxy: FaultProxy, echo: tuple[str, int]) -> None:
    link = proxy.add_link("narrow", echo, down=Policy(bandwidth=400_000))
    sock = _connect(link)
    payload = random.Random(1).randbytes(200_000)
    started = time.monotonic()
    sock.sendall(payload)
    assert _recv_exactly(sock, len(payload)) == payload
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 2.0, elapsed
    sock.close()


def test_a_bandwidth_limit_is_shared_by_every_connection_of_the_link(
    proxy: FaultProxy, echo: tuple[str, int]
) -> None:
    """Each connection was paced on its own: eight of them carried eight times the limit."""
    link = proxy.add_link("shared", echo, down=Policy(bandwidth=400_000))
    payload = random.Random(2).randbytes(200_000)
    socks = [_connect(link) for _ in range(2)]
    got: list[bytes] = []

    def echo_back(sock: socket.socket) -> None:
        sock.sendall(payload)
        got.append(_recv_exactly(sock, len(payload)))

    started = time.monotonic()
    threads = [threading.Thread(target=echo_back, args=(s,)) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    elapsed = time.monotonic() - started
    assert got == [payload, payload]
    assert 0.9 <= elapsed < 4.0, elapsed  # 400,000 bytes at 400,000 B/s (each alone: 0.5 s)
    for sock in socks:
        sock.close()


def test_reset_resets_every_connection_and_new_ones_still_work(
    proxy: FaultProxy, echo: tuple[str, int]
) -> None:
    link = proxy.add_link("reset", echo)
    socks = [_connect(link) for _ in range(3)]
    for s in socks:
        s.sendall(b"a")
        assert _recv_exactly(s, 1) == b"a"
    assert link.reset() == 3
    for s in socks:
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            s.sendall(b"b")
            if not s.recv(1):
                raise ConnectionResetError("closed")
        s.close()
    fresh = _connect(link)
    fresh.sendall(b"c")
    assert _recv_exactly(fresh, 1) == b"c"
    fresh.close()


def test_an_unreachable_upstream_resets_the_client(proxy: FaultProxy) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()
    link = proxy.add_link("dead", dead)
    # The proxy resets the client: the reset may surface at recv or already at connect.
    try:
        with _connect(link) as sock:
            sock.settimeout(5)
            got = sock.recv(1)
    except ConnectionResetError:
        got = b""
    assert got == b""


def test_closing_the_proxy_frees_its_ports(echo: tuple[str, int]) -> None:
    proxy = FaultProxy()
    link = proxy.add_link("l", echo)
    port = link.port
    proxy.close()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    with pytest.raises(RuntimeError, match="the fault proxy is closed"):
        proxy.add_link("again", echo)


class _Holding:
    """A server that accepts connections and keeps their sockets (a test closes them, as
    a node that dies would), counting the bytes each one received."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.addr: tuple[str, int] = self.sock.getsockname()[:2]
        self.conns: list[socket.socket] = []
        self.received: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.received.append(b"")
            threading.Thread(
                target=self._read, args=(conn, len(self.conns) - 1), daemon=True
            ).start()

    def _read(self, conn: socket.socket, i: int) -> None:
        for data in received_chunks(conn):
            self.received[i] += data


def _wait_for(check: object, what: str) -> None:
    deadline = time.monotonic() + 5
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def _talking(proxy: FaultProxy, name: str) -> tuple[_Holding, Link, socket.socket]:
    """A server, a link to it and a client whose first bytes have reached the server."""
    server = _Holding()
    link = proxy.add_link(name, server.addr)
    client = _connect(link)
    client.sendall(b"PING\r\n")
    _wait_for(lambda: server.received and server.received[0], "the first bytes")
    return server, link, client


def test_a_dead_server_is_not_reported_through_a_cut_direction(proxy: FaultProxy) -> None:
    """With the link's way back cut, the client must learn nothing of the server's end (it
    used to get a reset at once when its next write failed); after the heal it does."""
    server, link, client = _talking(proxy, "dies")
    link.set("down", Policy(blocked=True))
    server.conns[0].close()  # the node dies
    client.settimeout(0.5)
    for _ in range(3):
        client.sendall(b"SET k v\r\n")  # the proxy's write to the dead server fails
        time.sleep(0.1)
    with pytest.raises(TimeoutError):
        client.recv(10)
    link.set("down", PASS)
    client.settimeout(5)
    with pytest.raises(ConnectionResetError):
        client.recv(10)


def test_a_closed_client_is_not_reported_through_a_cut_direction(proxy: FaultProxy) -> None:
    server, link, client = _talking(proxy, "gone")
    link.set("up", Policy(blocked=True))
    client.close()
    far = server.conns[0]
    far.settimeout(0.3)
    for _ in range(20):  # the proxy's writes to the closed client fail
        far.sendall(b"x" * 1000)
        time.sleep(0.01)
    with pytest.raises(TimeoutError):
        far.recv(10)  # no FIN, no reset: the way up is cut


def test_a_reset_stops_a_connection_waiting_at_a_partition(proxy: FaultProxy) -> None:
    """It used to go on waiting, then connect upstream and deliver what the client had
    sent, though the client had been told its connection was reset."""
    server = _Holding()
    link = proxy.add_link("waiting", server.addr)
    link.set("up", Policy(blocked=True))
    client = _connect(link)
    client.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
    _wait_for(lambda: link.stats().connections == 1, "the connection at the proxy")
    assert link.reset() == 1
    with pytest.raises(ConnectionResetError):
        client.settimeout(5)
        client.recv(10)
    link.set("up", PASS)
    time.sleep(0.3)
    assert server.conns == [] and link.stats().bytes_up == 0
