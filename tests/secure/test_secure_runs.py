"""``ackbound run`` over TLS with AUTH, end to end, and the secrets that must never leak.

Each run uses a distinctive password and throwaway key material, then every file under the
run directory (histories, results.json, junit.xml, report.html, program.txt, node logs) and
the command's stdout and stderr are searched for them: none may appear.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _deps import missing, need_redis

from harness.cluster._ports import free_ports
from harness.report import validate_results

from .conftest import Certs

ACKBOUND = [sys.executable, "-m", "harness"]
# Distinctive, with characters a config file or a shell would mangle.
PASSWORD = 'Ackb0und-S3cret "quoted" \\ $HOME;'


def run_cli(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ACKBOUND, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env},
    )


def secrets_of(certs: Certs) -> list[str]:
    """The password and a line from the middle of each private key."""
    keys = [certs.server_key, certs.client_key]
    return [PASSWORD, *(k.read_text().splitlines()[1] for k in keys)]


def assert_no_secret(where: Path, out: subprocess.CompletedProcess[str], certs: Certs) -> None:
    secrets = secrets_of(certs)
    files = [p for p in where.rglob("*") if p.is_file()]
    assert len(files) > 10, files  # the run wrote its reports, histories and node logs
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"a secret is in {path}"
    for secret in secrets:
        assert secret not in out.stdout and secret not in out.stderr


def verdict(run_dir: Path) -> dict[str, object]:
    results = json.loads((run_dir / "results.json").read_text())
    validate_results(results)
    return results


def write_target(where: Path, text: str) -> Path:
    path = where / "target.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("client", ["valkey-py", "glide"])
def test_bundled_over_mutual_tls_with_a_password(tmp_path: Path, certs: Certs, client: str) -> None:
    if client == "glide" and importlib.util.find_spec("glide_sync") is None:
        missing("Valkey GLIDE", "pip install 'ackbound[glide]' (valkey-glide-sync)")
    # GLIDE is given the node's name (the certificate holds localhost) and resolves it to
    # the fault proxy; valkey-py checks the same name.
    target = write_target(
        tmp_path,
        f"""
extends = "bundled"
name = "bundled-tls"
client = "{client}"
[tls]
server_name = "localhost"
ca_file = "{certs.ca}"
cert_file = "{certs.client_cert}"
key_file = "{certs.client_key}"
server_cert_file = "{certs.server_cert}"
server_key_file = "{certs.server_key}"
[auth]
password_env = "ACKBOUND_TEST_PW"
""",
    )
    out = run_cli(
        "run", "--target", str(target), "--mode", "async", "--budget", "8", "--seed", "11",
        "--report-dir", "run", "--junit", "junit.xml", "--json", "results.json", "--quiet",
        cwd=tmp_path, env={"ACKBOUND_TEST_PW": PASSWORD},
    )  # fmt: skip
    assert out.returncode in (0, 1, 2), out.stderr
    results = verdict(tmp_path / "run")
    assert results["target"]["client"].startswith(f"{client} ")  # type: ignore[index]
    for node in ("n1", "n2", "n3"):
        log = (tmp_path / "run" / "nodes" / node / "log").read_text()
        assert "Ready to accept connections tls" in log
        assert "Ready to accept connections tcp" not in log  # TLS only
    assert_no_secret(tmp_path, out, certs)


@pytest.mark.slow
def test_redis_over_tls_with_an_acl_user(tmp_path: Path, certs: Certs) -> None:
    need_redis()
    (tmp_path / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
    target = write_target(
        tmp_path,
        f"""
