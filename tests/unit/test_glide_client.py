"""The GLIDE client's translation layer: error messages back to RESP text, replies, stderr.

The messages are exactly what valkey-glide-sync 2.6 raises for each server reply (recorded
from a hand-written server answering ``-<reply>``).
"""

from __future__ import annotations

import os

import pytest

from harness.cluster._glide import _decode, _StderrFilter, server_error_text
from harness.targets import load_target

# (what GLIDE says, the server's reply)
GLIDE_MESSAGES = [
    (
        "An error was signalled by the server: - ClusterDown: Write rejected: durability lag "
        "405 ms exceeds the limit of 200 ms; retry when replication catches up.",
        "CLUSTERDOWN Write rejected: durability lag 405 ms exceeds the limit of 200 ms; retry "
        "when replication catches up.",
    ),
    ("NOREPLICAS: Not enough good replicas to write.", "NOREPLICAS Not enough good replicas to write."),
    ("NOSYNCREPLICAS: Not enough", "NOSYNCREPLICAS Not enough"),
    ("SYNCTIMEOUT: Timed out", "SYNCTIMEOUT Timed out"),
    ("An error was signalled by the server: - ReadOnly: You can't", "READONLY You can't"),
    ("WRONGTYPE: Operation", "WRONGTYPE Operation"),
    (
        "An error was signalled by the server: - ResponseError: unknown command 'x'",
        "ERR unknown command 'x'",
    ),
    ("An error was signalled by the server:- ResponseError", "ERR"),
    ("An error was signalled by the server: - BusyLoadingError: loading", "LOADING loading"),
    ("An error was signalled by the server: - MasterDown: down", "MASTERDOWN down"),
    ("An error was signalled by the server: - TryAgain: again", "TRYAGAIN again"),
    ("An error was signalled by the server: - Moved: 1 h:1", "MOVED 1 h:1"),
    ("An error was signalled by the server: - ExecAbortError: Transaction", "EXECABORT Transaction"),
    ("An error was signalled by the server: - PermissionDenied: x", "NOPERM x"),
    ("NOAUTH: Authentication required.", "NOAUTH Authentication required."),
    ("FOO: Unknown extension error encountered", "FOO"),
    # not server replies: client-side trouble stays a client error (indeterminate)
    ("timed out", None),
    ("write commands are not allowed in read-only mode- ReadOnly", None),
    ("An error was signalled by the server: - IoError: broken pipe", None),
    ("Received error: No primary node found- ClientError", None),
]  # fmt: skip


@pytest.mark.parametrize(("message", "reply"), GLIDE_MESSAGES)
def test_glide_errors_map_back_to_the_server_reply(message: str, reply: str | None) -> None:
    assert server_error_text(message) == reply


def test_restored_replies_classify_as_with_valkey_py() -> None:
    bundled = load_target("bundled")
    classes = {
        m: bundled.classify_error(r) for m, r in GLIDE_MESSAGES if r is not None and " " in r
    }
    assert classes[GLIDE_MESSAGES[0][0]] == "rejected"
    assert bundled.classify_error(server_error_text("SYNCTIMEOUT: Timed out") or "") == (
        "indeterminate"
    )
    assert bundled.classify_error(server_error_text(GLIDE_MESSAGES[4][0]) or "") == "failed"


def test_replies_decode_like_valkey_py() -> None:
    assert _decode(b"OK") == "OK"
    assert _decode([b"a", 1, None]) == ["a", 1, None]
    assert sorted(_decode({b"x", b"y"})) == ["x", "y"]
    assert _decode({b"k": [b"v"]}) == {"k": ["v"]}


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"hello\n"], b"hello\n"),
        ([b"Error executing command: timed out\nnext\n"], b"next\n"),
        ([b"a Error executing ", b"command: x\n", b"b"], b"a b"),
        ([b"\x1b[2K progress \r", b"Error executing command: ", b"timed out", b"\n", b"done\n"],
         b"\x1b[2K progress \rdone\n"),
        ([b"Errors are fine\n"], b"Errors are fine\n"),
    ],
)  # fmt: skip
def test_stderr_filter_drops_glides_lines_only(chunks: list[bytes], expected: bytes) -> None:
    read_fd, write_fd = os.pipe()
    try:
        f = _StderrFilter()
        held = b""
        for chunk in chunks:
            held = f._pass(write_fd, held + chunk)
        if held and not held.startswith(f.MARKER):
            f._write(write_fd, held)
        os.close(write_fd)
        out = b""
        while data := os.read(read_fd, 65536):
            out += data
    finally:
        os.close(read_fd)
    assert out == expected
