"""The primary keeps one registration per replica, however many links it opened.

A replica is identified by the endpoint it announced (its address and ``REPLCONF
listening-port``) or by the run id it announced (``REPLCONF run-id``). A second handshake of
the same replica replaces the first registration and closes the old link, so one replica
can never count twice towards sync durability, WAIT, the async lag or ``connected_slaves``.
The replicas here are raw sockets speaking the handshake, so every step is deterministic.
"""

from __future__ import annotations

import contextlib
import socket
import time

from harness.resp import (
    NEED_DATA,
    ErrorReply,
    ReplyParser,
    RequestParser,
    SimpleString,
    encode_command,
)

from .conftest import ClusterFactory, Node, ServerFactory, poll


class FakeReplica:
    """One replication link opened by hand: handshake, then ACKs only when told to."""

    def __init__(
        self, primary: Node, *, port: int, az: str, run_id: str | None = None, ip: str = ""
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", primary.port), timeout=10)
        self.parser = ReplyParser(max_bulk_len=2**32)
        steps: list[tuple[str, ...]] = [
            ("PING",),
            ("REPLCONF", "listening-port", str(port)),
            ("REPLCONF", "az", az),
        ]
        if run_id is not None:
            steps.append(("REPLCONF", "run-id", run_id))
        if ip:
            steps.append(("REPLCONF", "ip-address", ip))
        for step in steps:
            reply = self._call(*step)
            assert reply in (SimpleString(b"PONG"), SimpleString(b"OK")), (step, reply)
        head = self._call("PSYNC", "?", "-1")
        assert isinstance(head, SimpleString) and head.startswith(b"FULLRESYNC "), head
        self.offset = int(head.split()[2])
        snapshot = self._read()
        assert isinstance(snapshot, bytes), snapshot

    def _read(self) -> object:
        while (reply := self.parser.next_reply()) is NEED_DATA:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("the primary closed the replication link")
            self.parser.feed(data)
        return reply

    def _call(self, *args: str) -> object:
        self.sock.sendall(encode_command(*args))
        return self._read()

    def ack(self, offset: int) -> None:
        self.sock.sendall(encode_command("REPLCONF", "ACK", offset))

    def closed_by_primary(self, timeout: float = 5.0) -> bool:
        """True once the primary closed this link (stream bytes before the close are read)."""
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                if not self.sock.recv(1 << 16):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            pass
        return False

    def close(self) -> None:
        self.sock.close()


def _offset(primary: Node) -> int:
    return int(primary.info("replication")["master_repl_offset"])


def _slaves(primary: Node) -> list[dict[str, str]]:
    info = primary.info("replication")
    return [
        dict(kv.split("=", 1) for kv in v.split(","))
        for k, v in sorted(info.items())
        if k.startswith("slave") and k[5:].isdigit()
    ]


def _online(primary: Node, count: int) -> bool:
    slaves = _slaves(primary)
    return len(slaves) == count and all(s["state"] == "online" for s in slaves)


def test_reconnected_replica_counts_once_for_sync(start_server: ServerFactory) -> None:
    # K=2 with two eligible replicas, F and G. F opens a second link without closing the
    # first; G goes silent (as if paused). Counting links, F's two links would satisfy K.
    primary = start_server(
        "--az", "a", "--durability", "sync", "--sync-replicas", "2",
        "--sync-timeout-ms", "600", "--repl-timeout-ms", "60000",
    )  # fmt: skip
    f1 = FakeReplica(primary, port=7101, az="b")
    g = FakeReplica(primary, port=7102, az="c")
    f1.ack(f1.offset)
    g.ack(g.offset)
    poll(lambda: _online(primary, 2), "F and G online at the primary")
    f2 = FakeReplica(primary, port=7101, az="b")  # F again, over a new link
    f2.ack(f2.offset)

    client = primary.conn()
    before = _offset(primary)
    client.send_raw(encode_command("SET", "k", "v"))
    written = poll(lambda: _offset(primary) > before and _offset(primary), "the write applied")
    assert isinstance(written, int)
    with contextlib.suppress(OSError):
        f1.ack(written)  # F acknowledges on both of its links; G stays silent
    f2.ack(written)
    reply = client.read()
    assert isinstance(reply, ErrorReply) and reply.prefix == "SYNCTIMEOUT", (
        f"a sync write with K=2 got {reply!r} while only one of its two replicas acknowledged"
    )

    assert f1.closed_by_primary(), "the primary kept F's replaced link open"
    assert primary.info("replication")["connected_slaves"] == "2"
    assert primary.info("durability")["durability_eligible_replicas"] == "2"
    assert [s["port"] for s in _slaves(primary)] == ["7102", "7101"]

    # The old link's connection_lost must not have removed F's new registration: once G
    # acknowledges too, sync writes succeed again.
    g.ack(written)
    before = _offset(primary)
    client.send_raw(encode_command("SET", "k2", "v2"))
    written = poll(lambda: _offset(primary) > before and _offset(primary), "the second write")
    assert isinstance(written, int)
    f2.ack(written)
    g.ack(written)
    assert client.read() == SimpleString(b"OK")
    for r in (f1, f2, g):
        r.close()


def test_wait_and_role_count_replicas_not_links(start_server: ServerFactory) -> None:
    primary = start_server("--az", "a", "--repl-timeout-ms", "60000")
    f1 = FakeReplica(primary, port=7201, az="b")
    f1.ack(f1.offset)
    poll(lambda: _online(primary, 1), "F online")
    f2 = FakeReplica(primary, port=7201, az="b")
    f2.ack(f2.offset)
    poll(lambda: _online(primary, 1), "F registered once after its second handshake")
    client = primary.conn()
    assert client("SET", "k", "v") == SimpleString(b"OK")
    target = _offset(primary)
    with contextlib.suppress(OSError):
        f1.ack(target)  # through the replaced link, if it is still writable: ignored
    f2.ack(target)
    assert client("WAIT", "2", "300") == 1
    role = client("ROLE")
    assert isinstance(role, list) and len(role[2]) == 1, role


def test_same_run_id_on_another_endpoint_replaces(start_server: ServerFactory) -> None:
    # The same replica process reaching the primary by another path (another proxy port,
    # another source address) announces the same run id: still one replica.
    primary = start_server("--az", "a", "--repl-timeout-ms", "60000")
    run_id = "ab" * 20
    f1 = FakeReplica(primary, port=7301, az="b", run_id=run_id)
    f1.ack(f1.offset)
    f2 = FakeReplica(primary, port=7302, az="b", run_id=run_id)
    f2.ack(f2.offset)
    assert f1.closed_by_primary()
    poll(lambda: _online(primary, 1), "one registration for one run id")
    assert _slaves(primary)[0]["port"] == "7302"
    # Distinct replicas on the same address keep distinct registrations.
    other = FakeReplica(primary, port=7303, az="b")
    other.ack(other.offset)
    poll(lambda: _online(primary, 2), "two distinct replicas")


def test_real_replica_announces_its_run_id(cluster: ClusterFactory) -> None:
    primary, [replica] = cluster(1, primary_flags=("--repl-timeout-ms", "60000"))
    run_id = replica.info("server")["run_id"]
    assert len(run_id) == 40 and run_id != primary.info("server")["run_id"]
    # A link announcing the replica's run id from another endpoint is the same replica.
    twin = FakeReplica(primary, port=7401, az="b", run_id=run_id)
    poll(
        lambda: [s["port"] for s in _slaves(primary)] == ["7401"],
        "the real replica's registration replaced by its twin",
    )
    assert primary.info("replication")["connected_slaves"] == "1"
    assert "replaced by a new link" in primary.log.read_text()
    twin.close()


def test_replica_handshake_tolerates_a_primary_without_run_ids(
    start_server: ServerFactory,
) -> None:
    # A primary that does not know REPLCONF run-id (an older ackbound) refuses it; the
    # replica goes on and is known to it by its endpoint.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]
        replica = start_server("--az", "b", "--replicaof", "127.0.0.1", str(port))
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            parser = RequestParser()
            seen: list[list[bytes]] = []

            def next_command() -> list[bytes]:
                while (command := parser.next_command()) is None:
                    data = conn.recv(4096)
                    if not data:
                        raise ConnectionError(f"the replica closed the link after {seen}")
                    parser.feed(data)
                seen.append(command)
                return command

            replies = {b"PING": b"+PONG\r\n", b"REPLCONF": b"+OK\r\n"}
            while (command := next_command())[0] != b"PSYNC":
                if command[:2] == [b"REPLCONF", b"run-id"]:
                    conn.sendall(b"-ERR Unrecognized REPLCONF option: run-id\r\n")
                else:
                    conn.sendall(replies[command[0]])
            conn.sendall(b"+FULLRESYNC " + b"c" * 40 + b" 0\r\n$0\r\n\r\n")
            assert next_command() == [b"REPLCONF", b"ACK", b"0"]
            poll(
                lambda: replica.info("replication")["master_link_status"] == "up",
                "the replica's link to be up",
            )
    assert [c[:2] for c in seen[1:4]] == [
        [b"REPLCONF", b"listening-port"],
        [b"REPLCONF", b"az"],
        [b"REPLCONF", b"run-id"],
    ]
