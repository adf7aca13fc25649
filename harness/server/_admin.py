"""Server-level commands: connection, transactions, INFO, CONFIG, replication, durability."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Final

from harness.resp import (
    OK,
    array,
    bulk,
    error,
    integer,
    map_reply,
    null,
    simple,
    verbatim,
)
from harness.server._commands import (
    COMMANDS,
    E_NOT_INTEGER,
    E_SYNTAX,
    INT64_MAX,
    _int,
    _now_ms,
    command,
)
from harness.server._config import SETTINGS, parse_az
from harness.server._keyspace import glob_to_regex

if TYPE_CHECKING:
    from harness.server._server import Client, Server

__all__ = ["info_text"]

E_WRONGPASS = error("WRONGPASS invalid username-password pair or user is disabled.")
E_CLIENT_NAME = error("ERR Client names cannot contain spaces, newlines or special characters.")


def _valid_client_name(name: bytes) -> bool:
    return not any(ch <= 32 or ch > 126 for ch in name)


def _check_password(srv: Server, user: bytes | None, password: bytes) -> bool:
    """Whether ``user`` (``None``: the default user) may log in with ``password``. The
    default user is the only one; with no password set it takes any (Valkey's nopass)."""
    if user is not None and user != b"default":
        return False
    expected = srv.config.requirepass
    return not expected or password == expected.encode()


@command("AUTH", -2, noauth=True)
def cmd_auth(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    if len(argv) > 3:
        return E_SYNTAX
    if not srv.config.requirepass and len(argv) == 2:
        return error(
            "ERR AUTH <password> called without any password configured for the default "
            "user. Are you sure your configuration is correct?"
        )
    user = argv[1] if len(argv) == 3 else None
    if not _check_password(srv, user, argv[-1]):
        return E_WRONGPASS
    c.authenticated = True
    c.parser.authenticated = True
    return OK


@command("HELLO", -1, noauth=True)
def cmd_hello(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    protocol = c.protocol
    i = 1
    if len(argv) > 1:
        version = _int(argv[1])
        if version is None:
            return error("ERR Protocol version is not an integer or out of range")
        if version not in (2, 3):
            return error("NOPROTO unsupported protocol version")
        protocol = version
        i = 2
    authed = c.authenticated
    name = c.name
    while i < len(argv):
        opt = argv[i].upper()
        if opt == b"AUTH" and i + 2 < len(argv):
            if not _check_password(srv, argv[i + 1], argv[i + 2]):
                return E_WRONGPASS
            authed = True
            i += 3
        elif opt == b"SETNAME" and i + 1 < len(argv):
            name = argv[i + 1]
            if not _valid_client_name(name):
                return E_CLIENT_NAME
            i += 2
        else:
            return error(f"ERR Syntax error in HELLO option '{opt.decode(errors='replace')}'")
    if not authed:
        return error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client "
            "and select the RESP protocol version at the same time"
        )
    c.authenticated = True
    c.parser.authenticated = True
    c.protocol = protocol
    c.name = name
    role = b"master" if srv.role == "master" else b"replica"
    return map_reply(
        [
            (bulk(b"server"), bulk(b"ackbound")),
            (bulk(b"version"), bulk(b"7.2.4")),
            (bulk(b"proto"), integer(protocol)),
            (bulk(b"id"), integer(c.id)),
            (bulk(b"mode"), bulk(b"standalone")),
            (bulk(b"role"), bulk(role)),
            (bulk(b"modules"), b"*0\r\n"),
        ],
        protocol,
    )


@command("QUIT", -1, noauth=True, no_multi=True)
def cmd_quit(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    c.close_after_reply()
    return OK


@command("RESET", 1, noauth=True, no_multi=True)
def cmd_reset(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    """As in Valkey: the connection as new, logged in as the default user only if that
    user needs no password."""
    c.multi = None
    c.multi_error = False
    c.protocol = 2
    c.name = b""
    c.authenticated = not srv.config.requirepass
    c.parser.authenticated = c.authenticated
    return b"+RESET\r\n"


@command("CLIENT", -2)
def cmd_client(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    sub = argv[1].upper()
    if sub == b"ID" and len(argv) == 2:
        return integer(c.id)
    if sub == b"GETNAME" and len(argv) == 2:
        return bulk(c.name) if c.name else null(c.protocol)
    if sub == b"SETNAME" and len(argv) == 3:
        if not _valid_client_name(argv[2]):
            return E_CLIENT_NAME
        c.name = argv[2]
        return OK
    if sub == b"SETINFO" and len(argv) == 4:
        option = argv[2].lower()
        if option not in (b"lib-name", b"lib-ver"):
            return error(f"ERR Unrecognized option '{argv[2].decode(errors='replace')}'")
        if not _valid_client_name(argv[3]):
            return error(
                f"ERR {argv[2].decode(errors='replace')} cannot contain spaces, newlines or "
                "special characters."
            )
        return OK
    if sub == b"LIST":
        now = time.monotonic()
        lines = [
            f"id={x.id} addr={x.addr[0]}:{x.addr[1]} name={x.name.decode(errors='replace')} "
            f"age={int(now - x.created)} flags={'S' if x.peer else 'N'} "
            f"cmd={x.last_command.decode()} resp={x.protocol}\n"
            for x in srv.clients.values()
        ]
        return verbatim("".join(lines).encode(), c.protocol)
    if sub == b"INFO" and len(argv) == 2:
        return verbatim(
            f"id={c.id} addr={c.addr[0]}:{c.addr[1]} name={c.name.decode(errors='replace')}\n".encode(),
            c.protocol,
        )
    return _subcommand_error(b"CLIENT", argv[1], _CLIENT_SUBCOMMANDS)


@command("COMMAND", -1)
def cmd_command(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    def info(entry: object) -> bytes:
        from harness.server._commands import Command

        assert isinstance(entry, Command)
        return array(
            [
                bulk(entry.name),
                integer(entry.arity),
                array(simple(f) for f in entry.flags()),
                integer(entry.first_key),
                integer(entry.last_key),
                integer(entry.key_step),
                b"*0\r\n",
                b"*0\r\n",
                b"*0\r\n",
                b"*0\r\n",
            ]
        )

    if len(argv) == 1:
        return array(info(entry) for entry in COMMANDS.values())
    sub = argv[1].upper()
    if sub == b"COUNT" and len(argv) == 2:
        return integer(len(COMMANDS))
    if sub == b"INFO":
        names = [a.upper() for a in argv[2:]] or list(COMMANDS)
        return array(info(COMMANDS[n]) if n in COMMANDS else null(c.protocol) for n in names)
    if sub == b"DOCS":
        return map_reply([], c.protocol)
    if sub == b"LIST":
        return array(bulk(entry.name) for entry in COMMANDS.values())
    return error(f"ERR unknown subcommand '{argv[1].decode(errors='replace')}'. Try COMMAND HELP.")


# -- transactions -------------------------------------------------------------------------------


@command("MULTI", 1, deny_multi=True)
def cmd_multi(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    c.multi = []  # inside MULTI it is refused before it gets here (deny_multi)
    c.multi_error = False
    return OK


@command("EXEC", 1, no_multi=True)
def cmd_exec(srv: Server, c: Client, argv: list[bytes]) -> bytes | None:
    if c.multi is None:
        return error("ERR EXEC without MULTI")
    queued, c.multi = c.multi, None
    if c.multi_error:
        c.multi_error = False
        return error("EXECABORT Transaction discarded because of previous errors.")
    return srv.run_transaction(c, queued)


@command("DISCARD", 1, no_multi=True)
def cmd_discard(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    if c.multi is None:
        return error("ERR DISCARD without MULTI")
    c.multi = None
    c.multi_error = False
    return OK


# -- replication ---------------------------------------------------------------------------------


@command("REPLICAOF", 3, admin=True, no_multi=True)
def cmd_replicaof(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    host, port_text = argv[1], argv[2]
    if host.upper() == b"NO" and port_text.upper() == b"ONE":
        srv.become_primary()
        return OK
    port = _int(port_text)
    if port is None or not 0 < port < 65536:
        return error("ERR Invalid master port")
    host_text = host.decode(errors="replace")
    link = srv.link
    if srv.role == "slave" and link is not None and (link.host, link.port) == (host_text, port):
        return simple("OK Already connected to specified master")
    srv.become_replica(host_text, port)
    return OK


COMMANDS[b"SLAVEOF"] = COMMANDS[b"REPLICAOF"]


@command("REPLCONF", -1, admin=True)
def cmd_replconf(srv: Server, c: Client, argv: list[bytes]) -> bytes | None:
    if len(argv) % 2 == 0:
        return E_SYNTAX
    for i in range(1, len(argv), 2):
        opt = argv[i].lower()
        value = argv[i + 1]
        if opt == b"listening-port":
            port = _int(value)
            if port is None:
                return E_NOT_INTEGER
            c.listening_port = port
        elif opt == b"az":
            try:
                c.replica_az = parse_az(value.decode(errors="replace"))
            except ValueError as exc:
                return error(f"ERR invalid az: {exc}")
        elif opt == b"run-id":
            c.replica_run_id = value.decode(errors="replace")
        elif opt == b"ip-address":
            c.replica_ip = value.decode(errors="replace")
        elif opt in (b"ack", b"getack"):
            return None
        elif opt not in (b"capa", b"rdb-only", b"rdb-filter-only"):
            return error(f"ERR Unrecognized REPLCONF option: {opt.decode(errors='replace')}")
    return OK


@command("PSYNC", 3, admin=True, deny_multi=True)
def cmd_psync(srv: Server, c: Client, argv: list[bytes]) -> bytes | None:
    if srv.role != "master":
        return error(
            "ERR this ackbound server is a replica and does not serve replicas (chained "
            "replication is not supported); point REPLICAOF at the primary"
        )
    offset = _int(argv[2])
    if offset is None:
        return E_NOT_INTEGER
    srv.attach_replica(c, argv[1].decode(errors="replace"), offset)
    return None


@command("ROLE", 1)
def cmd_role(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    if srv.role == "master":
        return array(
            [
                bulk(b"master"),
                integer(srv.history.offset),
                array(
                    array(
                        [
                            bulk(p.ip.encode()),
                            bulk(b"%d" % p.port),
                            bulk(b"%d" % p.ack_offset),
                        ]
                    )
                    for p in srv.replicas
                ),
            ]
        )
    link = srv.link
    assert link is not None
    return array(
        [
            bulk(b"slave"),
            bulk(link.host.encode()),
            integer(link.port),
            bulk(link.state.encode()),
            integer(link.reported_offset()),
        ]
    )


@command("WAIT", 3)
def cmd_wait(srv: Server, c: Client, argv: list[bytes]) -> bytes | None:
    needed, timeout = _int(argv[1]), _int(argv[2])
    if needed is None:
        return E_NOT_INTEGER
    if timeout is None:
        return error("ERR timeout is not an integer or out of range")
    if timeout < 0:
        return error("ERR timeout is negative")
    if timeout > INT64_MAX - _now_ms():  # Valkey's bound on the deadline
        return error("ERR timeout is out of range")
    if srv.role != "master":
        return error("ERR WAIT cannot be used with replica instances.")
    srv.flush_stream()
    # Inside EXEC it answers at once with the count so far, as Valkey does.
    return srv.durability.wait(c, needed, timeout, block=not srv.in_transaction)


# -- configuration and introspection ---------------------------------------------------------

_STATIC_CONFIG = {"save": "", "databases": "1", "maxmemory": "0", "appendfsync-default": ""}


@command("CONFIG", -2, admin=True)
def cmd_config(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    sub = argv[1].upper()
    if sub == b"GET" and len(argv) >= 3:
        values: dict[str, str] = {}
        everything = {name: s.show(getattr(srv.config, s.attr)) for name, s in SETTINGS.items()}
        everything.update({k: v for k, v in _STATIC_CONFIG.items() if k != "appendfsync-default"})
        for pattern in argv[2:]:
            if not _GLOB_CHARS.intersection(pattern):
                # A name, not a pattern: Valkey answers with the name as it was asked for.
                exact = pattern.decode(errors="replace")
                if exact.lower() in everything:
                    values[exact] = everything[exact.lower()]
                continue
            regex = glob_to_regex(pattern.lower())
            for name, value in everything.items():
                if regex.match(name.encode()):
                    values[name] = value
        return map_reply(
            [(bulk(k.encode()), bulk(v.encode())) for k, v in values.items()], c.protocol
        )
    if sub == b"SET" and len(argv) >= 4 and len(argv) % 2 == 0:
        changes: dict[str, object] = {}
        for i in range(2, len(argv), 2):
            name = argv[i].decode(errors="replace").lower()
            if any(argv[j].lower() == argv[i].lower() for j in range(2, i, 2)):
                return error(
                    f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                    "duplicate parameter"
                )
            setting = SETTINGS.get(name)
            if setting is None or setting.parse is None:
                return error(f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            try:
                changes[setting.attr] = setting.parse(argv[i + 1].decode(errors="replace"))
            except ValueError as exc:
                return error(
                    f"ERR CONFIG SET failed (possibly related to argument '{name}') - {exc}"
                )
        return apply_config(srv, changes) or OK
    if sub == b"RESETSTAT" and len(argv) == 2:
        srv.stats_commands = 0
        srv.durability.buffer_exceeded = 0
        srv.durability.sync_timeouts = 0
        srv.durability.sync_rejections = 0
        return OK
    if sub == b"REWRITE":
        return error("ERR The server is running without a config file")
    return _subcommand_error(b"CONFIG", argv[1], _CONFIG_SUBCOMMANDS)


_CLIENT_SUBCOMMANDS: Final = frozenset(
    [b"ID", b"GETNAME", b"SETNAME", b"SETINFO", b"LIST", b"INFO"]
)
_CONFIG_SUBCOMMANDS: Final = frozenset([b"GET", b"SET", b"RESETSTAT", b"REWRITE"])


def _subcommand_error(command: bytes, sub: bytes, known: frozenset[bytes]) -> bytes:
    """Valkey's words for a subcommand given the wrong number of arguments, or unknown."""
    if sub.upper() in known:
        return error(
            f"ERR wrong number of arguments for '{command.decode().lower()}|"
            f"{sub.decode().lower()}' command"
        )
    return error(
        f"ERR unknown subcommand '{sub[:128].decode(errors='replace')}'. Try "
        f"{command.decode()} HELP."
    )


_GLOB_CHARS: Final = frozenset(b"*?[\\")


def apply_config(srv: Server, changes: dict[str, object]) -> bytes | None:
    """Apply parsed CONFIG SET values; or change nothing and return the error reply."""
    cfg = srv.config
    old_mode = cfg.durability
    if "appendonly" in changes:
        try:
            srv.set_appendonly(bool(changes["appendonly"]))
        except OSError as exc:
            path = os.path.join(cfg.dir, cfg.appendfilename)
            problem = (
                f"cannot write the append-only file {path} ({exc.strerror or exc}); "
                "restart the server with a writable --dir"
            )
            srv.log("warning", f"CONFIG SET appendonly yes failed: {problem}")
            return error(
                f"ERR CONFIG SET failed (possibly related to argument 'appendonly') - {problem}"
            )
    for attr, value in changes.items():
        setattr(cfg, attr, value)
    if "proto_max_bulk_len" in changes:
        for client in srv.clients.values():
            client.parser.max_bulk_len = cfg.proto_max_bulk_len
    if "repl_backlog_size" in changes:
        srv.backlog.size = cfg.repl_backlog_size
    if "appendfsync" in changes and srv.aof is not None:
        srv.aof.fsync_policy = cfg.appendfsync
    if cfg.durability != old_mode or "lag_limit_ms" in changes:
        srv.durability.on_mode_change()
    if "az" in changes or "sync_replicas" in changes:
        for peer in list(srv.replicas):
            srv.durability.on_ack(peer)
    return None


@command("DEBUG", -2, admin=True)
def cmd_debug(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    sub = argv[1].upper()
    if sub == b"DIGEST" and len(argv) == 2:
        return simple(srv.keyspace.digest())
    if sub == b"SLEEP" and len(argv) == 3:
        try:
            seconds = float(argv[2])
        except ValueError:
            return E_NOT_INTEGER
        if seconds > 0:  # negative or NaN: no sleep, +OK (as Valkey's nanosleep)
            time.sleep(min(seconds, 60.0))
        return OK
    if sub == b"BUGS" and len(argv) == 2:
        return array(bulk(name.encode()) for name in sorted(srv.config.bugs))
    return error(
        f"ERR unknown subcommand '{argv[1].decode(errors='replace')}'. Try DEBUG DIGEST, "
        "DEBUG SLEEP seconds or DEBUG BUGS."
    )


@command("INFO", -1)
def cmd_info(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    sections = [a.decode(errors="replace").lower() for a in argv[1:]]
    return verbatim(info_text(srv, sections).encode(), c.protocol)


_SECTIONS = ("server", "clients", "persistence", "stats", "replication", "durability", "keyspace")


def info_text(srv: Server, sections: list[str]) -> str:
    wanted = (
        list(_SECTIONS)
        if not sections or any(s in ("all", "everything", "default") for s in sections)
        else [s for s in _SECTIONS if s in sections]
    )
    out: list[str] = []
    for section in wanted:
        fields = _INFO[section](srv)
        out.append(f"# {section.capitalize()}")
        out.extend(f"{k}:{v}" for k, v in fields)
        out.append("")
    return "\r\n".join(out)


def _info_server(srv: Server) -> list[tuple[str, object]]:
    cfg = srv.config
    uptime = int(time.monotonic() - srv.started_mono)
    return [
        ("redis_version", "7.2.4"),
        ("ackbound_version", "0.1.0"),
        ("server_name", "ackbound"),
        ("redis_mode", "standalone"),
        ("process_id", os.getpid()),
        ("run_id", srv.run_id),
        ("tcp_port", cfg.port),
        ("tls_port", cfg.tls_port),
        ("uptime_in_seconds", uptime),
        ("az", cfg.az),
        ("bugs", ",".join(sorted(cfg.bugs)) or "none"),
        ("hiredis_parser", "yes" if _hiredis_in_use(srv) else "no"),
        ("event_loop", _event_loop()),
    ]


def _event_loop() -> str:
    """``uvloop`` or ``asyncio``: which event loop runs the server."""
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def _hiredis_in_use(srv: Server) -> bool:
    from harness.resp import HAVE_HIREDIS

    return HAVE_HIREDIS if srv.use_hiredis is None else srv.use_hiredis


def _info_clients(srv: Server) -> list[tuple[str, object]]:
    blocked = len(srv.durability.waiters)
    return [("connected_clients", len(srv.clients)), ("blocked_clients", blocked)]


def _info_persistence(srv: Server) -> list[tuple[str, object]]:
    cfg = srv.config
    return [
        ("loading", 0),
        ("aof_enabled", int(srv.aof is not None)),
        ("appendfsync", cfg.appendfsync),
    ]


def _info_stats(srv: Server) -> list[tuple[str, object]]:
    return [
        ("total_connections_received", srv.stats_connections),
        ("total_commands_processed", srv.stats_commands),
        ("total_writes_processed", srv.stats_writes),
    ]


def _info_replication(srv: Server) -> list[tuple[str, object]]:
    srv.flush_stream()  # the backlog fields count this batch's writes too
    h = srv.history
    now = time.monotonic()
    fields: list[tuple[str, object]] = []
    if srv.role == "master":
        fields.append(("role", "master"))
        fields.append(("connected_slaves", len(srv.replicas)))
        for i, p in enumerate(srv.replicas):
            fields.append(
                (
                    f"slave{i}",
                    f"ip={p.ip},port={p.port},state={p.state},offset={p.ack_offset},"
                    f"lag={int(now - p.last_ack)},az={p.az}",
                )
            )
        offset = h.offset
    else:
        link = srv.link
        assert link is not None
        offset = link.reported_offset()
        fields += [
            ("role", "slave"),
            ("master_host", link.host),
            ("master_port", link.port),
            ("master_link_status", "up" if link.link_up else "down"),
            ("master_last_io_seconds_ago", int(now - link.last_io) if link.link_up else -1),
            ("master_sync_in_progress", int(link.sync_in_progress)),
            ("slave_read_repl_offset", link.read_offset),
            ("slave_repl_offset", offset),
            ("master_link_state", link.state),
            ("slave_priority", 100),
            ("slave_read_only", 1),
            ("replica_announced", 1),
            ("connected_slaves", 0),
        ]
    fields += [
        ("master_failover_state", "no-failover"),
        ("master_replid", h.replid),
        ("master_replid2", h.replid2),
        ("master_repl_offset", offset),
        ("second_repl_offset", h.second_offset),
        ("repl_backlog_active", 1),
        ("repl_backlog_size", srv.backlog.size),
        ("repl_backlog_first_byte_offset", srv.backlog.start + 1),
        ("repl_backlog_histlen", srv.backlog.histlen),
        ("az", srv.config.az),
    ]
    return fields


def _info_durability(srv: Server) -> list[tuple[str, object]]:
    cfg = srv.config
    d = srv.durability
    return [
        ("durability_mode", cfg.durability),
        ("durability_lag_ms", d.reported_lag_ms() if srv.role == "master" else 0),
        ("durability_lag_limit_ms", cfg.lag_limit_ms),
        ("durability_sync_replicas", cfg.sync_replicas),
        ("durability_sync_timeout_ms", cfg.sync_timeout_ms),
        ("durability_eligible_replicas", len(d.eligible_peers())),
        ("durability_acked_offset", d.acked_offset()),
        ("durability_buffer_exceeded_error_count", d.buffer_exceeded),
        ("durability_sync_timeouts", d.sync_timeouts),
        ("durability_sync_rejections", d.sync_rejections),
        ("durability_blocked_clients", sum(1 for w in d.waiters if w.kind == "sync")),
    ]


def _info_keyspace(srv: Server) -> list[tuple[str, object]]:
    ks = srv.keyspace
    if not len(ks):
        return []
    return [("db0", f"keys={len(ks)},expires={len(ks.expires)},avg_ttl=0")]


_INFO = {
    "server": _info_server,
    "clients": _info_clients,
    "persistence": _info_persistence,
    "stats": _info_stats,
    "replication": _info_replication,
    "durability": _info_durability,
    "keyspace": _info_keyspace,
}
