"""``ackbound server`` with flags it cannot use: one line on stderr naming the fix, exit 3,
never a traceback (the harness reads a node's log to say why it did not start)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest


def server(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "server", "--no-hiredis", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("loop", [[], ["--no-uvloop"]])
def test_a_taken_port_is_one_line_that_says_so(loop: list[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        line = one_line(server("--port", str(port), *loop))
    assert line.startswith(f"ackbound server: cannot listen on 127.0.0.1:{port} (")
    # the cluster's port-taken retry looks for these words in the node's log
    assert "address already in use" in line.lower()
    assert line.endswith("); give --port a free port, or --bind addresses of this host")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--port", "99999"],
            "ackbound server: error: argument --port: 99999 is not a port; use 0..65535 "
            "(see 'ackbound server --help')",
        ),
        (
            ["--tls-port", "x"],
            "ackbound server: error: argument --tls-port: 'x' is not a port number "
            "(see 'ackbound server --help')",
        ),
        (
            ["--replicaof", "127.0.0.1", "abc"],
            "ackbound server: --replicaof 127.0.0.1 abc: 'abc' is not a port number; give the "
            "primary's port",
        ),
        (
            ["--replicaof", "127.0.0.1", "0"],
            "ackbound server: --replicaof 127.0.0.1 0: a primary listens on a port 1..65535",
        ),
        (
            ["--sync-replicas", "-1"],
            "ackbound server: error: argument --sync-replicas: '-1': argument must be between 1 "
            "and 1000 inclusive (see 'ackbound server --help')",
        ),
        (
            ["--repl-ack-period-ms", "0"],
            "ackbound server: error: argument --repl-ack-period-ms: '0': argument must be "
            "between 1 and 60000 inclusive (see 'ackbound server --help')",
        ),
        (
            ["--az", " "],
            "ackbound server: error: argument --az: ' ': is empty; name the node's availability "
            "zone (see 'ackbound server --help')",
        ),
        (
            ["--az", "a\r\nrole:master"],
            "ackbound server: error: argument --az: 'a\\r\\nrole:master': holds a space or a "
            "control character; name the zone in one word (see 'ackbound server --help')",
        ),
        (
            ["--requirepass-file", "/dev/null"],
            "ackbound server: --requirepass-file /dev/null has no password on its first line; "
            "write it there (or drop the flag to run without a password)",
        ),
        (
            ["--requirepass-file", "/nonexistent/pw"],
            "ackbound server: cannot read --requirepass-file /nonexistent/pw (No such file or "
            "directory); give a readable file whose first line is the password",
        ),
    ],
)
def test_unusable_flags_are_one_line(args: list[str], expected: str) -> None:
    assert one_line(server("--port", "0", *args)) == expected


@pytest.mark.parametrize(
    ("files", "args", "expected"),
    [
        (
            {"afile": b"x"},
            ["--appendonly", "yes", "--dir", "afile"],
            "--dir afile is a file, not a directory; give a directory",
        ),
        (
            {"d/appendonly.aof": b'SET "unbalanced\r\n'},
            ["--appendonly", "yes", "--dir", "d"],
            "the append-only file d/appendonly.aof is not RESP (a command that is not a RESP "
            "array (it starts with b'S')); move it aside to start empty",
        ),
        (
            {"d/appendonly.aof": b"*2\r\n$3\r\nSET\r\n$1\r\nk\r\n"},
            ["--appendonly", "yes", "--dir", "d"],
            "the append-only file d/appendonly.aof: command 1 (set) has 1 arguments, which it "
            "cannot take; move it aside to start empty",
        ),
        (
            {"d/appendonly.aof/x": b""},
            ["--appendonly", "yes", "--dir", "d"],
            "cannot read the append-only file d/appendonly.aof (Is a directory); move it aside "
            "to start empty",
        ),
        ({}, ["--logfile", "."], "cannot write --logfile . (Is a directory); give a writable file"),
        (
            {"afile": b"x"},
            ["--logfile", "afile/log"],
            "cannot write --logfile afile/log (Not a directory); give a writable file",
        ),
        ({}, ["--bind", " "], "--bind is empty; give the addresses to listen on, e.g. 127.0.0.1"),
    ],
)
def test_files_and_addresses_it_cannot_use_are_one_line(
    tmp_path: Path, files: dict[str, bytes], args: list[str], expected: str
) -> None:
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once closed; nothing listens on it for long
    done = subprocess.run(
        [sys.executable, "-m", "harness", "server", "--port", str(port), *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert one_line(done) == f"ackbound server: {expected}"
