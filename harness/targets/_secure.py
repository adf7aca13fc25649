"""Secure targets: TLS settings, where the password comes from, and the GLIDE client's settings.

A target file never holds a secret. ``[auth]`` names an environment variable or a file; the
password is read from there when a cluster starts (:meth:`AuthSpec.resolve`), kept in memory
in a :class:`Credentials` whose ``repr`` hides it, and handed to clients and to the nodes the
harness starts through their environment or their standard input — never through argv,
which every user of the machine can read and which the reports record.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from harness.targets._target import TargetError

__all__ = [
    "AuthSpec",
    "Credentials",
    "GlideReconnect",
    "GlideSpec",
    "TlsSpec",
    "config_lines",
]

ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True, kw_only=True)
class TlsSpec:
    """How clients (and the controller) speak TLS to the nodes, and the nodes' own files.

    Paths are absolute (a target file's relative paths are resolved against its directory).
    """

    ca_file: str | None = None
    """CA certificates the nodes' certificates must chain to (None: the system's store)."""
    cert_file: str | None = None
    """The harness's client certificate, for nodes that ask for one (mutual TLS)."""
    key_file: str | None = None
    insecure: bool = False
    """Skip verifying the nodes' certificates (tests only)."""
    server_name: str | None = None
    """The name node certificates are checked against (default: each node's host)."""
    server_cert_file: str | None = None
    """Nodes the harness starts: their certificate ({tls_server_cert_file})."""
    server_key_file: str | None = None

    def template_values(self) -> dict[str, str]:
        """Values of the ``{tls_*}`` placeholders of ``[start].tls_args``."""
        values = {"tls_auth_clients": "yes" if self.cert_file else "no"}
        for name, value in (
            ("tls_ca_file", self.ca_file),
            ("tls_server_cert_file", self.server_cert_file),
            ("tls_server_key_file", self.server_key_file),
        ):
            if value is not None:
                values[name] = value
        return values


@dataclass(frozen=True)
class Credentials:
    """A user (None: the default user) and a password, read when a cluster starts."""

    user: str | None
    password: str = field(repr=False)

    def __str__(self) -> str:
        return f"<credentials of {self.user or 'the default user'}>"


@dataclass(frozen=True, kw_only=True)
class AuthSpec:
    """Where the password is: an environment variable or the first line of a file."""

    user: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    source: str = ""  # the target file, for messages

    def where(self) -> str:
        if self.password_env is not None:
            return f"${self.password_env}"
        return f"the file {self.password_file}"

    def resolve(self) -> Credentials:
        """Read the password now (raises :class:`TargetError` naming where it should be)."""
        if self.password_env is not None:
            password = os.environ.get(self.password_env)
            if not password:
                raise TargetError(
                    f"{self.source}: [auth] password_env names ${self.password_env}, which is "
                    f"{'empty' if password == '' else 'not set'}; export it with the password"
                )
        else:
            assert self.password_file is not None
            try:
                with open(self.password_file, encoding="utf-8") as f:
                    password = f.readline().rstrip("\r\n")
            except OSError as exc:
                raise TargetError(
                    f"{self.source}: [auth] password_file {self.password_file} cannot be read "
                    f"({exc.strerror}); point it at a readable file holding the password"
                ) from None
            if not password:
                raise TargetError(
                    f"{self.source}: [auth] password_file {self.password_file} has an empty "
                    "first line; write the password on its first line"
                )
        return Credentials(self.user, password)


def _quote(value: str) -> str:
    """A Valkey config-file argument: double-quoted, with escapes for what needs them."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ch.isascii():
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def config_lines(credentials: Credentials) -> str:
    """Valkey/Redis configuration directives that give a node these credentials.

    Without a user: ``requirepass`` (the default user's password) and ``masterauth``. With a
    user: that user with every permission, the default user switched off, and ``masteruser``
    so replicas authenticate as it too.
    """
    pw = _quote(credentials.password)
    if credentials.user is None or credentials.user == "default":
        return f"requirepass {pw}\nmasterauth {pw}\n"
    user = credentials.user
    return (
        f"user {_quote(user)} on {_quote('>' + credentials.password)} ~* &* +@all\n"
        "user default off\n"
        f"masteruser {_quote(user)}\nmasterauth {pw}\n"
    )


@dataclass(frozen=True, kw_only=True)
class GlideReconnect:
    """GLIDE's reconnect backoff: rand(0 .. factor_ms * exponent_base^N), N up to retries."""

    retries: int
    factor_ms: int = 100
    exponent_base: int = 2
    jitter_percent: int | None = None


@dataclass(frozen=True, kw_only=True)
class GlideSpec:
    """The settings a ``client = "glide"`` target gives Valkey GLIDE (``[glide]``)."""

    request_timeout_ms: int | None = None
    """GLIDE's request timeout (default: the harness's per-operation timeout)."""
    connection_timeout_ms: int | None = None
    reconnect: GlideReconnect | None = None
    protocol: Literal["resp2", "resp3"] = "resp3"
    inflight_requests_limit: int | None = None


def check_env_name(name: str) -> bool:
    return bool(ENV_NAME.match(name))


def absolute(path: str, base: Path | None) -> str:
    expanded = Path(os.path.expanduser(path))
    if not expanded.is_absolute() and base is not None:
        expanded = base / expanded
    return str(expanded.absolute())
