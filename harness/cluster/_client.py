"""Client connections to nodes: a small protocol with one implementation per library.

The controller and the conformance run talk to nodes through :class:`RespClient`, so the client
library is a choice of the target (``client = "valkey-py"``); GLIDE (issue 7) adds itself to
:data:`CLIENT_FACTORIES`. Whatever the library, a client:

- sends exactly the commands it is asked to, on one connection, with no retries (a retried
  write could be applied twice, and the history would not say so);
- reports a server error reply as :class:`ServerError` carrying the reply text exactly as sent
  (``"NOREPLICAS Not enough good replicas to write."``), so that the error registry can
  classify it by prefix;
- reports a timeout as :class:`ClientTimeout` and any other connection failure as
  :class:`ClientConnectionError`, and reconnects on the next command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

__all__ = [
    "CLIENT_FACTORIES",
    "ClientConnectionError",
    "ClientError",
    "ClientTimeout",
    "RespClient",
    "ServerError",
    "connect",
]


class ClientError(Exception):
    """Base of everything a :class:`RespClient` raises."""


class ServerError(ClientError):
    """The server replied with an error; ``str(exc)`` is the reply text without ``-``."""


class ClientTimeout(ClientError):
    """No reply within the client's timeout (the command may or may not have run)."""


class ClientConnectionError(ClientError):
    """The connection could not be made or broke (the command may or may not have run)."""


class RespClient(Protocol):
    """One connection to one node."""

    @property
    def node(self) -> str: ...

    def execute(self, *args: str | int | bytes) -> Any:
        """Send one command and return its reply (strings decoded as UTF-8)."""
        ...

    def close(self) -> None: ...


class _ValkeyPyClient:
    """valkey-py's single :class:`valkey.Connection`, without retries or hidden commands."""

    def __init__(self, node: str, host: str, port: int, timeout_s: float) -> None:
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
        )

    @property
    def node(self) -> str:
        return self._node

    def execute(self, *args: str | int | bytes) -> Any:
        v = self._valkey
        try:
            self._conn.send_command(*args)
            return self._conn.read_response()
        except v.exceptions.TimeoutError as exc:
            self._conn.disconnect()
            raise ClientTimeout(f"{self._node}: {exc}") from None
        except v.exceptions.ConnectionError as exc:
            self._conn.disconnect()
            raise ClientConnectionError(f"{self._node}: {exc}") from None
        except v.exceptions.ResponseError as exc:
            raise ServerError(str(exc)) from None
        except OSError as exc:
            self._conn.disconnect()
            raise ClientConnectionError(f"{self._node}: {exc}") from None

    def close(self) -> None:
        self._conn.disconnect()

    def __repr__(self) -> str:
        return f"<valkey-py client of {self._node}>"


ClientFactory = Callable[[str, str, int, float], RespClient]

# client name (a target's ``client``) -> factory(node, host, port, timeout_s)
CLIENT_FACTORIES: Final[dict[str, ClientFactory]] = {
    "valkey-py": _ValkeyPyClient,
}


def connect(client: str, node: str, host: str, port: int, timeout_s: float) -> RespClient:
    """A new (lazily connecting) client of ``node`` at ``host:port``."""
    factory = CLIENT_FACTORIES.get(client)
    if factory is None:
        raise ValueError(
            f"unknown client library {client!r}; use one of {', '.join(CLIENT_FACTORIES)}"
        )
    return factory(node, host, port, timeout_s)
