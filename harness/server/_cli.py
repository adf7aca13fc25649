"""``ackbound server`` / ``python -m harness.server``: flags, and running the event loop."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, Final, NoReturn

from harness.server._bugs import BUGS
from harness.server._config import (
    DURABILITY_MODES,
    FSYNC_POLICIES,
    LOG_LEVELS,
    SETTINGS,
    ServerConfig,
)

__all__ = ["PASSWORD_ENV", "config_from_args", "register", "run"]

PASSWORD_ENV = "ACKBOUND_SERVER_PASSWORD"


def _yes_no(text: str) -> bool:
    if text.lower() not in ("yes", "no"):
        raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")
    return text.lower() == "yes"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port; use 0..65535")
    return port


# The exit status of a server that could not start (a bad flag, a port taken, ...): 3, as
# every ackbound command that could not run.
EXIT_COULD_NOT_START: Final = 3


class Parser(argparse.ArgumentParser):
    """The server's flags: a bad one is one line and exit 3, as with ``ackbound server``."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            EXIT_COULD_NOT_START, f"{self.prog}: error: {message} (see '{self.prog} --help')\n"
        )


def _setting(name: str) -> Callable[[str], Any]:
    """An argparse type that accepts what ``CONFIG SET name`` accepts."""
    parse = SETTINGS[name].parse
    assert parse is not None

    def check(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    return check


def _bug(name: str) -> str:
    if name not in BUGS:
        raise argparse.ArgumentTypeError(
            f"unknown bug {name!r}; --list-bugs shows the seeded bugs: {', '.join(BUGS)}"
        )
    return name


def register(parser: argparse.ArgumentParser) -> None:
    """Add the server's flags to ``parser``."""
    add = parser.add_argument
    add(
        "--port",
        type=_port,
        default=6379,
        help="TCP port to listen on (default 6379); 0: no plain listener (TLS only)",
    )
    add(
        "--bind",
        default="127.0.0.1",
        help="addresses to listen on, space-separated (default 127.0.0.1)",
    )
    add("--tls-port", type=_port, default=0, metavar="P", help="also listen for TLS on port P")
    add("--tls-cert-file", default="", metavar="FILE", help="the node's TLS certificate (PEM)")
    add("--tls-key-file", default="", metavar="FILE", help="the key of --tls-cert-file (PEM)")
    add(
        "--tls-ca-cert-file",
        default="",
        metavar="FILE",
        help="CA certificates that client (and primary) certificates must chain to (PEM)",
    )
    add(
        "--tls-auth-clients",
        choices=("yes", "optional", "no"),
        default="yes",
        help="whether TLS clients must present a certificate signed by the CA (default yes)",
    )
    add(
        "--tls-replication",
        type=_yes_no,
        default=False,
        metavar="yes|no",
        help="a replica connects to its primary over TLS (default no)",
    )
    add("--replicaof", nargs=2, metavar=("HOST", "PORT"), help="start as a replica of HOST PORT")
    add(
        "--az",
        type=_setting("az"),
        default="default",
        help="this node's availability zone (default 'default'); "
        "only replicas in another AZ count for sync and async durability",
    )
    add(
        "--durability",
        choices=DURABILITY_MODES,
        default="none",
        help="durability mode (default none)",
    )
    add(
        "--sync-replicas",
        type=_setting("sync-replicas"),
        default=1,
        metavar="K",
        help="sync: eligible replicas that must acknowledge a write (default 1)",
    )
    add(
        "--sync-timeout-ms",
        type=_setting("sync-timeout-ms"),
        default=1000,
        metavar="T",
        help="sync: how long a reply waits for acknowledgements (default 1000)",
    )
    add(
        "--lag-limit-ms",
        type=_setting("lag-limit-ms"),
        default=10000,
        metavar="L",
        help="async: reject writes while the durability lag exceeds L ms (default 10000)",
    )
    add(
        "--requirepass",
        default=None,
        metavar="PW",
        help=f"password clients must AUTH "
        f"with; prefer ${PASSWORD_ENV} or --requirepass-file to keep it out of argv",
    )
    add(
        "--requirepass-file",
        default=None,
        metavar="FILE",
        help="read the password from the first line of FILE",
    )
    add(
        "--masterauth",
        default=None,
        metavar="PW",
        help="password to AUTH with at the primary (default: the node's own password)",
    )
    add("--dir", default=".", help="directory of the append-only file (default .)")
    add(
        "--appendonly",
        type=_yes_no,
        default=False,
        metavar="yes|no",
        help="log every write to DIR/appendonly.aof and replay it on start (default no)",
    )
    add(
        "--appendfsync",
        choices=FSYNC_POLICIES,
        default="everysec",
        help="when the append-only file is fsynced (default everysec)",
    )
    add(
        "--repl-timeout-ms",
        type=_setting("repl-timeout-ms"),
        default=2000,
        metavar="MS",
        help="a replica silent this long is disconnected; a replica gives up on a silent "
        "primary after as long (default 2000)",
    )
    add(
        "--repl-ack-period-ms",
        type=_setting("repl-ack-period-ms"),
        default=100,
        metavar="MS",
        help="replicas also acknowledge on this heartbeat (default 100)",
    )
    add(
        "--repl-backlog-size",
        type=_setting("repl-backlog-size"),
        default=16 * 1024 * 1024,
        metavar="BYTES",
        help="bytes of replication stream kept for partial resyncs (default 16mb)",
    )
    add(
        "--proto-max-bulk-len",
        type=_setting("proto-max-bulk-len"),
        default=512 * 1024 * 1024,
        metavar="BYTES",
        help="largest bulk string accepted (default 512mb)",
    )
    add(
        "--protected-mode",
        type=_yes_no,
        default=True,
        metavar="yes|no",
        help="refuse non-loopback clients when no password is set (default yes)",
    )
    add(
        "--bug",
        action="append",
        type=_bug,
        default=[],
        metavar="NAME",
        help="turn on a seeded bug (for validating the harness only; see --list-bugs)",
    )
    add("--list-bugs", action="store_true", help="print the seeded bugs as JSON and exit")
    add("--loglevel", choices=LOG_LEVELS, default="notice", help="log verbosity")
    add("--logfile", default="", help="log to this file instead of stdout")
    add(
        "--no-hiredis",
        action="store_true",
        help="parse requests in pure Python even when hiredis is installed",
    )
    add(
        "--no-uvloop",
        action="store_true",
        help="use asyncio's default event loop even when uvloop is installed",
    )


class ArgsError(Exception):
    """Flags that parse but cannot be used; the message names the flag and the fix."""


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The server's configuration from its flags; :class:`ArgsError` when one is unusable."""
    if not args.bind.split():
        raise ArgsError("--bind is empty; give the addresses to listen on, e.g. 127.0.0.1")
    password = args.requirepass
    if password is None and args.requirepass_file:
        try:
            with open(args.requirepass_file, encoding="utf-8") as f:
                password = f.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ArgsError(
                f"cannot read --requirepass-file {args.requirepass_file} ({reason}); "
                "give a readable file whose first line is the password"
            ) from None
        if not password:  # asked for a password, and would have run without one
            raise ArgsError(
                f"--requirepass-file {args.requirepass_file} has no password on its first "
                "line; write it there (or drop the flag to run without a password)"
            )
    if password is None:
        password = os.environ.get(PASSWORD_ENV, "")
    replicaof = None
    if args.replicaof:
        host, port = args.replicaof
        try:
            replicaof = (host, _port(port))
        except argparse.ArgumentTypeError as exc:
            raise ArgsError(f"--replicaof {host} {port}: {exc}; give the primary's port") from None
        if replicaof[1] == 0:
            raise ArgsError(f"--replicaof {host} 0: a primary listens on a port 1..65535")
    return ServerConfig(
        port=args.port,
        bind=args.bind,
        tls_port=args.tls_port,
        tls_cert_file=args.tls_cert_file,
        tls_key_file=args.tls_key_file,
        tls_ca_cert_file=args.tls_ca_cert_file,
        tls_auth_clients=args.tls_auth_clients,
        tls_replication=args.tls_replication,
        replicaof=replicaof,
        az=args.az,
        durability=args.durability,
        sync_replicas=args.sync_replicas,
        sync_timeout_ms=args.sync_timeout_ms,
        lag_limit_ms=args.lag_limit_ms,
        requirepass=password,
        masterauth=args.masterauth if args.masterauth is not None else password,
        dir=args.dir,
        appendonly=args.appendonly,
        appendfsync=args.appendfsync,
        repl_timeout_ms=args.repl_timeout_ms,
        repl_ack_period_ms=args.repl_ack_period_ms,
        repl_backlog_size=args.repl_backlog_size,
        proto_max_bulk_len=args.proto_max_bulk_len,
        protected_mode=args.protected_mode,
        loglevel=args.loglevel,
        logfile=args.logfile,
        bugs=frozenset(args.bug),
    )


async def _serve(config: ServerConfig, use_hiredis: bool | None) -> None:
    from harness.server._server import Server

    server = Server(config, use_hiredis=use_hiredis)
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = loop.create_task(server.serve_forever())
    await stop.wait()
    server.log("notice", "Received a signal, shutting down")
    server.close()
    serving.cancel()


def _tls_problem(config: ServerConfig) -> str | None:
    """Why the listeners or the TLS options cannot work (checked before the loop starts)."""
    if not config.port and not config.tls_port:
        return "--port 0 without --tls-port leaves nothing to listen on; give a port"
    if not config.tls_port and not config.tls_replication:
        return None
    from harness.server._tls import TlsConfigError, replica_context, server_context

    try:
        if config.tls_port:
            server_context(config)
        if config.tls_replication:
            replica_context(config)
    except TlsConfigError as exc:
        return str(exc)
    return None


def run(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM/SIGINT; 0 on a clean stop."""
    if args.list_bugs:
        json.dump([bug.as_json() for bug in BUGS.values()], sys.stdout, indent=2)
        print()
        return 0
    from harness.server._server import StartError

    try:
        config = config_from_args(args)
    except ArgsError as exc:
        print(f"ackbound server: {exc}", file=sys.stderr)
        return EXIT_COULD_NOT_START
    problem = _tls_problem(config)
    if problem is not None:
        print(f"ackbound server: {problem}", file=sys.stderr)
        return EXIT_COULD_NOT_START
    use_hiredis = False if args.no_hiredis else None
    loop_run = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            loop_run = uvloop.run
    try:
        loop_run(_serve(config, use_hiredis))
    except StartError as exc:
        print(f"ackbound server: {exc}", file=sys.stderr)
        return EXIT_COULD_NOT_START
    return 0
