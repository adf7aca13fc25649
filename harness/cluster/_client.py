"""Client connections to nodes: a small protocol with one implementation per library.

The conformance run's clients talk to nodes through :class:`RespClient`, so the client
library is a choice of the target (``client = "valkey-py"``, the default, or ``"glide"``,
harness/cluster/_glide.py); the controller's own connections always use valkey-py, whatever
the target's clients are. Whatever the library, a client:

- sends the commands it is asked to and adds none of its own to the data (valkey-py: one
  connection, no retries, as a retried write could be applied twice and the history would
  not say so; GLIDE: whatever GLIDE does with its settings, which is what a target choosing
  it wants to see);
- reports a server error reply as :class:`ServerError` carrying the reply text exactly as sent
  (``"NOREPLICAS Not enough good replicas to write."``), so that the error registry can
  classify it by prefix;
- reports a timeout as :class:`ClientTimeout` and any other connection failure — a reply
  that is not RESP too — as :class:`ClientConnectionError` (a refused TLS handshake as its subclass
  :class:`ClientTLSError`, refused credentials as :class:`ClientAuthError`), and reconnects on
  the next command;
- speaks TLS and authenticates as :class:`ConnectOptions` say. Through the fault proxy the
  address connected to is not the node's: ``server_name`` is the name its certificate is
  checked against.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from harness.targets import Credentials, GlideSpec, TlsSpec

__all__ = [
    "CLIENT_FACTORIES",
    "NOT_RESP",
    "ClientAuthError",
    "ClientConnectionError",
    "ClientError",
    "ClientRefused",
    "ClientTLSError",
    "ClientTimeout",
    "ConnectOptions",
    "Pipelining",
    "RespClient",
    "ServerError",
    "client_version",
    "connect",
    "ssl_context",
]


# How every error for a reply that is not RESP begins (after the node's name): a server
# that sends such bytes is broken in a way no durability verdict describes.
NOT_RESP: Final = "the reply is not RESP"


class ClientError(Exception):
    """Base of everything a :class:`RespClient` raises."""


class ServerError(ClientError):
    """The server replied with an error; ``str(exc)`` is the reply text without ``-``."""


class ClientTimeout(ClientError):
    """No reply within the client's timeout (the command may or may not have run)."""


class ClientConnectionError(ClientError):
    """The connection could not be made or broke (the command may or may not have run)."""


class ClientTLSError(ClientConnectionError):
    """The TLS handshake was refused: a certificate did not verify, the node asked for a
    client certificate we do not have, or one side does not speak TLS."""


class ClientRefused(ClientError):
    """The client library refused to send the command: it never left, so it was not applied
    (GLIDE's client of a replica does not send writes)."""


class ClientAuthError(ClientConnectionError):
    """The node refused the credentials (WRONGPASS), or wants some and got none (NOAUTH)."""


@dataclass(frozen=True, kw_only=True)
class ConnectOptions:
    """How to reach a node beyond its address: TLS, credentials, client settings."""

    tls: TlsSpec | None = None
    credentials: Credentials | None = None
    server_name: str | None = None
    """The name the node's certificate is checked against (default: the host connected to)."""
    glide: GlideSpec | None = None


NO_OPTIONS: Final = ConnectOptions()


@functools.lru_cache(maxsize=16)
def ssl_context(tls: TlsSpec) -> ssl.SSLContext:
    """The client-side context for ``tls`` (stdlib ``ssl``, TLS 1.2 or later)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif tls.ca_file is not None:
        ctx.load_verify_locations(cafile=tls.ca_file)
    else:
        ctx.load_default_certs()
    if tls.cert_file is not None and tls.key_file is not None:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    return ctx


# Words in an SSL error that mean the handshake was refused for good (a configuration to fix),
# not that a connection broke halfway (EOF, reset), which a retry may get past.
_TLS_REFUSALS: Final = (
    "certificate",
    "unknown ca",
    "alert",
    "wrong version number",
    "wrong_version_number",
    "packet length too long",
    "record layer failure",
    "no protocols available",
)


def tls_refusal(text: str) -> bool:
    lowered = text.lower()
    return "eof" not in lowered and any(word in lowered for word in _TLS_REFUSALS)


class RespClient(Protocol):
    """One connection to one node."""

    @property
    def node(self) -> str: ...

    def execute(self, *args: str | int | bytes) -> Any:
        """Send one command and return its reply (strings decoded as UTF-8)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Pipelining(Protocol):
    """A client that can send several commands back to back on one connection."""

    def execute_all(self, *commands: Sequence[str | int | bytes]) -> list[Any]:
        """Each command's reply, in order; a server's error reply as a :class:`ServerError`
        in its place. Raises :class:`ClientError` if the connection failed on the way."""
        ...


