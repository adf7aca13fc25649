"""The target schema's [tls], [auth], [glide] and node URLs: what loads, and each error."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.targets import (
    Credentials,
    GlideReconnect,
    GlideSpec,
    TargetError,
    load_target_file,
    parse_target,
)
from harness.targets._secure import config_lines

EXTERNAL = """
name = "managed"
kind = "external"
[external]
nodes = [
  {name = "a", url = "rediss://db-a.example.com:6380", az = "eu-1a"},
  {name = "b", url = "rediss://db-b.example.com:6380", az = "eu-1b"},
]
[replication]
replicaof = [["REPLICAOF", "{primary_host}", "{primary_port}"]]
promote = [["REPLICAOF", "NO", "ONE"]]
[modes.none]
write = "plain"
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name in ("ca.pem", "node.pem", "node-key.pem", "client.pem", "client-key.pem"):
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    return tmp_path


def write(where: Path, text: str) -> Path:
    path = where / "target.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(where: Path, text: str) -> str:
    with pytest.raises(TargetError) as info:
        load_target_file(write(where, text))
    message = str(info.value)
    assert "\n" not in message
    return message.split(": ", 1)[1]


def test_tls_paths_are_relative_to_the_target_file_and_fill_the_start_arguments(
    files: Path,
) -> None:
    target = load_target_file(
        write(
            files,
            'extends = "redis"\nname = "r"\n[tls]\nca_file = "ca.pem"\n'
            'server_cert_file = "node.pem"\nserver_key_file = "node-key.pem"\n'
            '[auth]\nuser = "app"\npassword_env = "R_PW"\n',
        )
    )
    assert target.tls is not None and target.tls.ca_file == str(files / "ca.pem")
    argv = target.start_command(
        binary="/bin/redis-server", name="n1", index=0, az="az1", host="127.0.0.1", port=7000,
        dir="/d",
    )  # fmt: skip
    tail = argv[argv.index("--tls-port") - 2 :]
    assert tail == [
        "--port", "0", "--tls-port", "7000", "--tls-cert-file", str(files / "node.pem"),
        "--tls-key-file", str(files / "node-key.pem"), "--tls-ca-cert-file", str(files / "ca.pem"),
        "--tls-auth-clients", "no", "--tls-replication", "yes", "-",
    ]  # fmt: skip
    assert "R_PW" not in " ".join(argv)


def test_a_client_certificate_makes_nodes_ask_for_one(files: Path) -> None:
    target = load_target_file(
        write(
            files,
            'extends = "bundled"\nname = "b"\n[tls]\nca_file = "ca.pem"\ncert_file = "client.pem"\n'
            'key_file = "client-key.pem"\nserver_cert_file = "node.pem"\n'
            'server_key_file = "node-key.pem"\n',
        )
    )
    argv = target.start_command(
        binary="", name="n1", index=0, az="az1", host="127.0.0.1", port=7000, dir="/d"
    )
    assert argv[argv.index("--tls-auth-clients") + 1] == "yes"


