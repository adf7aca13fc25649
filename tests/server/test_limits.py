"""Input limits, authentication, protected mode, and a raw-bytes fuzz test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.resp import ErrorReply, SimpleString

from .conftest import Conn, Node, ServerFactory, spawn, stop, wait_ready


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One server for the tests that only need to send it bad input (1 MB max bulk)."""
    node = spawn(tmp_path_factory.mktemp("fuzz"), "--proto-max-bulk-len", "1mb")
    try:
        wait_ready(node)
        yield node
    finally:
        stop(node)


def rss_kb(pid: int) -> int:
    """The resident set size of a process, from /proc (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0])


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"*3000000000\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n$2000000\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"),
        (b"*2\r\n$3\r\nGET\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
        (b"*1\r\n" + b"1" * 70000, "Protocol error: too big bulk count string"),
        (b"*" + b"1" * 70000, "Protocol error: too big mbulk count string"),
        (b"GET " + b"x" * 70000, "Protocol error: too big inline request"),
        (b'GET "abc\r\n', "Protocol error: unbalanced quotes in request"),
    ],
)
def test_protocol_errors_close_the_connection(shared: Node, payload: bytes, message: str) -> None:
    c = Conn(shared.port)
    c.send_raw(payload)
    assert c.read() == ErrorReply(f"ERR {message}")
    assert c.closed_by_server()
    assert Conn(shared.port)("PING") == SimpleString(b"PONG")


def test_declared_length_is_not_preallocated(shared: Node) -> None:
    c = Conn(shared.port)
    c.send_raw(b"*1000000\r\n$1000000\r\nabc")  # declares ~1 TB of arguments, sends 3 bytes
    before = shared.info("server")
    assert Conn(shared.port)("PING") == SimpleString(b"PONG")
    assert before["process_id"]
    assert rss_kb(shared.proc.pid) < 200_000


def test_idle_and_slow_clients_do_not_block_others(shared: Node) -> None:
    idle = socket.create_connection(("127.0.0.1", shared.port))
    slow = socket.create_connection(("127.0.0.1", shared.port))
    slow.sendall(b"*2\r\n$3\r\nGET\r\n$10\r\nabc")  # half a command, never finished
    assert Conn(shared.port)("PING") == SimpleString(b"PONG")
    idle.close()
    slow.close()


def test_authentication(start_server: ServerFactory) -> None:
    node = start_server("--requirepass", "s3cret")
    c = node.conn()
    assert c("GET", "k") == ErrorReply("NOAUTH Authentication required.")
    assert c("AUTH", "wrong") == ErrorReply(
        "WRONGPASS invalid username-password pair or user is disabled."
    )
    c.send_raw(b"*11\r\n")
    assert c.read() == ErrorReply("ERR Protocol error: unauthenticated multibulk length")
    c2 = node.conn()
    c2.send_raw(b"*2\r\n$4\r\nAUTH\r\n$20000\r\n")
    assert c2.read() == ErrorReply("ERR Protocol error: unauthenticated bulk length")
    c3 = node.conn()
    assert c3("AUTH", "default", "s3cret") == b"OK"
    assert c3("SET", "k", "v") == b"OK"
    c4 = node.conn()
    hello = c4("HELLO", "3", "AUTH", "default", "s3cret")
    assert isinstance(hello, dict) and hello[b"proto"] == 3
    assert c4("GET", "k") == b"v"


def test_before_auth_unknown_commands_and_wrong_arities_are_noauth(
    start_server: ServerFactory,
) -> None:
    """As Valkey: nothing about the command set shows before logging in."""
    node = start_server("--requirepass", "s3cret")
    c = node.conn()
    noauth = ErrorReply("NOAUTH Authentication required.")
    assert c("FOO") == noauth
    assert c("GET") == noauth
    assert c("ECHO", *["a"] * 8) == noauth
    assert c("AUTH") == ErrorReply("ERR wrong number of arguments for 'auth' command")


def test_reset_logs_out_and_runs_before_auth(start_server: ServerFactory) -> None:
    """As in Valkey: RESET makes the connection new, so with a password it must log in
    again; and like AUTH it may be sent before logging in."""
    node = start_server("--requirepass", "s3cret")
    c = node.conn()
    assert c("RESET") == SimpleString(b"RESET")
    assert c("AUTH", "s3cret") == b"OK"
    assert c("RESET") == SimpleString(b"RESET")
    assert c("GET", "k") == ErrorReply("NOAUTH Authentication required.")


def test_with_no_password_the_default_user_logs_in_with_any(start_server: ServerFactory) -> None:
    """Valkey's default user is nopass when no password is set: clients configured with
    username default and some password connect; AUTH with a password alone is refused."""
    node = start_server()
    c = node.conn()
    assert c("AUTH", "default", "anything") == b"OK"
    assert c("AUTH", "someone", "anything") == ErrorReply(
        "WRONGPASS invalid username-password pair or user is disabled."
    )
    hello = c("HELLO", "3", "AUTH", "default", "x")
    assert isinstance(hello, dict) and hello[b"proto"] == 3
    assert c("RESET") == SimpleString(b"RESET")
    assert c("GET", "k") is None


@pytest.mark.parametrize("source", ["env", "file"])
def test_password_from_env_or_file(
    start_server: ServerFactory, tmp_path: Path, source: str
) -> None:
    if source == "env":
        node = start_server(env={"ACKBOUND_SERVER_PASSWORD": "pw1"})
    else:
        (tmp_path / "pw").write_text("pw1\n")
        node = start_server("--requirepass-file", str(tmp_path / "pw"))
    c = node.conn()
    assert c("PING") == ErrorReply("NOAUTH Authentication required.")
    assert c("AUTH", "pw1") == b"OK"


def test_protected_mode_refuses_non_loopback(start_server: ServerFactory) -> None:
    # 127.0.0.2 is loopback; binding the wildcard and connecting through a non-loopback
    # address needs one on this machine: use the primary interface's address if there is one.
    node = start_server("--bind", "0.0.0.0")
    try:
        addr = socket.gethostbyname(socket.gethostname())
    except OSError:
        addr = "127.0.0.1"
    if addr.startswith("127."):
        from harness.server._server import _loopback

        assert not _loopback("10.1.2.3") and _loopback("127.0.0.5") and _loopback("::1")
        return
    sock = socket.create_connection((addr, node.port))
    data = sock.recv(4096)
    assert data.startswith(b"-DENIED ")


def test_proto_max_bulk_len_is_configurable(start_server: ServerFactory) -> None:
    node = start_server()
    c = node.conn()
    for small in ("1", "3", "1048575"):  # Valkey's minimum is 1 MiB
        assert c("CONFIG", "SET", "proto-max-bulk-len", small) == ErrorReply(
            "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - "
            "argument must be between 1048576 and 9223372036854775807 inclusive"
        )
    c.send_raw(b"*0\r\n*0\r\n*1\r\n$4\r\nPING\r\n")  # broke the hiredis path's limit check
    assert c.read() == SimpleString(b"PONG")
    assert c("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"OK"
    c.send_raw(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n")
    assert c.read() == ErrorReply("ERR Protocol error: invalid bulk length")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=64),
            st.sampled_from(
                [
                    b"*",
                    b"$",
                    b"\r\n",
                    b"*2\r\n$3\r\nGET\r\n",
                    b"$-1\r\n",
                    b"*-1\r\n",
                    b"PING\r\n",
                    b'"',
                    b"\n",
                    b"*1\r\n$4\r\nPING\r\n",
                    b"MULTI\r\n",
                    b"HELLO 3\r\n",
                    b"SET k v\r\n",
                    b"*3\r\n$3\r\nSET\r\n",
                    b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
                    b"~2\r\n",
                    b"|1\r\n",
                    b"(12\r\n",
                    b"=5\r\ntxt:x\r\n",
                ]
            ),
        ),
        max_size=12,
    )
)
def test_fuzz_raw_bytes(shared: Node, chunks: list[bytes]) -> None:
    sock = socket.create_connection(("127.0.0.1", shared.port), timeout=5)
    try:
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break
    finally:
        sock.close()
    assert Conn(shared.port, timeout=5)("PING") == SimpleString(b"PONG")
    assert shared.proc.poll() is None
