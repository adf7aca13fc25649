"""Replication: the primary's log and backlog, its view of each replica, and a replica's link.

Offsets are byte offsets of the replication stream, as in Valkey: ``master_repl_offset`` is
how many bytes of RESP commands a node has put into (primary) or applied from (replica) the
stream of its replication history ``replid``. Every write is propagated as the command that
reproduces it; the primary also propagates a ``PING`` every quarter of ``repl-timeout-ms``
(at most once a second) so a replica can tell a silent primary from a dead one.

History ids (Valkey's PSYNC2). A node's history is ``replid``. On promotion a replica keeps
its data and starts a new history: ``replid2`` := old ``replid``, ``second_repl_offset`` :=
its offset + 1, ``replid`` := fresh. A replica (or a demoted primary) asking to continue
``PSYNC id next`` gets a partial resync iff ``next`` is in the backlog and either
``id == replid``, or ``id == replid2`` and ``next <= second_repl_offset`` (it has nothing
the new history lacks). Anything else gets a full resync, which replaces its whole dataset:
that is how an old primary's divergent tail is discarded when it rejoins.

The replica's link, as one table (rows are the only transitions; any error, EOF, or
``repl-timeout-ms`` without a byte from the primary goes back to ``connect`` after 100 ms)::

    state      event                                   next       action
    ---------  --------------------------------------  ---------  ----------------------------
    connect    TCP (TLS: tls-replication) connected    handshake  PING, AUTH, REPLCONF
                                                                  listening-port P, REPLCONF az,
                                                                  REPLCONF run-id
    handshake  every reply +OK / +PONG                 sync       PSYNC replid offset+1
                                                                  (PSYNC ? -1 with no history)
    sync       +FULLRESYNC id off, then $len snapshot  connected  flush dataset, load snapshot,
                                                                  rewrite AOF, offset := off
    sync       +CONTINUE id                            connected  keep dataset (not a MULTI
                                                                  half received before the
                                                                  reconnect); a new id shifts
                                                                  replid to replid2
    connected  stream bytes                            connected  apply in order, then REPLCONF
                                                                  ACK offset (every batch, and
                                                                  every repl-ack-period-ms)
    (any)      REPLICAOF NO ONE                        -          stop; node becomes primary

The primary's view of a replica: ``wait_bgsave`` from PSYNC until its first ACK (it has loaded
the snapshot), then ``online``. A replica silent for ``repl-timeout-ms`` is disconnected, so
a blackholed replica stops counting towards sync durability. The primary holds one
registration per *replica*, not per connection: a replica reconnecting while its old link is
still open at the primary (a link timeout on the replica's side, a proxy that has not passed
the close on) replaces its registration, and the old link is closed. Otherwise one replica
with two links would count twice towards K, WAIT, the lag and ``connected_slaves``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.resp import (
    NEED_DATA,
    ErrorReply,
    ProtocolError,
    ReplyParser,
    RequestParser,
    SimpleString,
    encode_command,
)

if TYPE_CHECKING:
    from harness.server._server import Client, Server

__all__ = ["Backlog", "History", "ReplicaLink", "ReplicaPeer", "new_replid"]

# What replica-skips-writes never drops: the stream's keepalives and transaction brackets,
# and FLUSHALL, which starts the bug's count over (Server.reset_bug_counters).
_NEVER_SKIPPED = frozenset({b"PING", b"MULTI", b"EXEC", b"FLUSHALL"})


def new_replid() -> str:
    return secrets.token_hex(20)


@dataclass
class History:
    """Which replication history this node's data belongs to, and how far."""

    replid: str = field(default_factory=new_replid)
    replid2: str = "0" * 40
    second_offset: int = -1
    offset: int = 0
    """master_repl_offset: bytes of the stream this node has (primary) or applied (replica)."""

    def shift(self) -> None:
        """Start a new history that continues this one (promotion, a new primary's id)."""
        self.replid2 = self.replid
        self.second_offset = self.offset + 1
        self.replid = new_replid()


