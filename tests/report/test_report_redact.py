"""Secrets never reach results.json: the recorded command line is redacted."""

from __future__ import annotations

import pytest

from harness.report import redact_argv, redact_text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--password", "s3cret"], ["--password", "***"]),
        (["--requirepass", "s3cret", "--seed", "1"], ["--requirepass", "***", "--seed", "1"]),
        (["--password=s3cret"], ["--password=***"]),
        (["--target-password", "x"], ["--target-password", "***"]),
        (["--masterauth", "x", "--auth", "y"], ["--masterauth", "***", "--auth", "***"]),
        (["-a", "x"], ["-a", "***"]),
        (["--token=abc"], ["--token=***"]),
        # A switch that looks like a secret flag does not swallow the next flag.
        (["--no-auth", "--seed", "3"], ["--no-auth", "--seed", "3"]),
        (["redis://user:pass@host:6379/0"], ["redis://user:***@host:6379/0"]),
        (["rediss://:pass@host:6380"], ["rediss://:***@host:6380"]),
        (["redis://pass@host"], ["redis://***@host"]),
        (["--url", "valkeys://admin:p%40ss@10.0.0.1"], ["--url", "valkeys://admin:***@10.0.0.1"]),
        (["url=redis://u:p@h,requirepass=zz"], ["url=redis://u:***@h,requirepass=***"]),
        # A password holding @, a separator or spaces is redacted whole.
        (["redis://u:p@ss@host:6379"], ["redis://u:***@host:6379"]),
        (["redis://p@ss@host"], ["redis://***@host"]),
        (["--opt", "password=ab,cd;ef"], ["--opt", "password=***"]),
        (["--opt", 'password="a b c" x=1'], ["--opt", "password=*** x=1"]),
        (["--opt", "password='a b' x=1"], ["--opt", "password=*** x=1"]),
        (["--opt", "tls_password=abc"], ["--opt", "tls_password=***"]),
        # Nothing secret: unchanged.
        (["ackbound", "run", "--target", "valkey", "--mode", "sync"], None),
        (["redis://host:6379/0", "--bypass-cache", "x"], None),
        (["--password"], None),  # a trailing flag with no value
    ],
)
def test_redact_argv(argv: list[str], expected: list[str] | None) -> None:
    assert redact_argv(argv) == (argv if expected is None else expected)


def test_redact_argv_does_not_modify_its_input() -> None:
    argv = ["--password", "x"]
    redact_argv(argv)
    assert argv == ["--password", "x"]


def test_redact_text_in_free_text() -> None:
    assert (
        redact_text("connect to rediss://default:abc@cache:6380 with password=abc")
        == "connect to rediss://default:***@cache:6380 with password=***"
    )
