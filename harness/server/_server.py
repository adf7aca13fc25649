"""The server: one asyncio loop around the sans-IO codec.

Each connection is a :class:`Client` (an ``asyncio.Protocol``): received bytes go into its
request parser; complete commands run synchronously, in order, through
:meth:`Server.execute`; their replies are joined and written once per read. A client whose
reply is held (sync durability, WAIT) is *blocked*: it stops executing until the reply is
released, so replies stay in order and a held client holds up nobody else. It goes on reading
(up to ``_BLOCKED_BUFFER`` bytes, then it stops reading until released), so that a blocked
client that disconnects is seen and freed at once, as in Valkey.

Before any reply leaves, the AOF is flushed (and fsynced under ``appendfsync always``) and
the replication stream produced so far is written to every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import secrets
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from ssl import SSLContext
from typing import Final, cast

from harness.resp import (
    OK,
    QUEUED,
    HiredisRequestParser,
    ProtocolError,
    RequestParser,
    encode_command,
    error,
    null,
    request_parser,
)
from harness.server import _admin  # noqa: F401 - registers the server commands
from harness.server._aof import AppendOnlyFile, read_commands
from harness.server._commands import COMMANDS, E_WRONGTYPE, Command, wrong_arity
from harness.server._config import ServerConfig
from harness.server._durability import Durability
from harness.server._keyspace import Keyspace, Value
from harness.server._replication import Backlog, History, ReplicaLink, ReplicaPeer

__all__ = ["VERSION", "Client", "Server", "StartError"]

VERSION: Final = "7.2.4"
"""What INFO and HELLO report as redis_version, for clients that parse it."""

E_NOAUTH: Final = error("NOAUTH Authentication required.")
_PING: Final = encode_command(b"PING")
# phantom-value: every how many reads of an existing key one returns a value nobody wrote
# (counted from the last flush, so few enough that one example reaches it).
_PHANTOM_EVERY: Final = 5
E_READONLY: Final = error("READONLY You can't write against a read only replica.")
E_EXECABORT: Final = error("EXECABORT Transaction discarded because of previous errors.")
E_DENIED: Final = error(
    "DENIED ackbound server is in protected mode: no password is set and the connection "
    "comes from a non-loopback address. Set a password (--requirepass or "
    "ACKBOUND_SERVER_PASSWORD), connect from 127.0.0.1, or start with --protected-mode no."
)
_LEVELS: Final = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3, "nothing": 4}
_MARKS: Final = {"debug": ".", "verbose": "-", "notice": "*", "warning": "#"}


class Client(asyncio.Protocol):
    """One connection."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.id = server.next_client_id()
        self.name = b""
        self.protocol = 2
        self.authenticated = not server.config.requirepass
        self.parser: RequestParser | HiredisRequestParser = request_parser(
            max_bulk_len=server.config.proto_max_bulk_len,
            authenticated=self.authenticated,
            use_hiredis=server.use_hiredis,
        )
        self.transport: asyncio.Transport | None = None
        self.addr = ("?", 0)
        self.multi: list[tuple[Command, list[bytes]]] | None = None
        self.multi_error = False
        self.blocked = False
        self.paused = False
        self.closing = False
        self.woff = 0
        self.peer: ReplicaPeer | None = None
        self.listening_port = 0
        self.replica_az = ""
        self.replica_ip = ""
        self.replica_run_id = ""
        self.created = time.monotonic()
        self.last_command = b""

    # -- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        assert self.transport is not None
        peer = transport.get_extra_info("peername")
        if peer:
            self.addr = (str(peer[0]), int(peer[1]))
        srv = self.server
        if srv.config.protected_mode and not srv.config.requirepass and not _loopback(self.addr[0]):
            self.transport.write(E_DENIED)
            self.transport.close()
            self.closing = True
            return
        srv.clients[self.id] = self

    def connection_lost(self, exc: Exception | None) -> None:
        srv = self.server
        srv.clients.pop(self.id, None)
        srv.durability.on_client_gone(self)
        if self.peer is not None:
            srv.drop_replica(self.peer, "connection lost")
        self.closing = True

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.parser.feed(data)
        if not self.blocked:
            self.process()
        elif self.parser.buffered > _BLOCKED_BUFFER and self.transport is not None:
            self.transport.pause_reading()  # until unblock(): bounded input, backpressure

    def pause_writing(self) -> None:
        self.paused = True
        if self.transport is not None and self.peer is None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.blocked and not self.closing:
            self.transport.resume_reading()
            self.process()

    # -- running commands -------------------------------------------------------------------

    def process(self) -> None:
        """Run every complete command received, then write their replies at once.

        The hot loop. ``GET key`` and ``SET key value`` take a fast path when
        :meth:`Server.fast_paths` allows it; it does exactly what :meth:`Server.execute`,
        ``cmd_get`` and ``cmd_set`` do in that case, minus the layers that cannot apply
        (lookup, arity, authentication, MULTI, role, bugs, expiry, durability in ``none``).
        Anything else, and anything that may change what the fast path assumes, goes
        through :meth:`Server.execute`, after which the permissions are recomputed.
        """
        srv = self.server
        next_command = self.parser.next_command
        out: list[bytes] = []
        append = out.append
        extend = out.extend
        set_mode, get_ok, null_reply = srv.fast_paths(self)
        data = srv.keyspace.data
        expires = srv.keyspace.expires
        stream_extend = srv._stream.extend
        monotonic = time.monotonic
        unacked = srv.durability.unacked
        lag_bound = srv.config.lag_limit_ms + 1  # async admits while the lag is below this
        reads = writes = grown = 0  # fast commands run, and stream bytes not counted yet
        last = b""
        try:
            while not (self.blocked or self.closing or self.paused):
                argv = next_command()
                if argv is None:
                    break
                n = len(argv)
                if (
                    n == 3
                    and set_mode
                    and argv[0] in _SET
                    and (
                        set_mode == _NONE
                        # async: Durability.admit's test (no bug is on here); a write it
                        # would reject goes through execute, which rejects and counts it
                        or (oldest := unacked[0][1] if unacked else srv.pending_write_time) is None
                        or (monotonic() - oldest) * 1000 < lag_bound
                    )
                ):
                    _, key, value = argv
                    data[key] = value
                    if expires:
                        expires.pop(key, None)
                    size_k = len(key)
                    size_v = len(value)
                    if size_k < _SMALL and size_v < _SMALL:
                        # the stream gets `*3 $3 SET $k key $v value` as pieces, joined at flush
                        stream_extend((_SET_HEAD, _BULK[size_k], key, _BULK[size_v], value, _CRLF))
                        grown += _SET_SIZE + _BULK_SIZE[size_k] + _BULK_SIZE[size_v]
                    else:
                        encoded = encode_command(b"SET", key, value)
                        stream_extend((encoded,))
                        grown += len(encoded)
                    if srv.pending_write_time is None:
                        srv.pending_write_time = monotonic()
                    writes += 1
                    append(OK)
                    last = b"set"
                    continue
                if n == 2 and get_ok and argv[0] in _GET:
                    found = data.get(argv[1])
                    if found is None:
                        append(null_reply)
                    elif type(found) is bytes:
                        size = len(found)
                        if size < _SMALL:
                            extend((_HEAD[size], found, _CRLF))
                        else:
                            append(b"$%d\r\n%s\r\n" % (size, found))
                    else:
                        append(E_WRONGTYPE)
                    reads += 1
                    last = b"get"
                    continue
                if grown:  # what the general path may read: the offset, WAIT's woff
                    srv.history.offset += grown
                    self.woff = srv.history.offset
                    grown = 0
                try:
                    reply = srv.execute(self, argv)
                except Exception as exc:  # a bug: an error reply, never a dropped connection
                    reply = srv.command_crashed(argv, exc)
                if reply is not None:
                    append(reply)
                last = b""
                set_mode, get_ok, null_reply = srv.fast_paths(self)
                data = srv.keyspace.data
                expires = srv.keyspace.expires
                unacked = srv.durability.unacked  # a promotion replaces it
                lag_bound = srv.config.lag_limit_ms + 1
        except ProtocolError as exc:
            append(error(f"ERR {exc}"))
            self.closing = True
        except Exception as exc:  # a parser bug: its position is unknown, so close after
            append(srv.command_crashed([b"(request parser)"], exc))
            self.closing = True
        if grown:
            srv.history.offset += grown
            self.woff = srv.history.offset
        if last:
            self.last_command = last
        srv.stats_commands += reads + writes
        srv.stats_writes += writes
        srv.before_reply()
        transport = self.transport
        if transport is None:
            return
        if out:
            transport.write(b"".join(out) if len(out) > 1 else out[0])
        if self.closing:
            transport.close()

    def block(self) -> None:
        self.blocked = True

    def unblock(self, reply: bytes) -> None:
        self.blocked = False
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.server.before_reply()
        transport.write(reply)
        transport.resume_reading()
        asyncio.get_running_loop().call_soon(self.process)

    def close_after_reply(self) -> None:
        self.closing = True