class Backlog:
    """The last ``size`` bytes of the stream, so a reconnecting replica can catch up."""

    __slots__ = ("_buf", "aligned", "end", "size", "start")

    def __init__(self, size: int, offset: int) -> None:
        self._buf = bytearray()
        self.size = size
        self.start = offset
        """Offset of the byte before the first one held (the buffer holds start+1 .. end)."""
        self.end = offset
        self.aligned = True
        """The buffer starts at a command boundary (it has never been trimmed)."""

    def append(self, data: bytes) -> None:
        self._buf += data
        self.end += len(data)
        excess = len(self._buf) - self.size
        if excess > self.size // 2 or (excess > 0 and len(self._buf) > 2 * self.size):
            del self._buf[:excess]
            self.start += excess
            self.aligned = False

    def reset(self, offset: int) -> None:
        self._buf = bytearray()
        self.start = self.end = offset
        self.aligned = True

    def from_boundary(self, next_offset: int) -> bytes | None:
        """Bytes from the first command boundary at or after ``next_offset`` (used only by
        the rejoin-keeps-divergent-writes bug, which resumes at an offset of another
        history), or None if the boundaries are unknown."""
        if not self.aligned or next_offset > self.end + 1:
            return None
        parser = RequestParser(max_bulk_len=2**40)
        parser.feed(bytes(self._buf))
        position = 0
        while position < next_offset - 1 - self.start:
            argv = parser.next_command()
            if argv is None:
                return None
            position += len(encode_command(*argv))
        return bytes(self._buf[position:])

    def since(self, next_offset: int) -> bytes | None:
        """Bytes from ``next_offset`` (1-based, as in PSYNC) to the end, or None if the
        backlog does not reach back that far (or that offset is in the future)."""
        if not self.start + 1 <= next_offset <= self.end + 1:
            return None
        return bytes(self._buf[next_offset - 1 - self.start :])

    @property
    def histlen(self) -> int:
        return self.end - self.start


@dataclass(eq=False)
class ReplicaPeer:
    """A replica attached to this primary, as the primary sees it.

    One per replica, not per connection: a replica is identified by the run id it announced
    (``REPLCONF run-id``) and by its endpoint, the address it connected from (or announced
    with ``REPLCONF ip-address``) and the port it announced (``REPLCONF listening-port``).
    A new handshake matching a registered replica on either replaces that registration
    (see ``Server.attach_replica``), so one replica can never count twice.
    """

    client: Client
    ip: str
    port: int
    az: str
    run_id: str = ""
    state: str = "wait_bgsave"
    ack_offset: int = 0
    sync_offset: int = 0
    last_ack: float = field(default_factory=time.monotonic)
    registered: bool = False
    """In the primary's replica table; a replaced or dropped link's ACKs are ignored."""

    @property
    def online(self) -> bool:
        return self.state == "online"

    def same_replica(self, other: ReplicaPeer) -> bool:
        """Whether ``other`` is this replica (same run id, or same announced endpoint)."""
        if self.run_id and self.run_id == other.run_id:
            return True
        return self.port != 0 and (self.ip, self.port) == (other.ip, other.port)


