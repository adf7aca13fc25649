"""TLS for the bundled server: the listener's context and the replica link's, stdlib ``ssl``.

Valkey's options and their meaning:

- ``tls-port P`` opens a TLS listener next to (or, with ``port 0``, instead of) the plain one;
- ``tls-cert-file``/``tls-key-file`` are the node's certificate and key, presented to clients
  and, as Valkey does, to a primary when this node replicates over TLS;
- ``tls-ca-cert-file`` is the CA that client certificates (and a primary's certificate, for a
  replica) must chain to;
- ``tls-auth-clients yes|optional|no``: whether a client must present a certificate signed by
  that CA (``yes``, the default), may (``optional``: verified if presented), or is not asked;
- ``tls-replication yes`` makes a replica connect to its primary over TLS (verifying the
  primary's certificate against the CA; like Valkey, no host name check: nodes are addressed
  by IP) and announce its TLS port.
"""

from __future__ import annotations

import ssl
from typing import Final

from harness.server._config import ServerConfig

__all__ = ["TLS_AUTH_CLIENTS", "TlsConfigError", "replica_context", "server_context"]

TLS_AUTH_CLIENTS: Final = ("yes", "optional", "no")
_VERIFY: Final = {"yes": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "no": ssl.CERT_NONE}


class TlsConfigError(Exception):
    """A TLS option that cannot work; the message names the option and the fix."""


def _check(cfg: ServerConfig) -> None:
    if not cfg.tls_cert_file or not cfg.tls_key_file:
        raise TlsConfigError(
            "TLS needs --tls-cert-file and --tls-key-file (the node's certificate and key)"
        )
    if cfg.tls_auth_clients != "no" and not cfg.tls_ca_cert_file:
        raise TlsConfigError(
            f"--tls-auth-clients {cfg.tls_auth_clients} verifies client certificates, which "
            "needs --tls-ca-cert-file; give the CA or use --tls-auth-clients no"
        )


def _load_chain(ctx: ssl.SSLContext, cfg: ServerConfig) -> None:
    try:
        ctx.load_cert_chain(cfg.tls_cert_file, cfg.tls_key_file)
    except FileNotFoundError as exc:
        raise TlsConfigError(
            f"cannot read {exc.filename or cfg.tls_cert_file}; check --tls-cert-file and "
            "--tls-key-file"
        ) from None
    except ssl.SSLError as exc:
        raise TlsConfigError(
            f"--tls-cert-file {cfg.tls_cert_file} / --tls-key-file {cfg.tls_key_file}: "
            f"not a PEM certificate and its matching key ({exc.reason or exc}); give both in PEM"
        ) from None


def _load_ca(ctx: ssl.SSLContext, cfg: ServerConfig) -> None:
    try:
        ctx.load_verify_locations(cafile=cfg.tls_ca_cert_file)
    except (FileNotFoundError, ssl.SSLError) as exc:
        raise TlsConfigError(
            f"--tls-ca-cert-file {cfg.tls_ca_cert_file}: cannot load it as PEM CA "
            f"certificates ({getattr(exc, 'reason', None) or exc}); give the CA's PEM file"
        ) from None


def server_context(cfg: ServerConfig) -> ssl.SSLContext:
    """The TLS listener's context (raises :class:`TlsConfigError`)."""
    _check(cfg)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(ctx, cfg)
    if cfg.tls_ca_cert_file:
        _load_ca(ctx, cfg)
    ctx.verify_mode = _VERIFY[cfg.tls_auth_clients]
    return ctx


def replica_context(cfg: ServerConfig) -> ssl.SSLContext:
    """The context a replica connects to its primary with (``tls-replication yes``)."""
    _check(cfg)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    _load_chain(ctx, cfg)
    if cfg.tls_ca_cert_file:
        _load_ca(ctx, cfg)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
