"""A node that answers in something other than RESP: named at once, not after the readiness
timeout with a bare "connection closed"."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from _resp_peer import received_commands

from harness.cluster import ClusterError, _cluster, history_header, start_cluster
from harness.cluster._client import ClientConnectionError, connect
from harness.cluster._cluster import _free_ports, non_resp_reply
from harness.history import HistoryWriter
from harness.resp import error, simple
from harness.targets import load_target

HTTP_ERROR = b"HTTP/1.0 400 Bad request\r\nContent-Type: text/html\r\n\r\n<html>"


@contextmanager
def listening(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A loopback listener that gives each connection to ``handle`` (on a thread of its own,
    with the event that says the test is over); yields its port."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            conn.settimeout(1)
            threading.Thread(target=handle, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        srv.close()


def answering(reply: bytes | None, close: bool = True) -> AbstractContextManager[int]:
    """A listener that answers every connection's first bytes with ``reply`` (``None``:
    says nothing), then closes it (or holds it open until the test is over)."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            try:
                conn.recv(256)
                if reply is not None:
                    conn.sendall(reply)
            except OSError:
                return
            if not close:
                stop.wait(10)

    return listening(handle)


@pytest.mark.parametrize(
    ("reply", "close", "expected"),
    [
        (HTTP_ERROR, True, HTTP_ERROR),
        (b"SSH-2.0-OpenSSH_9.2\r\n", False, b"SSH-2.0-OpenSSH_9.2\r\n"),
        (b"\x16\x03\x01\x00", False, b"\x16\x03\x01\x00"),  # a line not yet ended: first byte
        (b"+PONG\r\n", True, None),
        (b"-NOAUTH Authentication required.\r\n", True, None),
        (b"$4\r\nPO", False, None),  # RESP, not yet complete
        (b"", True, None),  # closed without a word
    ],
)
def test_non_resp_reply_names_the_bytes_only_when_they_are_not_resp(
    reply: bytes, close: bool, expected: bytes | None
) -> None:
    with answering(reply, close) as port:
        assert non_resp_reply("127.0.0.1", port, 1.0) == expected


def test_non_resp_reply_is_none_when_nothing_listens_or_nothing_comes() -> None:
    (port,) = _free_ports(1)
    assert non_resp_reply("127.0.0.1", port, 1.0) is None
    with answering(None, close=False) as silent:
        t = time.monotonic()
        assert non_resp_reply("127.0.0.1", silent, 0.3) is None
        assert time.monotonic() - t < 2


@pytest.mark.parametrize(
    "reply",
    [
        HTTP_ERROR,
        b"+OK\r\n\x00\xff junk\r\n",
        b"*2\r\n?\r\n",
        b"*1\r\n" * 100_000 + b":1\r\n",  # deeper than any parser follows
        b"+OK\xff\r\n",  # not UTF-8: escaped the client as UnicodeDecodeError
        b"$1\r\n\xff\r\n",
    ],
)
def test_a_reply_that_is_not_resp_is_a_broken_connection_not_a_crash(reply: bytes) -> None:
    """Mid-run, hostile bytes from a node leave the op indeterminate (the connection broke),
    as any broken connection does; the client raises nothing else."""
    with answering(reply, close=False) as port:
        client = connect("valkey-py", "n1", "127.0.0.1", port, 2.0)
        try:
            with pytest.raises(ClientConnectionError, match=r"^n1: the reply is not RESP "):
                client.execute("SET", "k", "v")
                client.execute("SET", "k", "v")  # the junk after a valid first reply
        finally:
            client.close()


def _start_external(
    tmp_path: Path, name: str, ports: tuple[int, int], more: str = ""
) -> ClusterError:
    """Start a two-node external target on ``ports`` (mode none, with the tables ``more``);
    the error it fails with."""
    a, b = ports
    target = tmp_path / f"{name}.toml"
    target.write_text(
        f"""
name = "{name}"
kind = "external"
[external]
primary = "a"
nodes = [
  {{name = "a", host = "127.0.0.1", port = {a}, az = "az1"}},
  {{name = "b", host = "127.0.0.1", port = {b}, az = "az2"}},
]
{more}
[replication]
replicaof = [["REPLICAOF", "{{primary_host}}", "{{primary_port}}"]]
promote = [["REPLICAOF", "NO", "ONE"]]
[modes.none]
write = "plain"
"""
    )
    tgt = load_target(str(target))
    with (
        pytest.raises(ClusterError) as exc,
        HistoryWriter(None, history_header(tgt, "none")) as history,
        start_cluster(tgt, mode="none", run_dir=tmp_path / "run", history=history),
    ):
        pass
    return exc.value