class ReplicaLink:
    """A replica's connection to its primary (see the table at the top of this module)."""

    def __init__(self, server: Server, host: str, port: int) -> None:
        self.server = server
        self.host = host
        self.port = port
        self.state = "connect"
        self.read_offset = server.history.offset
        """Bytes of the stream received (slave_read_repl_offset); >= applied offset."""
        self.last_io = time.monotonic()
        self.sync_in_progress = False
        self._writer: asyncio.StreamWriter | None = None
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._ack_task = asyncio.get_running_loop().create_task(self._ack_loop())
        # Seeded-bug state: entries received but not applied yet, with their end offsets.
        self._held: deque[tuple[list[bytes], bytes, float]] = deque()
        self._held_timer: asyncio.TimerHandle | None = None
        self._in_multi = False
        # Set by stop(). Cancelling the task is not enough on its own: asyncio.wait_for can
        # swallow a cancellation that races with the awaited read completing, and a link
        # that lives on after a promotion would resync the new primary from its old
        # upstream, or apply the stream twice next to its successor. So every step of the
        # link checks this flag after each await.
        self._stopped = False
        self._tls_context: ssl.SSLContext | None = None

    def _check_stopped(self) -> None:
        if self._stopped:
            raise asyncio.CancelledError

    @property
    def link_up(self) -> bool:
        return self.state == "connected"

    def stop(self) -> None:
        """Stop the link (promotion or a new REPLICAOF); held-back entries are dropped."""
        self._stopped = True
        self._task.cancel()
        self._ack_task.cancel()
        self._drop_held()
        if self._writer is not None:
            self._writer.close()
        self.state = "connect"

    def _drop_held(self) -> None:
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None
        self._held.clear()

    def reported_offset(self) -> int:
        """The offset INFO replication and ROLE report: what this replica applied."""
        if self.server.bug("offset-overreported"):
            return self.read_offset
        return self.server.history.offset

    def acked_offset(self) -> int:
        """The offset this replica acknowledges to its primary: what it applied — or, with
        the replica-acks-before-apply bug, what it merely received."""
        if self.server.bug("replica-acks-before-apply"):
            return self.read_offset
        return self.reported_offset()

    # -- the link -------------------------------------------------------------------------

    async def _run(self) -> None:
        srv = self.server
        while not self._stopped:
            self.state = "connect"
            writer: asyncio.StreamWriter | None = None
            try:
                timeout = srv.config.repl_timeout_ms / 1000
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port, ssl=self._tls()), timeout
                )
                self._check_stopped()
                self._writer = writer
                assert writer is not None
                self.state = "handshake"
                parser = ReplyParser(max_bulk_len=2**40)
                await self._handshake(reader, writer, parser)
                self.state = "connected"
                srv.log("notice", "MASTER <-> REPLICA sync: link up, streaming commands")
                await self._stream(reader, writer, parser)
            except asyncio.CancelledError:
                if writer is not None:
                    writer.close()
                raise
            except (OSError, TimeoutError, ProtocolError, _LinkError) as exc:
                srv.log("notice", f"Replication link to {self.host}:{self.port} down: {exc}")
            except Exception as exc:  # a bad stream must not kill the link for good
                srv.log("warning", f"Replication link error: {exc!r}; reconnecting")
            finally:
                self.sync_in_progress = False
                if writer is not None:
                    writer.close()
                self._writer = None
                self.state = "connect"
            await asyncio.sleep(0.1)

    def _tls(self) -> ssl.SSLContext | None:
        """The TLS context for the link (``tls-replication yes``), made once per link."""
        if not self.server.config.tls_replication:
            return None
        if self._tls_context is None:
            from harness.server._tls import replica_context

            self._tls_context = replica_context(self.server.config)
        return self._tls_context

    async def _reply(
        self, reader: asyncio.StreamReader, parser: ReplyParser, timeout: float
    ) -> object:
        while True:
            reply = parser.next_reply()
            if reply is not NEED_DATA:
                return reply
            data = await asyncio.wait_for(reader.read(1 << 20), timeout)
            self._check_stopped()
            if not data:
                raise _LinkError("the primary closed the connection")
            self.last_io = time.monotonic()
            parser.feed(data)

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: ReplyParser
    ) -> None:
        srv = self.server
        timeout = srv.config.repl_timeout_ms / 1000
        steps: list[tuple[bytes | str | int, ...]] = [(b"PING",)]
        if srv.config.masterauth:
            steps.append((b"AUTH", srv.config.masterauth))
        # Like Valkey: a replica that replicates over TLS announces its TLS port.
        cfg = srv.config
        port = cfg.tls_port if cfg.tls_replication and cfg.tls_port else cfg.port
        steps.append((b"REPLCONF", b"listening-port", port))
        steps.append((b"REPLCONF", b"az", srv.config.az))
        steps.append((b"REPLCONF", b"run-id", srv.run_id))
        for step in steps:
            writer.write(encode_command(*step))
            reply = await self._reply(reader, parser, timeout)
            if step[1:2] == (b"run-id",) and isinstance(reply, ErrorReply):
                continue  # a primary that does not know run ids identifies us by endpoint
            if step[0] == b"PING" and isinstance(reply, ErrorReply) and reply.prefix == "NOAUTH":
                continue  # as in Valkey: a primary with a password answers PING with NOAUTH
            if isinstance(reply, ErrorReply) or not isinstance(reply, bytes):
                raise _LinkError(f"{step[0]!r} got {reply!r} from the primary")
        # PSYNC asks for the stream from the first byte not applied yet: whatever was
        # received but not applied (half of a MULTI..EXEC block, held-back entries) comes
        # again, so it is dropped here, or it would be applied twice.
        srv.discard_unapplied()
        self._drop_held()
        history = srv.history
        if srv.has_history:
            writer.write(encode_command(b"PSYNC", history.replid, history.offset + 1))
        else:
            writer.write(encode_command(b"PSYNC", b"?", b"-1"))
        self.state = "sync"
        self.sync_in_progress = True
        reply = await self._reply(reader, parser, timeout)
        if isinstance(reply, ErrorReply):
            raise _LinkError(f"PSYNC refused: {reply.message}")
        if not isinstance(reply, SimpleString):
            raise _LinkError(f"PSYNC got {reply!r}")
        words = bytes(reply).split()
        if words[0] == b"FULLRESYNC" and len(words) == 3:
            snapshot = await self._reply(reader, parser, max(timeout, 30.0))
            self._check_stopped()
            if not isinstance(snapshot, bytes):
                raise _LinkError("the full-sync snapshot is not a bulk string")
            srv.load_snapshot(snapshot, words[1].decode(), int(words[2]))
            self.read_offset = srv.history.offset
            srv.log("notice", f"MASTER <-> REPLICA sync: full resync from offset {int(words[2])}")
        elif words[0] == b"CONTINUE":
            new_id = words[1].decode() if len(words) > 1 else history.replid
            if new_id != history.replid:
                history.shift()
                history.replid = new_id
            self.read_offset = history.offset
            srv.has_history = True
            srv.log("notice", f"MASTER <-> REPLICA sync: partial resync at {history.offset}")
        else:
            raise _LinkError(f"PSYNC got {reply!r}")
        self.sync_in_progress = False
        self._send_ack(writer)

    async def _stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: ReplyParser
    ) -> None:
        srv = self.server
        stream = RequestParser(max_bulk_len=2**40)
        rest = parser.take_buffer()
        if rest:
            stream.feed(rest)
            self._apply(stream)
            self._send_ack(writer)
        while True:
            data = await asyncio.wait_for(reader.read(1 << 20), srv.config.repl_timeout_ms / 1000)
            self._check_stopped()
            if not data:
                raise _LinkError("the primary closed the connection")
            self.last_io = time.monotonic()
            stream.feed(data)
            self._apply(stream)
            srv.flush_aof()
            self._send_ack(writer)

    def _apply(self, stream: RequestParser) -> None:
        srv = self.server
        while (argv := stream.next_command()) is not None:
            encoded = encode_command(*argv)
            self.read_offset += len(encoded)
            name = argv[0].upper()
            if srv.bug("replica-skips-writes") and name not in _NEVER_SKIPPED:
                srv.bug_replicated += 1
                if srv.bug_replicated % 7 == 0:
                    srv.apply_from_primary(argv, encoded, apply=False)
                    continue
            if srv.bug("replica-acks-before-apply"):
                self._held.append((argv, encoded, time.monotonic() + 0.3))
                self._schedule_held()
            elif srv.bug("offset-overreported"):
                self._held.append((argv, encoded, 0.0))
                writes_held = sum(1 for a, _, _ in self._held if a[0].upper() != b"PING")
                while self._held and writes_held > 2:
                    held_argv, held_encoded, _ = self._held.popleft()
                    if held_argv[0].upper() != b"PING":
                        writes_held -= 1
                    srv.apply_from_primary(held_argv, held_encoded)
            else:
                srv.apply_from_primary(argv, encoded)

    def _schedule_held(self) -> None:
        if self._held_timer is not None or not self._held:
            return
        delay = max(0.0, self._held[0][2] - time.monotonic())
        self._held_timer = asyncio.get_running_loop().call_later(delay, self._release_held)

    def _release_held(self) -> None:
        self._held_timer = None
        now = time.monotonic()
        while self._held and self._held[0][2] <= now:
            argv, encoded, _ = self._held.popleft()
            self.server.apply_from_primary(argv, encoded)
        self.server.flush_aof()
        self._schedule_held()

    def _send_ack(self, writer: asyncio.StreamWriter) -> None:
        if not writer.is_closing():
            writer.write(encode_command(b"REPLCONF", b"ACK", self.acked_offset()))

    async def _ack_loop(self) -> None:
        while not self._stopped:
            await asyncio.sleep(self.server.config.repl_ack_period_ms / 1000)
            writer = self._writer
            if writer is not None and self.state == "connected":
                with contextlib.suppress(OSError, RuntimeError):
                    self._send_ack(writer)


class _LinkError(Exception):
    pass
