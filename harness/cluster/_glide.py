"""Valkey GLIDE as a :class:`RespClient` (``client = "glide"``, the ``glide`` extra).

GLIDE is the client a target asks for when its users run GLIDE: the conformance run then
sees what GLIDE does with its own settings (``[glide]``: request timeout, reconnect backoff,
protocol) — waits, reconnects and all — rather than the single bare connection valkey-py
gives. What GLIDE does, measured (docs/clients.md): in standalone mode it passes every
server error reply straight through (``CLUSTERDOWN`` included: no retry), and while a node
is unreachable it holds commands up to the request timeout, reconnecting with its backoff.

Four things make GLIDE fit the harness:

- **Errors back to their RESP text.** GLIDE reports a server error as its Rust client's kind
  (``"An error was signalled by the server: - ClusterDown: Write rejected ..."``) or as
  ``"CODE: text"``; :func:`server_error_text` restores ``"CLUSTERDOWN Write rejected ..."``
  so the target's error registry classifies it by prefix exactly as for valkey-py. A
  message that is not a server reply stays a client error (indeterminate).
- **Replicas.** GLIDE's standalone client refuses an address list without a primary; a
  client of a replica (final reads) is made in GLIDE's read-only mode, and made afresh if
  the node has become the primary since.
- **No fork hook.** ``GlideClient.create`` registers ``os.register_at_fork`` to reconnect
  every live client in a forked child; the harness forks to start nodes, so each restart
  would open a connection per client from the child (measured: 20 clients × 5 spawns = 100
  stray connections, spawns 40-95 ms instead of ~1 ms). Clients here are made without it.
- **Quiet stderr.** GLIDE's core prints every failed command to stderr ("Error executing
  command: ...") whatever its log level; the history already records each error, so while
  a cluster uses GLIDE those lines are dropped from the harness's stderr (:data:`STDERR`).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import threading
from collections.abc import Sequence
from typing import Any, Final

from harness.cluster._client import (
    ClientAuthError,
    ClientConnectionError,
    ClientError,
    ClientRefused,
    ClientTimeout,
    ConnectOptions,
    ServerError,
)

__all__ = ["STDERR", "GlideRespClient", "preload", "server_error_text"]

# The Rust client's error kinds (as GLIDE prints them) -> the RESP prefix the server sent.
_KIND_PREFIX: Final = {
    "ResponseError": "ERR",
    "ClusterDown": "CLUSTERDOWN",
    "ReadOnly": "READONLY",
    "BusyLoadingError": "LOADING",
    "MasterDown": "MASTERDOWN",
    "TryAgain": "TRYAGAIN",
    "Moved": "MOVED",
    "Ask": "ASK",
    "ExecAbortError": "EXECABORT",
    "NoScriptError": "NOSCRIPT",
    "PermissionDenied": "NOPERM",
    "CrossSlot": "CROSSSLOT",
    "NotBusy": "NOTBUSY",
}
_FROM_SERVER: Final = "An error was signalled by the server:"
_CODE: Final = re.compile(r"([A-Z][A-Z0-9_]*): (.*)\Z", re.DOTALL)
_NO_DETAIL: Final = "Unknown extension error encountered"


def server_error_text(message: str) -> str | None:
    """The server's error reply behind a GLIDE error message, or None if it is not one."""
    if message.startswith(_FROM_SERVER):
        rest = message[len(_FROM_SERVER) :].lstrip()
        rest = rest[1:].lstrip() if rest.startswith("-") else rest
        kind, _sep, detail = rest.partition(": ")
        prefix = _KIND_PREFIX.get(kind.strip())
        if prefix is None:
            return None
        return f"{prefix} {detail}" if detail else prefix
    match = _CODE.match(message)
    if match is None:
        return None
    code, detail = match.groups()
    return code if detail == _NO_DETAIL else f"{code} {detail}"


def _command(args: Sequence[str | int | bytes]) -> list[Any]:
    """A command's arguments as GLIDE takes them: bytes as they are, the rest as text."""
    return [a if isinstance(a, bytes) else str(a) for a in args]