def test_rediss_urls_turn_tls_on_for_an_external_target(tmp_path: Path) -> None:
    target = parse_target(tomllib.loads(EXTERNAL), "managed.toml")
    assert target.tls is not None and target.tls.ca_file is None  # the system's CA store
    assert target.external is not None
    assert [(n.host, n.port) for n in target.external.nodes] == [
        ("db-a.example.com", 6380),
        ("db-b.example.com", 6380),
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "rediss://db-a.example.com:6380",
            "rediss://:hunter2@db-a.example.com:6380",
            "key 'external.nodes[0].url': holds credentials; remove them from the URL and name "
            "where the password is in [auth] (password_env or password_file), so it never "
            "lands in a file or argv",
        ),
        (
            "rediss://db-a.example.com:6380",
            "redis://db-a.example.com:6380",
            "key 'external.nodes[1].url': mixes TLS and plain URLs; every node of a target uses "
            "the same scheme",
        ),
        (
            "rediss://db-a.example.com:6380",
            "http://db-a.example.com",
            "key 'external.nodes[0].url': 'http://db-a.example.com': use a redis://, rediss:// "
            "(TLS), valkey:// or valkeys:// URL",
        ),
        (
            "rediss://db-a.example.com:6380",
            "rediss://db-a.example.com:0",
            "key 'external.nodes[0].url': 'rediss://db-a.example.com:0': port 0 is no port a "
            "node listens on; give its port",
        ),
        (
            "rediss://db-a.example.com:6380",
            "rediss://[::1",
            "key 'external.nodes[0].url': 'rediss://[::1' is no URL (Invalid IPv6 URL); write "
            "scheme://host:port, an IPv6 address in []",
        ),
        (
            "rediss://db-a.example.com:6380",
            "rediss://[zz]:6380",
            "key 'external.nodes[0].url': 'rediss://[zz]:6380' is no URL ('zz' does not "
            "appear to be an IPv4 or IPv6 address); write scheme://host:port, an IPv6 address "
            "in []",
        ),
        (
            'url = "rediss://db-a.example.com:6380"',
            'url = "rediss://db-a.example.com:6380", port = 1',
            "key 'external.nodes[0].port': is given by url too; keep url, or host and port",
        ),
    ],
)
def test_node_url_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert error_of(tmp_path, EXTERNAL.replace(old, new, 1)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[auth]\npassword = "hunter2"\n',
            "key 'auth.password': a target file never holds the password; put it in an "
            "environment variable or a file and name it with password_env or password_file",
        ),
        (
            '[auth]\nuser = "app"\n',
            "key 'auth.password_env': give exactly one of password_env (an environment "
            "variable) and password_file (a file whose first line is the password)",
        ),
        (
            '[auth]\npassword_env = "MY-PW"\n',
            "key 'auth.password_env': 'MY-PW' is not an environment variable name",
        ),
        (
            '[auth]\nuser = "app"\npassword_env = "PW"\n',
            "key 'auth.user': 'app': the nodes get only a password through "
            "$ACKBOUND_SERVER_PASSWORD; drop user (the default user) or use "
            "[start].config_stdin so the harness can create the user",
        ),
        (
            '[tls]\nca_file = "missing.pem"\n',
            "key 'tls.ca_file': {dir}/missing.pem is not a file; give the path of the CA "
            "certificates (PEM) the nodes' certificates chain to (a relative path is relative "
            "to the target file)",
        ),
        (
            '[tls]\ncert_file = "client.pem"\n',
            "key 'tls.key_file': is missing: a client certificate needs both cert_file and "
            "key_file",
        ),
        (
            '[tls]\nca_file = "ca.pem"\n',
            "key 'tls.server_cert_file': is missing but [start].tls_args uses "
            "{tls_server_cert_file}; add it (the nodes the harness starts need it)",
        ),
        (
            "[glide]\nrequest_timeout_ms = 100\n",
            "key 'glide': configures the GLIDE client, but client = 'valkey-py'; set client = "
            '"glide" or remove [glide]',
        ),
        (
            'client = "glide"\n[glide.reconnect]\nretries = 3\njitter_percent = 150\n',
            "key 'glide.reconnect.jitter_percent': must be 0..100; got 150",
        ),
    ],
)
def test_secure_section_errors(files: Path, text: str, expected: str) -> None:
    message = error_of(files, f'extends = "bundled"\nname = "b"\n{text}')
    assert message == expected.replace("{dir}", str(files))


def test_tls_on_a_process_target_needs_start_arguments(files: Path) -> None:
    mystore = Path(__file__).parents[1] / "data" / "targets" / "mystore.toml"
    text = mystore.read_text(encoding="utf-8") + '\n[tls]\nca_file = "ca.pem"\n'
    assert error_of(files, text).startswith("key 'tls': needs [start].tls_args")


def test_the_password_is_read_at_start_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = load_target_file(
        write(tmp_path, 'extends = "bundled"\nname = "b"\n[auth]\npassword_env = "AB_PW"\n')
    )
    assert target.auth is not None
    monkeypatch.delenv("AB_PW", raising=False)
    with pytest.raises(TargetError, match=r"names \$AB_PW, which is not set; export it"):
        target.auth.resolve()
    monkeypatch.setenv("AB_PW", "s3cr3t-value")
    credentials = target.auth.resolve()
    assert credentials == Credentials(None, "s3cr3t-value")
    assert "s3cr3t" not in repr(credentials) + str(credentials) + repr(target)


def test_a_password_file_gives_its_first_line(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("first line\nsecond\n", encoding="utf-8")
    target = load_target_file(
        write(tmp_path, 'extends = "redis"\nname = "r"\n[auth]\npassword_file = "pw"\n')
    )
    assert target.auth is not None
    assert target.auth.resolve().password == "first line"


def test_config_lines_quote_what_valkey_would_misread() -> None:
    assert config_lines(Credentials(None, 'a "b" \\c')) == (
        'requirepass "a \\"b\\" \\\\c"\nmasterauth "a \\"b\\" \\\\c"\n'
    )
    assert config_lines(Credentials("app", "p\nw")) == (
        'user "app" on ">p\\x0aw" ~* &* +@all\nuser default off\n'
        'masteruser "app"\nmasterauth "p\\x0aw"\n'
    )


def test_glide_settings_load(tmp_path: Path) -> None:
    target = load_target_file(
        write(
            tmp_path,
            'extends = "bundled"\nname = "g"\nclient = "glide"\n[glide]\n'
            'request_timeout_ms = 800\nprotocol = "resp2"\n[glide.reconnect]\nretries = 4\n',
        )
    )
    assert target.client == "glide"
    assert target.glide == GlideSpec(
        request_timeout_ms=800, protocol="resp2", reconnect=GlideReconnect(retries=4)
    )
