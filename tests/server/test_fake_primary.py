"""A replica of a primary played by hand, so that the stream can be cut at an exact byte.

The fake primary answers the handshake, then does what each test scripts per link; the
replica under test is the real server, started with ``--replicaof``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from _resp_peer import received_commands

from harness.resp import encode_command

from .conftest import ServerFactory, poll

REPLID = "a" * 40
Script = Callable[[socket.socket, list[bytes]], None]


class FakePrimary:
    """Accepts replica links one after another; link ``n`` runs ``scripts[n]`` after PSYNC
    (given the socket and the PSYNC arguments), then collects the ACKed offsets."""

    def __init__(self, scripts: list[Script]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.scripts = scripts
        self.acks: list[list[int]] = [[] for _ in scripts]
        self.psyncs: list[list[bytes]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for n, script in enumerate(self.scripts):
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self._link(n, conn, script)

    def _link(self, n: int, conn: socket.socket, script: Script) -> None:
        conn.settimeout(10)
        scripted = False
        for argv in received_commands(conn):
            name = argv[0].upper()
            if name == b"PING":
                conn.sendall(b"+PONG\r\n")
            elif name == b"REPLCONF" and argv[1].lower() == b"ack":
                self.acks[n].append(int(argv[2]))
            elif name == b"REPLCONF":
                conn.sendall(b"+OK\r\n")
            elif name == b"PSYNC" and not scripted:
                scripted = True
                self.psyncs.append(argv)
                script(conn, argv)
                if conn.fileno() < 0:
                    return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def fake_primary() -> Iterator[Callable[[list[Script]], FakePrimary]]:
    made: list[FakePrimary] = []

    def make(scripts: list[Script]) -> FakePrimary:
        primary = FakePrimary(scripts)
        made.append(primary)
        return primary

    yield make
    for primary in made:
        primary.close()


BLOCK = [[b"MULTI"], [b"RPUSH", b"l", b"x"], [b"RPUSH", b"l", b"y"], [b"EXEC"]]
BLOCK_BYTES = b"".join(encode_command(*argv) for argv in BLOCK)


def test_half_a_transaction_before_a_reconnect_is_not_applied_twice(
    start_server: ServerFactory, fake_primary: Callable[[list[Script]], FakePrimary]
) -> None:
    def first(conn: socket.socket, psync: list[bytes]) -> None:
        # an empty full sync, then MULTI and one write of the block, then the link drops
        conn.sendall(b"+FULLRESYNC %s 0\r\n$0\r\n\r\n" % REPLID.encode())
        conn.sendall(encode_command(*BLOCK[0]) + encode_command(*BLOCK[1]))
        conn.close()

    def second(conn: socket.socket, psync: list[bytes]) -> None:
        # the replica applied nothing, so it asks from offset 1, and gets the whole block
        conn.sendall(b"+CONTINUE %s\r\n" % REPLID.encode() + BLOCK_BYTES)

    primary = fake_primary([first, second])
    replica = start_server("--replicaof", "127.0.0.1", str(primary.port))
    poll(
        lambda: max(primary.acks[1], default=0) >= len(BLOCK_BYTES),
        "the replica to acknowledge the block",
    )
    assert primary.psyncs[1] == [b"PSYNC", REPLID.encode(), b"1"]
    assert max(primary.acks[1]) == len(BLOCK_BYTES)
    c = replica.conn()
    assert c("LRANGE", "l", "0", "-1") == [b"x", b"y"]
    assert replica.info("replication")["slave_repl_offset"] == str(len(BLOCK_BYTES))