def _external_error(
    tmp_path: Path, name: str, fake: Callable[[], AbstractContextManager[int]], more: str = ""
) -> tuple[str, int, int]:
    """Start a two-node external target on two listeners ``fake`` makes; the error it fails
    with, and the listeners' ports."""
    with fake() as a, fake() as b:
        return str(_start_external(tmp_path, name, (a, b), more)), a, b


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """External nodes get 1 s to answer PING, not 30."""
    monkeypatch.setattr(_cluster, "_EXTERNAL_READY_S", 1.0)


def test_an_external_node_that_is_not_resp_is_named_at_once(tmp_path: Path) -> None:
    with answering(HTTP_ERROR) as web, answering(HTTP_ERROR) as web2:
        t = time.monotonic()
        exc = _start_external(tmp_path, "web", (web, web2))
        assert time.monotonic() - t < 10  # not the 30 s readiness timeout
    assert str(exc) == (
        f"node a (127.0.0.1:{web}, target web) answered PING with {HTTP_ERROR[:48]!r}, which is "
        f"not RESP; check that this address is the node's RESP port ({tmp_path / 'web.toml'})"
    )


def test_an_external_node_that_never_answers_is_named_without_a_log(
    tmp_path: Path, quick: None
) -> None:
    """Nothing of an external node is ours: the error names its address, not a log file."""
    message, a, _b = _external_error(tmp_path, "silent", lambda: answering(None, close=False))
    assert message.startswith(f"node a (127.0.0.1:{a}, target silent) did not answer PING within ")
    target = tmp_path / "silent.toml"
    assert message.endswith(f"; check that it runs and that {target} gives its address")
    assert "log" not in message


def test_an_external_address_nothing_listens_on_is_named_at_once(tmp_path: Path) -> None:
    """A run finds an external cluster running or not at all: a refused connection is not
    worth the readiness timeout's wait."""
    a, b = _free_ports(2)
    t = time.monotonic()
    message = str(_start_external(tmp_path, "gone", (a, b)))
    assert time.monotonic() - t < 10  # not the 30 s readiness timeout
    assert message == (
        f"node a (127.0.0.1:{a}, target gone) refused the connection: nothing listens at that "
        f"address; check that it runs and that {tmp_path / 'gone.toml'} gives its address"
    )


def speaking(reply_for: Callable[[bytes], bytes]) -> AbstractContextManager[int]:
    """A listener that answers each command with ``reply_for(its name, in upper case)``."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            for argv in received_commands(conn, stop):
                conn.sendall(reply_for(argv[0].upper()))

    return listening(handle)


def refusing(command: bytes, reply: str = "ERR not here") -> AbstractContextManager[int]:
    """A listener speaking RESP: PONG to PING, the error ``reply`` to ``command``, OK to the
    rest."""
    return speaking(
        lambda name: (
            simple("PONG") if name == b"PING" else error(reply) if name == command else simple("OK")
        )
    )


def test_a_failed_command_on_an_external_node_names_no_log_it_does_not_have(
    tmp_path: Path, quick: None
) -> None:
    # These nodes never report a replica in sync: waiting for it takes the readiness timeout.
    message, _a, _b = _external_error(tmp_path, "ext", lambda: refusing(b"FLUSHALL"))
    assert "failed: ERR not here; check the target's commands" in message
    assert message.endswith(f"({tmp_path / 'ext.toml'}) and its own logs"), message
    assert "/nodes/" not in message


def test_a_node_that_takes_no_password_is_not_said_to_refuse_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It answered AUTH with 'unknown command', and the error said it refused the
    credentials: the fix is to drop [auth], not to check the password."""
    monkeypatch.setenv("ACKBOUND_TEST_PW", "secret")
    unknown = "ERR unknown command 'AUTH', with args beginning with: 'secret'"
    auth = '[auth]\npassword_env = "ACKBOUND_TEST_PW"'
    message, a, _b = _external_error(tmp_path, "noauth", lambda: refusing(b"AUTH", unknown), auth)
    assert message.startswith(f"node a (127.0.0.1:{a}, target noauth) does not know AUTH (")
    assert message.endswith(
        f"); it takes no password: remove [auth] from {tmp_path / 'noauth.toml'}, or check "
        f"that node a (127.0.0.1:{a}, target noauth) is the server you meant"
    ), message