_BLOCKED_BUFFER: Final = 1 << 20
"""Input a blocked client may send before it is no longer read (see the module docstring)."""
# Encoded pieces the fast path puts together (list.extend, one join per batch: much cheaper
# than formatting bytes per command), for values shorter than _SMALL bytes.
_SMALL: Final = 10000
_HEAD: Final = [b"$%d\r\n" % size for size in range(_SMALL)]
"""A bulk's header, by size."""
_BULK: Final = [b"\r\n$%d\r\n" % size for size in range(_SMALL)]
"""What ends the previous bulk and heads the next one, by size."""
_BULK_SIZE: Final = [len(head) + size for size, head in enumerate(_BULK)]
_SET_HEAD: Final = b"*3\r\n$3\r\nSET"
_CRLF: Final = b"\r\n"
_SET_SIZE: Final = len(_SET_HEAD) + len(_CRLF)
_SET: Final = frozenset([b"SET", b"set"])
_GET: Final = frozenset([b"GET", b"get"])
_NONE: Final = 1
_ASYNC: Final = 2
_SET_MODES: Final = {"none": _NONE, "async": _ASYNC}
_NULL: Final = null(2)
_NULL_RESP3: Final = null(3)


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host in ("localhost", "")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class StartError(Exception):
    """The server cannot start as configured (its files, its listeners); the message names
    what to fix."""


