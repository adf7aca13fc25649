"""The bundled server's TLS: listeners, client certificates, TLS replication with AUTH."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.resp import NEED_DATA, ErrorReply, ReplyParser, encode_command

from .conftest import Certs

PASSWORD = "tls-test-Pa55"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TlsConn:
    """One RESP connection over TLS."""

    def __init__(self, port: int, ctx: ssl.SSLContext) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.parser = ReplyParser()

    def __call__(self, *args: str | int) -> object:
        self.sock.sendall(encode_command(*args))
        while True:
            reply = self.parser.next_reply()
            if reply is not NEED_DATA:
                return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.parser.feed(data)

    def close(self) -> None:
        self.sock.close()


def client_context(certs: Certs, *, cert: bool = True, ca: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca or certs.ca))
    if cert:
        ctx.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    return ctx


Start = Callable[..., tuple[subprocess.Popen[bytes], int, Path]]


@pytest.fixture
def start(tmp_path: Path, certs: Certs) -> Iterator[Start]:
    """``start(*flags, tls=True, password=None)``: a TLS-only bundled server, ready."""
    procs: list[subprocess.Popen[bytes]] = []

    def launch(
        *flags: str, tls: bool = True, password: str | None = None, wait: bool = True
    ) -> tuple[subprocess.Popen[bytes], int, Path]:
        port = free_port()
        log = tmp_path / f"server-{port}.log"
        tls_flags = [
            "--port", "0", "--tls-port", str(port),
            "--tls-cert-file", str(certs.server_cert), "--tls-key-file", str(certs.server_key),
            "--tls-ca-cert-file", str(certs.ca),
        ]  # fmt: skip
        env = {**os.environ}
        if password is not None:
            env["ACKBOUND_SERVER_PASSWORD"] = password
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.server", *(tls_flags if tls else []), *flags],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        procs.append(proc)
        if wait:
            deadline = time.monotonic() + 10
            while b"Ready to accept connections tls" not in log.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the TLS server did not get ready: {log.read_text()}")
                time.sleep(0.02)
        return proc, port, log

    yield launch
    for proc in procs:
        proc.kill()
        proc.wait(10)


def test_tls_only_listener_serves_verified_clients(start: Start, certs: Certs) -> None:
    _proc, port, log = start()
    conn = TlsConn(port, client_context(certs))
    try:
        assert conn("PING") == b"PONG"
        info = conn("INFO", "server")
        assert isinstance(info, bytes)
        assert f"tls_port:{port}".encode() in info and b"tcp_port:0" in info
        assert conn("CONFIG", "GET", "tls-auth-clients") == [b"tls-auth-clients", b"yes"]
    finally:
        conn.close()
    assert "Ready to accept connections tcp" not in log.read_text()  # --port 0: TLS only


def test_a_client_without_a_certificate_is_refused_unless_optional(
    start: Start, certs: Certs
) -> None:
    _proc, required, _log = start()
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        conn = TlsConn(required, client_context(certs, cert=False))
        conn("PING")  # TLS 1.3: the server's refusal arrives with the first reply
    _proc, optional, _log = start("--tls-auth-clients", "optional")
    conn = TlsConn(optional, client_context(certs, cert=False))
    try:
        assert conn("PING") == b"PONG"
    finally:
        conn.close()


def test_a_client_trusting_another_ca_fails_the_handshake(start: Start, certs: Certs) -> None:
    _proc, port, _log = start()
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        TlsConn(port, client_context(certs, ca=certs.other_ca))


def test_replication_over_tls_with_a_password(start: Start, certs: Certs) -> None:
    _p, primary_port, _log = start("--az", "a", "--tls-replication", "yes", password=PASSWORD)
    _r, replica_port, replica_log = start(
        "--az", "b", "--tls-replication", "yes", "--replicaof", "127.0.0.1", str(primary_port),
        password=PASSWORD,
    )  # fmt: skip
    primary = TlsConn(primary_port, client_context(certs))
    replica = TlsConn(replica_port, client_context(certs))
    try:
        assert primary("PING") == ErrorReply("NOAUTH Authentication required.")
        assert primary("AUTH", PASSWORD) == b"OK" and replica("AUTH", PASSWORD) == b"OK"
        deadline = time.monotonic() + 10
        while True:
            info = primary("INFO", "replication")
            assert isinstance(info, bytes)
            if f"port={replica_port},state=online".encode() in info:
                break  # the replica announced its TLS port
            if time.monotonic() > deadline:
                pytest.fail(f"replica not online over TLS: {info!r}; {replica_log.read_text()}")
            time.sleep(0.02)
        assert primary("SET", "k", "v") == b"OK"
        assert primary("WAIT", 1, 5000) == 1
        assert replica("GET", "k") == b"v"
    finally:
        primary.close()
        replica.close()
    assert PASSWORD not in replica_log.read_text()


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--port", "0"], "--port 0 without --tls-port"),
        (["--tls-port", "1", "--tls-auth-clients", "no", "--tls-cert-file", "/nonexistent.pem",
          "--tls-key-file", "/x"], "cannot read /nonexistent.pem"),
        (["--tls-port", "1", "--tls-auth-clients", "no", "--tls-cert-file", "CERT",
          "--tls-key-file", "CERT"], "not a PEM certificate and its matching key"),
        (["--tls-port", "1", "--tls-cert-file", "CERT", "--tls-key-file", "KEY"],
         "needs --tls-ca-cert-file"),
    ],
)  # fmt: skip
def test_unusable_tls_options_stop_the_server_with_one_line(
    certs: Certs, flags: list[str], needle: str
) -> None:
    flags = [
        str(certs.server_cert) if f == "CERT" else str(certs.server_key) if f == "KEY" else f
        for f in flags
    ]
    out = subprocess.run(
        [sys.executable, "-m", "harness.server", *flags],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 3, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