def _decode(value: Any) -> Any:
    """GLIDE's reply as valkey-py gives it: text as str, sets as lists."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | set | frozenset | tuple):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        return {_decode(k): _decode(v) for k, v in value.items()}
    return value


class GlideRespClient:
    """One GLIDE standalone client of one node, created on first use."""

    def __init__(
        self, node: str, host: str, port: int, timeout_s: float, options: ConnectOptions
    ) -> None:
        self._node = node
        self._host = host
        self._port = port
        self._timeout_ms = max(1, round(timeout_s * 1000))
        self._options = options
        self._client: Any = None
        self._read_only = False

    @property
    def node(self) -> str:
        return self._node

    # -- creating ----------------------------------------------------------------------------
    def _configuration(self, read_only: bool) -> Any:
        import glide_sync as g

        opts = self._options
        spec = opts.glide
        request_timeout = spec.request_timeout_ms if spec and spec.request_timeout_ms else None
        connection_timeout = (
            spec.connection_timeout_ms if spec and spec.connection_timeout_ms else None
        )
        tls_config = None
        address = g.NodeAddress(self._host, self._port)
        resolver = None
        if opts.tls is not None:
            tls = opts.tls

            def read(path: str | None) -> bytes | None:
                if path is None:
                    return None
                with open(path, "rb") as f:
                    return f.read()

            tls_config = g.TlsAdvancedConfiguration(
                use_insecure_tls=tls.insecure or None,
                root_pem_cacerts=None if tls.insecure else read(tls.ca_file),
                client_cert_pem=read(tls.cert_file),
                client_key_pem=read(tls.key_file),
            )
            # Through the proxy: GLIDE checks the certificate against the address it is
            # given, so give it the node's name and resolve that name to the proxy.
            name = tls.server_name or opts.server_name or self._host
            address = g.NodeAddress(name, self._port)
            host, port = self._host, self._port
            resolver = lambda _h, _p: (host, port)  # noqa: E731
        credentials = None
        if opts.credentials is not None:
            credentials = g.ServerCredentials(
                password=opts.credentials.password, username=opts.credentials.user
            )
        reconnect = None
        if spec is not None and spec.reconnect is not None:
            r = spec.reconnect
            reconnect = g.BackoffStrategy(
                num_of_retries=r.retries,
                factor=r.factor_ms,
                exponent_base=r.exponent_base,
                jitter_percent=r.jitter_percent,
            )
        protocol = g.ProtocolVersion.RESP2 if spec and spec.protocol == "resp2" else None
        kwargs: dict[str, Any] = {}
        if protocol is not None:
            kwargs["protocol"] = protocol
        if resolver is not None:
            kwargs["address_resolver"] = resolver
        return g.GlideClientConfiguration(
            [address],
            use_tls=opts.tls is not None,
            credentials=credentials,
            request_timeout=request_timeout or self._timeout_ms,
            reconnect_strategy=reconnect,
            inflight_requests_limit=spec.inflight_requests_limit if spec else None,
            advanced_config=g.AdvancedGlideClientConfiguration(
                connection_timeout=connection_timeout or self._timeout_ms,
                tls_config=tls_config,
            ),
            read_only=read_only,
            **kwargs,
        )

    def _create(self, read_only: bool) -> Any:
        from glide_sync import GlideClient

        _quiet_logger()
        config = self._configuration(read_only)
        glide_client: Any = GlideClient
        client = glide_client(config)
        if hasattr(client, "_create_core_client"):
            # GlideClient.create minus its os.register_at_fork hook (see the module doc)
            client._config = config
            client._is_closed = False
            client._create_core_client()
            return client
        return glide_client.create(config)

    def _ensure(self, *, want_primary: bool = False) -> Any:
        if self._client is not None and not (want_primary and self._read_only):
            return self._client
        self._drop()
        try:
            try:
                self._client, self._read_only = self._create(False), False
            except Exception as exc:
                if want_primary or "No primary node found" not in str(exc):
                    raise
                self._client, self._read_only = self._create(True), True
        except Exception as exc:
            raise self._error(exc) from None
        return self._client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    # -- using -------------------------------------------------------------------------------
    def execute(self, *args: str | int | bytes) -> Any:
        command = _command(args)
        client = self._ensure()
        try:
            return _decode(client.custom_command(command))
        except Exception as exc:
            if not (self._read_only and "read-only mode" in str(exc)):
                raise self._error(exc) from None
        # Refused by a client made while the node was a replica: it may be the primary now.
        client = self._primary_client()
        try:
            return _decode(client.custom_command(command))
        except Exception as exc:
            raise self._error(exc) from None

    def _primary_client(self) -> Any:
        """A client that sends writes: ``ClientRefused`` if the node is still a replica."""
        try:
            return self._ensure(want_primary=True)
        except ClientConnectionError as exc:
            if "No primary node found" in str(exc):
                raise ClientRefused(
                    f"{self._node} is not a primary, and GLIDE's client of a replica "
                    "(read-only mode) does not send writes"
                ) from None
            raise

    def execute_all(self, *commands: Sequence[str | int | bytes]) -> list[Any]:
        """Send ``commands`` back to back on one connection (GLIDE's non-atomic batch) and
        return their replies, a server's error reply as a :class:`ServerError` in its place.

        What ``WAIT`` counts is the replication of the last write *on its connection*;
        sent as two requests, GLIDE may reconnect in between and send ``WAIT`` on a fresh
        connection, which has written nothing and so is "acknowledged" at once. A lost
        connection here fails the whole batch (``ClientError``): the write is indeterminate.
        """
        import glide_sync as g

        batch = g.Batch(is_atomic=False)
        for args in commands:
            batch.custom_command(_command(args))
        client = self._ensure()
        if self._read_only:  # a client made while the node was a replica: writes need another
            client = self._primary_client()
        try:
            replies = client.exec(batch, raise_on_error=False)
        except Exception as exc:
            raise self._error(exc) from None
        if not isinstance(replies, list) or len(replies) != len(commands):
            self._drop()
            raise ClientConnectionError(
                f"{self._node}: {len(commands)} commands sent in one batch, but GLIDE returned "
                f"{replies!r}"
            )
        out: list[Any] = []
        for reply in replies:
            if isinstance(reply, Exception):
                err = self._error(reply)
                if not isinstance(err, ServerError):
                    raise err  # not the server's reply: the batch's fate is unknown
                out.append(err)
            else:
                out.append(_decode(reply))
        return out

    def _error(self, exc: Exception) -> ClientError:
        import glide_sync as g

        text = str(exc).strip()
        where = f"{self._node}: {text} (GLIDE {type(exc).__name__})"
        if isinstance(exc, g.TimeoutError):
            return ClientTimeout(where)
        reply = server_error_text(
            text.rpartition("`: ")[2] if "Received error for" in text else text
        )
        if isinstance(exc, g.ClosingError | g.ConnectionError):
            if reply is not None and reply.split(" ", 1)[0] in ("WRONGPASS", "NOAUTH"):
                return ClientAuthError(f"{self._node}: {reply}")
            self._drop()
            return ClientConnectionError(where)
        if isinstance(exc, g.ExecAbortError):
            return ServerError(reply or f"EXECABORT {text}")
        if reply is not None:
            return ServerError(reply)
        return ClientError(where)

    def close(self) -> None:
        self._drop()

    def __repr__(self) -> str:
        mode = ", read-only" if self._read_only else ""
        return f"<GLIDE client of {self._node}{mode}>"


def preload() -> None:
    """Import GLIDE now (raising a one-line error if it is missing) and quiet its logger."""
    try:
        import glide_sync  # noqa: F401
    except ImportError:
        from harness.targets import TargetError

        raise TargetError(
            "client = \"glide\" needs Valkey GLIDE: pip install 'ackbound[glide]' "
            "(the valkey-glide-sync package)"
        ) from None
    _quiet_logger()


_LOGGER_LOCK = threading.Lock()
_LOGGER_DONE = False


def _quiet_logger() -> None:
    global _LOGGER_DONE
    with _LOGGER_LOCK:
        if not _LOGGER_DONE:
            from glide_sync import Logger, LogLevel

            with contextlib.suppress(Exception):
                Logger.init(LogLevel.OFF)
            _LOGGER_DONE = True


class _StderrFilter:
    """Drops GLIDE's "Error executing command: ..." lines from this process's stderr.

    While acquired, fd 2 is a pipe; a thread copies what arrives to the real stderr as it
    comes, except whole lines that start with the marker (GLIDE's core may write one in
    pieces, so a line that starts with it is held until its newline). Released by its last
    holder, fd 2 is restored and the pipe drained.
    """

    MARKER: Final = b"Error executing command: "

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._saved: int | None = None
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        with self._lock:
            self._holders += 1
            if self._holders > 1:
                return
            try:
                read_fd, write_fd = os.pipe()
                self._saved = os.dup(2)
                os.dup2(write_fd, 2)
                os.close(write_fd)
            except OSError:
                self._holders -= 1
                return
            self._thread = threading.Thread(
                target=self._copy, args=(read_fd, self._saved), name="ackbound-glide-stderr",
                daemon=True,
            )  # fmt: skip
            self._thread.start()

    def release(self) -> None:
        with self._lock:
            if self._holders == 0:
                return
            self._holders -= 1
            if self._holders or self._saved is None:
                return
            os.dup2(self._saved, 2)  # closes the pipe's last writer: the thread drains and ends
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            if self._saved is not None and not self._holders:
                os.close(self._saved)
                self._saved = None

    def _copy(self, read_fd: int, out_fd: int) -> None:
        held = b""
        try:
            while True:
                ready, _, _ = select.select([read_fd], [], [], 0.05)
                if not ready:
                    if held and not held.startswith(self.MARKER):
                        self._write(out_fd, held)  # a quiet moment: a partial marker was not one
                        held = b""
                    continue
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break
                held = self._pass(out_fd, held + chunk)
        finally:
            if held and not held.startswith(self.MARKER):
                self._write(out_fd, held)
            os.close(read_fd)

    def _pass(self, out_fd: int, data: bytes) -> bytes:
        """Write what can go now; return what must wait for more data."""
        marker = self.MARKER
        while data:
            at = data.find(marker)
            if at < 0:
                # keep a tail that could be the start of the marker
                keep = next(
                    (n for n in range(min(len(marker) - 1, len(data)), 0, -1)
                     if marker.startswith(data[-n:])),
                    0,
                )  # fmt: skip
                self._write(out_fd, data[: len(data) - keep])
                return data[len(data) - keep :]
            if at:
                self._write(out_fd, data[:at])
                data = data[at:]
            end = data.find(b"\n")
            if end < 0:
                return data  # the marker's line is not complete yet
            data = data[end + 1 :]
        return b""

    @staticmethod
    def _write(fd: int, data: bytes) -> None:
        with contextlib.suppress(OSError):
            while data:
                data = data[os.write(fd, data) :]


STDERR: Final = _StderrFilter()
"""Acquired by a cluster whose target's client is GLIDE, released when it closes."""