class Server:
    """A node: primary or replica, with its dataset, replication state and durability."""

    def __init__(self, config: ServerConfig, *, use_hiredis: bool | None = None) -> None:
        self.config = config
        self.use_hiredis = use_hiredis
        self.run_id = secrets.token_hex(20)
        """This process's identity (INFO server ``run_id``); a replica announces it."""
        self.keyspace = Keyspace()
        self.clients: dict[int, Client] = {}
        self._client_ids = 0
        self.history = History()
        self.has_history = config.replicaof is None
        self.backlog = Backlog(config.repl_backlog_size, 0)
        self.role = "master"
        self.replicas: list[ReplicaPeer] = []
        self.link: ReplicaLink | None = None
        self.durability = Durability(self)
        self.aof: AppendOnlyFile | None = None
        self.replaying = False
        self._tx: list[list[bytes]] | None = None
        self._replica_tx: list[tuple[list[bytes], bytes, bool]] | None = None
        self._stream: list[bytes] = []
        """Stream bytes of the current batch, not yet in the backlog, AOF and replicas."""
        self.pending_write_time: float | None = None
        """When the first write of the current batch was applied (None: no write yet)."""
        self._last_ping = time.monotonic()
        self.started = time.time()
        self.started_mono = time.monotonic()
        self.stats_commands = 0
        self.stats_connections = 0
        self.stats_writes = 0
        self._phantom_reads = 0  # phantom-value's count of reads
        self._bug_writes = 0  # forgets-acked-writes' count of writes
        self.bug_replicated = 0  # replica-skips-writes' count of replicated writes
        self._servers: list[asyncio.AbstractServer] = []
        self._cron: asyncio.Task[None] | None = None
        try:
            self._log_file = open(config.logfile, "a") if config.logfile else sys.stdout  # noqa: SIM115
        except OSError as exc:
            raise StartError(
                f"cannot write --logfile {config.logfile} ({exc.strerror or exc}); give a "
                "writable file"
            ) from None

    # -- small helpers -----------------------------------------------------------------------

    def bug(self, name: str) -> bool:
        return name in self.config.bugs

    def next_client_id(self) -> int:
        self._client_ids += 1
        self.stats_connections += 1
        return self._client_ids

    def log(self, level: str, message: str) -> None:
        if _LEVELS[level] < _LEVELS[self.config.loglevel]:
            return
        stamp = datetime.now().strftime("%d %b %Y %H:%M:%S.%f")[:-3]
        role = "M" if self.role == "master" else "S"
        print(f"{os.getpid()}:{role} {stamp} {_MARKS[level]} {message}", file=self._log_file)
        self._log_file.flush()

    def reset_bug_counters(self) -> None:
        """Start the seeded bugs' counts over, when the data is emptied: an example that
        begins with a flush then meets a bug at the same point however many examples ran
        before it, as its replay on a new cluster does."""
        self._phantom_reads = 0
        self._bug_writes = 0
        self.bug_replicated = 0

    def maybe_phantom(self, value: bytes) -> bytes:
        """phantom-value: every 5th read of an existing key returns an unwritten value."""
        if not self.bug("phantom-value"):
            return value
        self._phantom_reads += 1
        if self._phantom_reads % _PHANTOM_EVERY:
            return value
        return b"ackbound-phantom-%d" % self._phantom_reads

    def maybe_phantom_members(self, items: list[bytes]) -> list[bytes]:
        if not self.bug("phantom-value") or not items:
            return items
        self._phantom_reads += 1
        if self._phantom_reads % _PHANTOM_EVERY:
            return items
        return [*items, b"ackbound-phantom-%d" % self._phantom_reads]

    # -- executing ---------------------------------------------------------------------------

    def fast_paths(self, c: Client) -> tuple[int, bool, bytes]:
        """What :meth:`Client.process` may run without :meth:`execute` for ``c`` now:
        SET (0: no, ``_NONE``, or ``_ASYNC``: while the lag is within the limit), whether GET
        may, and the null reply of ``c``'s protocol. No fast path with a seeded bug on, or
        for a replica's link, an unauthenticated client or one inside MULTI; GET only
        while no key has a TTL (expiry is lazy and lives in the keyspace); SET only on a
        primary in ``none`` or ``async`` (sync holds replies).
        """
        if self.config.bugs or c.peer is not None or c.multi is not None or not c.authenticated:
            return 0, False, b""
        set_mode = _SET_MODES.get(self.config.durability, 0) if self.role == "master" else 0
        return set_mode, not self.keyspace.expires, _NULL_RESP3 if c.protocol == 3 else _NULL

    def execute(self, c: Client, argv: list[bytes]) -> bytes | None:
        self.stats_commands += 1
        name = argv[0].upper()
        if c.peer is not None:
            # A replica's connection carries only REPLCONF ACK after PSYNC; nothing is replied.
            if name == b"REPLCONF" and len(argv) >= 3 and argv[1].upper() == b"ACK":
                self.on_replica_ack(c.peer, argv[2])
            return None
        cmd = COMMANDS.get(name)
        if not c.authenticated and (cmd is None or not cmd.noauth):
            return E_NOAUTH  # before anything else, as Valkey: names and arities stay hidden
        if cmd is None:
            if c.multi is not None:
                c.multi_error = True
            return _unknown_command(argv)
        if not cmd.takes(len(argv)):
            if cmd.name == b"exec":  # as Valkey: the transaction is dropped, named EXECABORT
                c.multi = None
                c.multi_error = False
                return error(
                    "EXECABORT Transaction discarded because of: wrong number of arguments for "
                    "'exec' command"
                )
            if c.multi is not None:
                c.multi_error = True
            return wrong_arity(cmd.name)
        c.last_command = cmd.name
        if c.multi is not None and cmd.deny_multi:
            c.multi_error = True
            return error(f"ERR Command '{cmd.name.decode()}' not allowed inside a transaction")
        if c.multi is not None and not cmd.no_multi:
            c.multi.append((cmd, argv))
            return QUEUED
        if cmd.write:
            return self.execute_write(c, cmd, argv)
        reply = cmd.handler(self, c, argv)
        if self.keyspace.on_expire:
            self._propagate_expired()
        return reply

    def command_crashed(self, argv: list[bytes], exc: Exception) -> bytes:
        """The reply to a command whose handler raised (a bug of this server): logged with
        its traceback, answered with one error line, the connection kept."""
        name = argv[0][:64].decode(errors="replace").lower()
        self.log(
            "warning",
            f"Command '{name}' raised:\n" + "".join(traceback.format_exception(exc)).rstrip(),
        )
        what = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        return error(
            f"ERR command '{name}' failed inside the ackbound server ({what}); this is a "
            "server bug: report it with the server log, which has the traceback"
        )

    @property
    def in_transaction(self) -> bool:
        """EXEC is running queued commands (which must not block, as in Valkey)."""
        return self._tx is not None

    def execute_write(self, c: Client, cmd: Command, argv: list[bytes]) -> bytes | None:
        if self.role != "master":
            return E_READONLY
        rejection = self.durability.admit()
        if rejection is not None:
            if self.bug("rejected-write-applied"):
                cmd.handler(self, c, argv)
            return rejection
        self.stats_writes += 1
        self._bug_writes += 1
        if self.bug("forgets-acked-writes") and self._bug_writes % 11 == 0:
            return self._forget(c, cmd, argv)
        reply = cmd.handler(self, c, argv)
        if reply is None:
            return None
        if self.keyspace.on_expire:
            self._propagate_expired()
        c.woff = self.history.offset
        return self.durability.after_write(c, reply)

    def _forget(self, c: Client, cmd: Command, argv: list[bytes]) -> bytes | None:
        """forgets-acked-writes: run the command for its reply, then undo it unreplicated."""
        ks = self.keyspace
        keys = cmd.keys(argv) if cmd.name not in (b"flushall", b"flushdb") else list(ks.data)
        saved = {k: _copy(ks.data[k]) for k in keys if k in ks.data}
        saved_exp = {k: ks.expires[k] for k in keys if k in ks.expires}
        self.replaying = True
        try:
            reply = cmd.handler(self, c, argv)
        finally:
            self.replaying = False
        for key in keys:
            ks.data.pop(key, None)
            ks.expires.pop(key, None)
        ks.data.update(saved)
        ks.expires.update(saved_exp)
        return reply

    def run_transaction(self, c: Client, queued: list[tuple[Command, list[bytes]]]) -> bytes | None:
        has_write = any(cmd.write for cmd, _ in queued)
        if has_write:
            if self.role != "master":
                return E_READONLY
            rejection = self.durability.admit()
            if rejection is not None:
                if self.bug("rejected-write-applied"):
                    self._run_queued(c, queued)
                return rejection
        replies = self._run_queued(c, queued)
        reply = b"*%d\r\n" % len(replies) + b"".join(replies)
        if not has_write:
            return reply
        self.stats_writes += 1
        c.woff = self.history.offset
        return self.durability.after_write(c, reply)

    def _run_queued(self, c: Client, queued: list[tuple[Command, list[bytes]]]) -> list[bytes]:
        self._tx = []
        try:
            replies = [cmd.handler(self, c, argv) or b"" for cmd, argv in queued]
            if self.keyspace.on_expire:
                self._propagate_expired()
        finally:
            tx, self._tx = self._tx, None
        if tx:
            self.propagate([b"MULTI"])
            for argv in tx:
                self.propagate(argv)
            self.propagate([b"EXEC"])
        return replies

    # -- replication stream ------------------------------------------------------------------

    def propagate(self, argv: list[bytes]) -> None:
        """Record a write: into the replication stream, the backlog and the AOF."""
        if self.replaying:
            return
        if self._tx is not None:
            self._tx.append(argv)
            return
        self.stream_write(encode_command(*argv))

    def stream_write(self, data: bytes) -> None:
        """Append one encoded write to the stream. Its offset counts now; the bytes reach
        the backlog, the AOF, the replicas and the lag table at :meth:`flush_stream`, once
        per batch (before any reply of the batch leaves)."""
        self._stream.append(data)
        self.history.offset += len(data)
        if self.pending_write_time is None:
            self.pending_write_time = time.monotonic()

    def _propagate_expired(self) -> None:
        keys, self.keyspace.on_expire = self.keyspace.on_expire, []
        for key in keys:
            self.propagate([b"DEL", key])

    def _emit_ping(self) -> None:
        data = _PING
        self._stream.append(data)
        self.history.offset += len(data)
        self.flush_stream()

    def flush_stream(self) -> None:
        """Hand the stream written since the last flush to the backlog, the AOF buffer and
        the replicas, and note its writes in the lag table. The batch's writes share one
        entry: its end offset, and the time its *first* write was applied (so the lag is
        never understated)."""
        stream = self._stream
        if not stream:
            return
        data = stream[0] if len(stream) == 1 else b"".join(stream)
        stream.clear()
        self.backlog.append(data)
        if self.aof is not None:
            self.aof.append(data)
        for peer in self.replicas:
            transport = peer.client.transport
            if transport is not None and not transport.is_closing():
                transport.write(data)
        if self.pending_write_time is not None:
            self.durability.note_write(self.history.offset, self.pending_write_time)
            self.pending_write_time = None

    def flush_aof(self) -> None:
        if self.aof is not None:
            self.aof.flush()

    def before_reply(self) -> None:
        if self._stream:
            self.flush_stream()
        if self.aof is not None:
            self.aof.flush()

    def apply_from_primary(self, argv: list[bytes], encoded: bytes, apply: bool = True) -> None:
        """A replica applies one command of its primary's stream (MULTI..EXEC as a unit)."""
        name = argv[0].upper()
        if self._replica_tx is not None:
            self._replica_tx.append((argv, encoded, apply))
            if name != b"EXEC":
                return
            block, self._replica_tx = self._replica_tx, None
            for item_argv, item_encoded, item_apply in block:
                self._apply_one(item_argv, item_encoded, item_apply)
            return
        if name == b"MULTI":
            self._replica_tx = [(argv, encoded, apply)]
            return
        self._apply_one(argv, encoded, apply)

    def discard_unapplied(self) -> None:
        """Forget a MULTI..EXEC block received from the primary but not applied (its EXEC
        has not arrived): the link to the primary was lost, and the next sync sends the
        block again, whole, from its MULTI."""
        self._replica_tx = None

    def _apply_one(self, argv: list[bytes], encoded: bytes, apply: bool) -> None:
        self.backlog.append(encoded)
        self.history.offset += len(encoded)
        name = argv[0].upper()
        if name in (b"PING", b"MULTI", b"EXEC", b"REPLCONF", b"SELECT"):
            return
        self.durability.note_replicated(self.history.offset, time.monotonic())
        if apply:
            cmd = COMMANDS.get(name)
            if cmd is not None:
                self.replaying = True
                try:
                    reply = cmd.handler(self, _REPLICATION_CLIENT, argv)
                finally:
                    self.replaying = False
                if reply is not None and reply[:1] == b"-":
                    self.log(
                        "warning",
                        f"A command from the primary failed: {name.decode(errors='replace')} "
                        f"-> {reply[1:].decode(errors='replace').strip()}",
                    )
        if self.aof is not None:
            self.aof.append(encoded)

    def load_snapshot(self, snapshot: bytes, replid: str, offset: int) -> None:
        self.keyspace.flush()
        self._replica_tx = None
        parser = RequestParser(max_bulk_len=2**40)
        parser.feed(snapshot)
        self.replaying = True
        try:
            while (argv := parser.next_command()) is not None:
                cmd = COMMANDS.get(argv[0].upper())
                if cmd is not None:
                    cmd.handler(self, _REPLICATION_CLIENT, argv)
        finally:
            self.replaying = False
        self.history = History(replid=replid, offset=offset)
        self.has_history = True
        self.backlog.reset(offset)
        self.durability.inherited.clear()
        if len(self.keyspace):
            self.durability.note_replicated(offset, time.monotonic())
        if self.aof is not None:
            self.aof.rewrite(self.keyspace.dump_commands())

    def snapshot(self) -> bytes:
        return b"".join(self.keyspace.dump_commands())

    # -- primary side of replication ---------------------------------------------------------

    def attach_replica(self, c: Client, replid: str, next_offset: int) -> None:
        """PSYNC: answer +CONTINUE (partial) or +FULLRESYNC (snapshot) and start streaming."""
        self.flush_stream()
        h = self.history
        data: bytes | None = None
        if replid == h.replid or (replid == h.replid2 and next_offset <= h.second_offset):
            data = self.backlog.since(next_offset)
        elif replid == h.replid2 and self.bug("rejoin-keeps-divergent-writes"):
            data = self.backlog.from_boundary(next_offset)
        ip = c.replica_ip or c.addr[0]
        peer = ReplicaPeer(
            client=c,
            ip=ip,
            port=c.listening_port,
            az=c.replica_az or "default",
            run_id=c.replica_run_id,
        )
        c.peer = peer
        assert c.transport is not None
        if data is not None:
            c.transport.write(b"+CONTINUE %s\r\n" % h.replid.encode() + data)
            self.log("notice", f"Partial resync of replica {ip}:{c.listening_port} accepted")
        else:
            snapshot = self.snapshot()
            head = b"+FULLRESYNC %s %d\r\n$%d\r\n" % (h.replid.encode(), h.offset, len(snapshot))
            c.transport.write(head + snapshot + b"\r\n")
            self.log("notice", f"Full resync of replica {ip}:{c.listening_port}")
        peer.sync_offset = h.offset
        peer.ack_offset = 0
        for old in [p for p in self.replicas if p.same_replica(peer)]:
            self.drop_replica(old, f"replaced by a new link from {ip}:{c.addr[1]}")
        peer.registered = True
        self.replicas.append(peer)

    def on_replica_ack(self, peer: ReplicaPeer, raw: bytes) -> None:
        if not peer.registered:
            return  # a replaced link: its replica acknowledges over its new link
        try:
            offset = int(raw)
        except ValueError:
            return
        peer.last_ack = time.monotonic()
        peer.ack_offset = max(peer.ack_offset, offset) if peer.online else offset
        if not peer.online:
            peer.state = "online"
            self.log("notice", f"Replica {peer.ip}:{peer.port} (az {peer.az}) is online")
        self.durability.on_ack(peer)

    def drop_replica(self, peer: ReplicaPeer, why: str) -> None:
        if peer.registered:
            peer.registered = False
            self.replicas.remove(peer)
            self.log("notice", f"Replica {peer.ip}:{peer.port} dropped: {why}")
        transport = peer.client.transport
        if transport is not None:
            transport.close()

    # -- role changes --------------------------------------------------------------------------

    def become_primary(self) -> None:
        if self.role == "master":
            return
        if self.link is not None:
            self.link.stop()
            self.link = None
        self._replica_tx = None
        self.history.shift()
        self.has_history = True
        self.role = "master"
        self.keyspace.is_primary = True
        self.durability.on_promoted()
        self.log("notice", f"Promoted to primary; new replication id {self.history.replid}")

    def become_replica(self, host: str, port: int) -> None:
        if self.role == "master":
            self.durability.abort_all(
                "UNBLOCKED the node stopped being a primary while this write waited for its "
                "replicas; the write was applied locally and may or may not be durable."
            )
            for peer in list(self.replicas):
                self.drop_replica(peer, "this node became a replica")
            self.flush_stream()
        if self.link is not None:
            self.link.stop()
        self._replica_tx = None
        self.role = "slave"
        self.keyspace.is_primary = False
        self.link = ReplicaLink(self, host, port)
        self.log("notice", f"Replicating from {host}:{port}")

    # -- lifecycle -----------------------------------------------------------------------------

    def load_aof(self) -> None:
        cfg = self.config
        path = os.path.join(cfg.dir, cfg.appendfilename)
        fix = "move it aside to start empty"
        if os.path.exists(path):
            count = 0
            self.replaying = True

            def bad(name: str, what: str) -> StartError:
                return StartError(
                    f"the append-only file {path}: command {count + 1} ({name}) {what}; {fix}"
                )

            try:
                for argv in read_commands(path):
                    cmd = COMMANDS.get(argv[0].upper())
                    if cmd is None:
                        name = argv[0].decode(errors="replace")[:40]
                        raise bad(repr(name), "is not a command this server knows")
                    if argv[0].upper() in (b"MULTI", b"EXEC"):
                        continue
                    if not cmd.takes(len(argv)):
                        raise bad(
                            cmd.name.decode(),
                            f"has {len(argv) - 1} arguments, which it cannot take",
                        )
                    reply = cmd.handler(self, _REPLICATION_CLIENT, argv)
                    if reply is not None and reply[:1] == b"-":
                        failed = reply[1:].decode(errors="replace").strip()
                        raise bad(cmd.name.decode(), f"fails: {failed}")
                    count += 1
            except ProtocolError as exc:
                raise StartError(
                    f"the append-only file {path} is not RESP ({exc}); {fix}"
                ) from None
            except OSError as exc:
                raise StartError(
                    f"cannot read the append-only file {path} ({exc.strerror or exc}); {fix}"
                ) from None
            finally:
                self.replaying = False
            self.log("notice", f"DB loaded from append only file: {count} commands")
        try:
            self.aof = AppendOnlyFile(path, cfg.appendfsync)
        except OSError as exc:
            raise StartError(
                f"cannot write the append-only file {path} ({exc.strerror or exc}); give --dir "
                "a writable directory"
            ) from None

    def set_appendonly(self, on: bool) -> None:
        """Turn the AOF on (written whole from the dataset) or off. OSError, with nothing
        changed, when the file cannot be written."""
        if on and self.aof is None:
            cfg = self.config
            aof = AppendOnlyFile(os.path.join(cfg.dir, cfg.appendfilename), cfg.appendfsync)
            try:
                aof.rewrite(self.keyspace.dump_commands())
            except OSError:
                with contextlib.suppress(OSError):
                    aof.close()
                raise
            self.aof = aof
        elif not on and self.aof is not None:
            self.aof.close()
            self.aof = None

    async def start(self) -> None:
        cfg = self.config
        if cfg.appendonly:
            if os.path.exists(cfg.dir) and not os.path.isdir(cfg.dir):
                raise StartError(f"--dir {cfg.dir} is a file, not a directory; give a directory")
            try:
                os.makedirs(cfg.dir, exist_ok=True)
            except OSError as exc:
                raise StartError(
                    f"cannot use --dir {cfg.dir} ({exc.strerror or exc}); give a directory"
                ) from None
            self.load_aof()
        loop = asyncio.get_running_loop()
        factory: Callable[[], Client] = lambda: Client(self)  # noqa: E731
        hosts = cfg.bind.split()
        kinds = []

        async def listen(flag: str, port: int, context: SSLContext | None = None) -> None:
            try:
                server = await loop.create_server(
                    factory, host=hosts, port=port, reuse_address=True, backlog=511, ssl=context
                )
            except OSError as exc:  # taken, or an address not on this host (gaierror too)
                self.close()
                raise StartError(
                    f"cannot listen on {cfg.bind}:{port} ({exc.strerror or exc}); give {flag} "
                    "a free port, or --bind addresses of this host"
                ) from None
            self._servers.append(server)

        if cfg.port:  # port 0: TLS only, as in Valkey
            await listen("--port", cfg.port)
            kinds.append("tcp")
        if cfg.tls_port:
            from harness.server._tls import server_context

            await listen("--tls-port", cfg.tls_port, server_context(cfg))
            kinds.append("tls")
        if cfg.replicaof is not None:
            self.role = "slave"
            self.keyspace.is_primary = False
            self.link = ReplicaLink(self, *cfg.replicaof)
        self._cron = loop.create_task(self._cron_loop())
        ports = f"port {cfg.port}" + (f", tls-port {cfg.tls_port}" if cfg.tls_port else "")
        self.log("notice", f"ackbound server started, {ports}, az {cfg.az}")
        for kind in kinds:
            self.log("notice", f"Ready to accept connections {kind}")

    async def serve_forever(self) -> None:
        assert self._servers
        await asyncio.gather(*(server.serve_forever() for server in self._servers))

    def close(self) -> None:
        if self._cron is not None:
            self._cron.cancel()
        if self.link is not None:
            self.link.stop()
        if self.aof is not None:
            self.aof.close()
        for server in self._servers:
            server.close()

    async def _cron_loop(self) -> None:
        last_second = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            timeout = self.config.repl_timeout_ms / 1000
            if self.role == "master" and self.replicas:
                for peer in list(self.replicas):
                    if now - peer.last_ack > timeout:
                        self.drop_replica(peer, f"no ACK for {self.config.repl_timeout_ms} ms")
                if now - self._last_ping >= min(1.0, timeout / 4):
                    self._last_ping = now
                    self._emit_ping()
                self.flush_stream()
            if now - last_second >= 1.0:
                last_second = now
                if self.aof is not None:
                    with contextlib.suppress(OSError):
                        self.aof.every_second()


def _copy(value: Value) -> Value:
    if isinstance(value, bytes):
        return value
    return type(value)(value)


class _ReplicationClient:
    """Stands in for a client when replicated, AOF or snapshot commands are applied."""

    protocol = 2
    woff = 0


_REPLICATION_CLIENT: Final = cast("Client", _ReplicationClient())


def _unknown_command(argv: list[bytes]) -> bytes:
    """Valkey's reply, byte for byte: the name and the first arguments as C strings (up to
    a NUL byte), each argument quoted and followed by a space while fewer than 128 bytes are
    shown, the bytes echoed as sent."""

    def c_string(b: bytes, most: int) -> bytes:
        return b.split(b"\0", 1)[0][:most]

    shown = b""
    for arg in argv[1:]:
        if len(shown) >= 128:
            break
        shown += b"'" + c_string(arg, 128 - len(shown)) + b"' "
    return error(
        b"ERR unknown command '" + c_string(argv[0], 128) + b"', with args beginning with: " + shown
    )
