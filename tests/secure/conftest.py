"""Fixtures for TLS and AUTH tests: a throwaway CA and certificates made per session.

``certs`` holds PEM files made with ``trustme``: a CA, a node certificate for 127.0.0.1 and
localhost (server and client use, so nodes also present it to their primary), a client
certificate, and an unrelated CA whose trust makes every handshake fail.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _deps import missing


@dataclass(frozen=True)
class Certs:
    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path

    def key_body(self) -> str:
        """A line from the middle of the node's private key: it must never be copied."""
        lines = self.server_key.read_text().splitlines()
        return lines[len(lines) // 2]


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    try:
        trustme: Any = importlib.import_module("trustme")
    except ImportError:
        missing("trustme", "pip install 'ackbound[test]' (or pip install trustme)")
    where = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    node = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("ackbound-client")
    other = trustme.CA()
    paths = Certs(
        dir=where,
        ca=where / "ca.pem",
        server_cert=where / "node.pem",
        server_key=where / "node-key.pem",
        client_cert=where / "client.pem",
        client_key=where / "client-key.pem",
        other_ca=where / "other-ca.pem",
    )
    ca.cert_pem.write_to_path(str(paths.ca))
    node.cert_chain_pems[0].write_to_path(str(paths.server_cert))
    node.private_key_pem.write_to_path(str(paths.server_key))
    client.cert_chain_pems[0].write_to_path(str(paths.client_cert))
    client.private_key_pem.write_to_path(str(paths.client_key))
    other.cert_pem.write_to_path(str(paths.other_ca))
    for key in (paths.server_key, paths.client_key):
        key.chmod(0o600)
    return paths