class _ValkeyPyClient:
    """valkey-py's single :class:`valkey.Connection`, without retries or hidden commands."""

    def __init__(
        self, node: str, host: str, port: int, timeout_s: float, options: ConnectOptions
    ) -> None:
        import valkey
        from valkey.backoff import NoBackoff
        from valkey.connection import DefaultParser
        from valkey.exceptions import ResponseError
        from valkey.retry import Retry

        class _VerbatimErrors(DefaultParser):  # type: ignore[misc, valid-type]
            """Keep error replies verbatim; valkey-py strips some prefixes (READONLY, ...)."""

            @classmethod
            def parse_error(cls, response: str) -> ResponseError:
                return ResponseError(response)

        self._node = node
        self._valkey = valkey
        connection_class: Any = valkey.Connection
        tls = options.tls
        if tls is not None:
            context = ssl_context(tls)
            server_name = tls.server_name or options.server_name or host

            class _TlsConnection(valkey.Connection):
                """A plain connection wrapped in our own context, checked against the
                node's name rather than the proxy's address."""

                def _connect(self) -> socket.socket:
                    sock: socket.socket = super()._connect()  # type: ignore[no-untyped-call]
                    try:
                        return context.wrap_socket(sock, server_hostname=server_name)
                    except ssl.SSLError as exc:
                        sock.close()
                        raise _Refused(str(exc)) from None
                    except OSError:
                        sock.close()
                        raise

            connection_class = _TlsConnection
        credentials = options.credentials
        self._conn: Any = connection_class(
            host=host,
            port=port,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            lib_name=None,
            lib_version=None,
            parser_class=_VerbatimErrors,
            username=None if credentials is None else credentials.user,
            password=None if credentials is None else credentials.password,
        )
        self._conn_tls = tls is not None

    @property
    def node(self) -> str:
        return self._node

    def _connect(self) -> None:
        """Connect (and authenticate) if not connected; errors as :class:`ClientError`."""
        v = self._valkey
        if self._conn._sock is not None:
            return
        try:
            self._conn.connect()
        except _Refused as exc:
            raise ClientTLSError(f"{self._node}: TLS handshake refused: {exc}") from None
        except v.exceptions.ResponseError as exc:  # to AUTH: WRONGPASS, ...
            self._conn.disconnect()
            raise ClientAuthError(f"{self._node}: {exc}") from None

    def execute(self, *args: str | int | bytes) -> Any:
        v = self._valkey
        try:
            self._connect()
            self._conn.send_command(*args)
            return self._conn.read_response()
        except ClientError:
            self._conn.disconnect()
            raise
        except v.exceptions.TimeoutError as exc:
            self._conn.disconnect()
            raise ClientTimeout(f"{self._node}: {exc}") from None
        except v.exceptions.ConnectionError as exc:
            self._conn.disconnect()
            if self._conn_tls and tls_refusal(str(exc)):
                # TLS 1.3: a refused client certificate shows at the first read
                raise ClientTLSError(f"{self._node}: TLS refused: {exc}") from None
            raise ClientConnectionError(f"{self._node}: {exc}") from None
        except v.exceptions.ResponseError as exc:
            raise ServerError(str(exc)) from None
        except v.exceptions.InvalidResponse as exc:  # bytes that are not RESP: drop them
            self._conn.disconnect()
            raise ClientConnectionError(f"{self._node}: {NOT_RESP} ({exc})") from None
        except UnicodeDecodeError as exc:  # text replies are decoded; these bytes are not text
            self._conn.disconnect()
            raise ClientConnectionError(
                f"{self._node}: {NOT_RESP} text a client can decode (not UTF-8: {exc.reason})"
            ) from None
        except RecursionError:  # arrays within arrays, deeper than the parser can follow
            self._conn.disconnect()
            raise ClientConnectionError(
                f"{self._node}: {NOT_RESP} a client can read (nested too deeply)"
            ) from None
        except OSError as exc:
            self._conn.disconnect()
            raise ClientConnectionError(f"{self._node}: {exc}") from None

    def close(self) -> None:
        self._conn.disconnect()

    def __repr__(self) -> str:
        return f"<valkey-py client of {self._node}>"


class _Refused(Exception):
    """A TLS handshake refused (raised past valkey-py's connect, which would flatten it)."""


def _glide_factory(
    node: str, host: str, port: int, timeout_s: float, options: ConnectOptions
) -> RespClient:
    from harness.cluster._glide import GlideRespClient

    return GlideRespClient(node, host, port, timeout_s, options)


ClientFactory = Callable[[str, str, int, float, ConnectOptions], RespClient]

# client name (a target's ``client``) -> factory(node, host, port, timeout_s, options)
CLIENT_FACTORIES: Final[dict[str, ClientFactory]] = {
    "valkey-py": _ValkeyPyClient,
    "glide": _glide_factory,
}

# client name -> the distribution whose version results.json records
_DISTRIBUTIONS: Final = {"valkey-py": "valkey", "glide": "valkey-glide-sync"}


def client_version(client: str) -> str:
    """``"valkey-py 6.2.0"``: the client library and its installed version, for reports."""
    from importlib import metadata

    dist = _DISTRIBUTIONS.get(client)
    if dist is None:
        return client
    try:
        return f"{client} {metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return f"{client} (not installed)"


def connect(
    client: str,
    node: str,
    host: str,
    port: int,
    timeout_s: float,
    options: ConnectOptions = NO_OPTIONS,
) -> RespClient:
    """A new (lazily connecting) client of ``node`` at ``host:port``."""
    factory = CLIENT_FACTORIES.get(client)
    if factory is None:
        raise ValueError(
            f"unknown client library {client!r}; use one of {', '.join(CLIENT_FACTORIES)}"
        )
    return factory(node, host, port, timeout_s, options)