extends = "redis"
name = "redis-tls"
[tls]
ca_file = "{certs.ca}"
server_cert_file = "{certs.server_cert}"
server_key_file = "{certs.server_key}"
[auth]
user = "ackbound"
password_file = "pw"
""",
    )
    out = run_cli(
        "run", "--target", str(target), "--mode", "async", "--budget", "8", "--seed", "11",
        "--report-dir", "run", "--quiet", cwd=tmp_path, env={},
    )  # fmt: skip
    assert out.returncode in (0, 1, 2), out.stderr
    verdict(tmp_path / "run")
    log = (tmp_path / "run" / "nodes" / "n1" / "log").read_text()
    assert "Reading config from stdin" in log and "Ready to accept connections" in log
    (tmp_path / "pw").unlink()  # the user's own file, not the harness's
    assert_no_secret(tmp_path, out, certs)


# -- a cluster running elsewhere, reached over TLS: wrong settings stop the run in one line ----


@pytest.fixture(scope="module")
def tls_cluster(
    tmp_path_factory: pytest.TempPathFactory, certs: Certs
) -> Iterator[tuple[int, int]]:
    """Two bundled nodes (primary, replica) serving TLS only, password ``PASSWORD``."""
    where = tmp_path_factory.mktemp("external")
    ports = tuple(free_ports(2))
    procs = []
    for i, port in enumerate(ports):
        log = where / f"node{i}.log"
        replica = ["--replicaof", "127.0.0.1", str(ports[0])] if i else []
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "harness.server",
                        "--port",
                        "0",
                        "--tls-port",
                        str(port),
                        "--tls-cert-file",
                        str(certs.server_cert),
                        "--tls-key-file",
                        str(certs.server_key),
                        "--tls-ca-cert-file",
                        str(certs.ca),
                        "--tls-auth-clients",
                        "optional",
                        "--tls-replication",
                        "yes",
                        "--az",
                        f"az{i}",
                        *replica,
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "ACKBOUND_SERVER_PASSWORD": PASSWORD},
                )
            )
    deadline = time.monotonic() + 15
    for i in range(2):
        while b"Ready to accept connections tls" not in (where / f"node{i}.log").read_bytes():
            if time.monotonic() > deadline:
                pytest.fail(f"external TLS node {i} did not start")
            time.sleep(0.02)
    yield ports
    for proc in procs:
        proc.kill()
        proc.wait(10)


EXTERNAL = """
name = "managed-tls"
kind = "external"
[external]
nodes = [
  {{name = "a", url = "rediss://127.0.0.1:{p0}", az = "az0"}},
  {{name = "b", url = "rediss://127.0.0.1:{p1}", az = "az1"}},
]
[tls]
ca_file = "{ca}"
[auth]
password_env = "MANAGED_PW"
[replication]
replicaof = [["REPLICAOF", "{{primary_host}}", "{{primary_port}}"]]
promote = [["REPLICAOF", "NO", "ONE"]]
[modes.none]
setup = [["CONFIG", "SET", "durability", "none"]]
write = "plain"
"""


@pytest.mark.parametrize(
    ("ca", "env", "needle"),
    [
        (
            "ca",
            {"MANAGED_PW": "not-the-password"},
            "node a (127.0.0.1:{p0}, target managed-tls) refused the credentials (WRONGPASS "
            "invalid username-password pair or user is disabled.); check the password in "
            "$MANAGED_PW (the default user; [auth] in {file})",
        ),
        (
            "other_ca",
            {"MANAGED_PW": PASSWORD},
            "node a (127.0.0.1:{p0}, target managed-tls) refused the TLS handshake (",
        ),
        ("ca", {}, "{file}: [auth] password_env names $MANAGED_PW, which is not set; export it"),
    ],
)
def test_wrong_password_or_certificate_is_one_line_naming_the_fix(
    tmp_path: Path,
    certs: Certs,
    tls_cluster: tuple[int, int],
    ca: str,
    env: dict[str, str],
    needle: str,
) -> None:
    p0, p1 = tls_cluster
    target = write_target(tmp_path, EXTERNAL.format(p0=p0, p1=p1, ca=getattr(certs, ca)))
    environment = {k: v for k, v in os.environ.items() if k != "MANAGED_PW"}
    start = time.monotonic()
    out = subprocess.run(
        [*ACKBOUND, "run", "--target", str(target), "--mode", "none", "--faults", "none",
         "--budget", "5", "--report-dir", "run", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**environment, **env},
    )  # fmt: skip
    assert out.returncode == 3, out.stdout + out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert needle.format(p0=p0, file=target) in lines[0]
    if ca == "other_ca":
        assert "certificate verify failed" in lines[0]
        assert "set [tls] ca_file in" in lines[0]
    assert time.monotonic() - start < 30  # refused at once, not after a readiness timeout
    assert PASSWORD not in out.stdout + out.stderr
    assert "not-the-password" not in out.stdout + out.stderr


def test_a_plain_target_against_tls_nodes_is_told_to_add_tls(
    tmp_path: Path, certs: Certs, tls_cluster: tuple[int, int]
) -> None:
    """It waited the 30 s readiness timeout, then said 'check that it runs and that the
    file gives its address': both were right."""
    p0, p1 = tls_cluster
    plain = EXTERNAL.format(p0=p0, p1=p1, ca=certs.ca).replace("rediss://", "redis://")
    plain = plain.replace(f'[tls]\nca_file = "{certs.ca}"\n', "")
    target = write_target(tmp_path, plain)
    start = time.monotonic()
    out = subprocess.run(
        [*ACKBOUND, "run", "--target", str(target), "--mode", "none", "--faults", "none",
         "--budget", "5", "--report-dir", "run", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "MANAGED_PW": PASSWORD},
    )  # fmt: skip
    assert out.returncode == 3, out.stdout + out.stderr
    assert out.stderr.strip() == (
        f"ackbound: error: node a (127.0.0.1:{p0}, target managed-tls) speaks TLS on this "
        f"port, and the target does not: add [tls] (or use rediss:// URLs) to {target}"
    )
    assert time.monotonic() - start < 20


def test_tls_asked_of_a_plain_node_is_named_and_tls_of_a_tls_node_is_no_mismatch(
    tls_cluster: tuple[int, int],
) -> None:
    from harness.cluster._cluster import _tls_mismatch

    (port,) = free_ports(1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.server", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the plain server did not start"
                time.sleep(0.05)
        assert _tls_mismatch("127.0.0.1", port, True) == (
            "answers plain RESP on this port, not TLS: give the node's TLS port, or drop "
            "[tls] (and rediss:// URLs) from"
        )
        assert _tls_mismatch("127.0.0.1", port, False) is None  # plain, as asked
    finally:
        proc.kill()
        proc.wait(10)
    assert _tls_mismatch("127.0.0.1", tls_cluster[0], True) is None  # TLS, as asked