def _a_lone_primary() -> AbstractContextManager[int]:
    """A listener that says it is a primary with no replica: PONG, role:master, OK."""
    from harness.resp import bulk

    info = b"# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n"
    replies = {b"PING": simple("PONG"), b"INFO": bulk(info)}
    return speaking(lambda name: replies.get(name, simple("OK")))


def test_an_external_node_that_is_no_replica_is_named_with_the_fix(
    tmp_path: Path, quick: None
) -> None:
    """Two primaries, neither replicating: 'did not start replicating
    (master_link_status:None); check that it runs and that t.toml gives its address', though
    it ran at that address; what it needed was to be made a replica."""
    message, a, b = _external_error(tmp_path, "alone", _a_lone_primary)
    assert message == (
        f"node b (127.0.0.1:{b}, target alone) is a primary, not a replica of a; an external "
        "target is a running cluster, so make it a replica before the run (REPLICAOF "
        f"127.0.0.1 {a}), or name the primary it follows in {tmp_path / 'alone.toml'}"
    )


def test_a_reply_that_is_not_resp_mid_example_leaves_it_unjudged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A primary that began to answer with bytes that are not RESP was judged, and reported
    as writes-resume-after-heal violated: a durability verdict on a broken protocol."""
    from harness._errors import AckboundError
    from harness.cluster._client import NOT_RESP
    from harness.run import replay_program

    state = replay_program(target="bundled", mode="none", run_dir=str(tmp_path))
    cluster = state.run.cluster
    real = cluster.perform
    calls = []

    def garbled(client: object, workload: str, f: str, key: str, value: object) -> object:
        calls.append(f)
        if len(calls) == 2:
            return ("info", None, f"n1: {NOT_RESP} (Protocol Error: b'H')")
        return real(client, workload, f, key, value)  # type: ignore[arg-type]

    monkeypatch.setattr(cluster, "perform", garbled)
    state.writes(workload="list", key=0, count=3)
    with pytest.raises(AckboundError) as info:
        state.teardown()
    assert (
        f"a node answered with bytes that are not RESP (n1: {NOT_RESP} (Protocol Error: "
        "b'H')); this example cannot be judged"
    ) in str(info.value)
    assert state.record.result is None


def _answering_everything(reply: bytes) -> AbstractContextManager[int]:
    return speaking(lambda _name: reply)


def test_a_node_answering_ping_with_1_is_not_taken_for_ready(tmp_path: Path, quick: None) -> None:
    """':1' equals True, which valkey-py makes of +PONG: the node was taken for ready, and a
    healthy replica was blamed a minute later."""
    message, a, _b = _external_error(tmp_path, "one", lambda: _answering_everything(b":1\r\n"))
    assert message.startswith(f"node a (127.0.0.1:{a}, target one) did not answer PING within ")
    assert "(last: PING answered 1, not PONG)" in message, message


def test_a_primary_that_reports_no_role_is_blamed_not_its_replica(
    tmp_path: Path, quick: None
) -> None:
    message, a, _b = _external_error(tmp_path, "pong", lambda: refusing(b"NOTHING"))
    assert message.startswith(
        f"node a (127.0.0.1:{a}, target pong) did not start replicating (b: primary a reports "
        "role None)"
    ), message


def test_a_reply_nested_past_what_a_client_reads_is_named_at_once(tmp_path: Path) -> None:
    """It was a 30 s readiness wait, then 'did not answer PING ... check that it runs'."""
    nested = b"*1\r\n" * 100_000 + b":1\r\n"
    t = time.monotonic()
    message, a, _b = _external_error(tmp_path, "deep", lambda: _answering_everything(nested))
    assert time.monotonic() - t < 10
    assert message == (
        f"node a (127.0.0.1:{a}, target deep) answered PING, but the reply is not RESP a client "
        f"can read (nested too deeply); check that this address is the node's RESP port "
        f"({tmp_path / 'deep.toml'})"
    )
