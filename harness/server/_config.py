"""The server's configuration: one dataclass, and the table CONFIG GET/SET works from."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from harness.server._commands import INT64_MAX

__all__ = ["DURABILITY_MODES", "SETTINGS", "ServerConfig", "Setting", "parse_memory"]

DURABILITY_MODES: Final = ("none", "sync", "async")
FSYNC_POLICIES: Final = ("everysec", "always", "no")  # Valkey's order, as its errors list them
LOG_LEVELS: Final = ("debug", "verbose", "notice", "warning", "nothing")


@dataclass(kw_only=True)
class ServerConfig:
    """Everything a server is started with; CONFIG SET changes the mutable fields live."""

    port: int = 6379
    bind: str = "127.0.0.1"
    tls_port: int = 0
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_ca_cert_file: str = ""
    tls_auth_clients: str = "yes"
    tls_replication: bool = False
    replicaof: tuple[str, int] | None = None
    az: str = "default"
    durability: str = "none"
    sync_replicas: int = 1
    sync_timeout_ms: int = 1000
    lag_limit_ms: int = 10000
    requirepass: str = ""
    masterauth: str = ""
    dir: str = "."
    appendonly: bool = False
    appendfsync: str = "everysec"
    appendfilename: str = "appendonly.aof"
    repl_timeout_ms: int = 2000
    repl_ack_period_ms: int = 100
    repl_backlog_size: int = 16 * 1024 * 1024
    proto_max_bulk_len: int = 512 * 1024 * 1024
    protected_mode: bool = True
    loglevel: str = "notice"
    logfile: str = ""
    bugs: frozenset[str] = field(default_factory=frozenset)


def parse_memory(text: str) -> int:
    """``512mb``, ``1gb``, ``4096`` -> bytes (Valkey's units: k=1000, kb=1024, ...)."""
    units = {"": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
    lowered = text.strip().lower()
    digits = lowered.rstrip("kmgb")
    unit = lowered[len(digits) :]
    if not digits.isdigit() or unit not in units:
        raise ValueError(f"{text!r} is not a memory size (e.g. 1048576, 512mb, 1gb)")
    return int(digits) * units[unit]


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One CONFIG parameter: how to read it, and how to parse a new value (None: read-only)."""

    name: str
    attr: str
    show: Callable[[object], str]
    parse: Callable[[str], object] | None


def _int_in(low: int, high: int) -> Callable[[str], object]:
    def parse(text: str) -> object:
        if not text.strip().lstrip("-").isdigit():
            raise ValueError(f"argument must be an integer between {low} and {high}")
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"argument must be between {low} and {high} inclusive")
        return value

    return parse


def _one_of(choices: tuple[str, ...]) -> Callable[[str], object]:
    def parse(text: str) -> object:
        if text.lower() not in choices:
            raise ValueError(f"argument(s) must be one of the following: {', '.join(choices)}")
        return text.lower()

    return parse


def _yes_no(text: str) -> object:
    if text.lower() not in ("yes", "no"):
        raise ValueError("argument must be 'yes' or 'no'")
    return text.lower() == "yes"


def _str(value: object) -> str:
    return str(value)


def _bool(value: object) -> str:
    return "yes" if value else "no"


def _text(text: str) -> object:
    return text


def parse_az(text: str) -> str:
    """An AZ name: one word of printable characters (it is written into INFO, one field
    per line, so a newline would forge others)."""
    if not text.strip():
        raise ValueError("is empty; name the node's availability zone")
    if not text.isprintable() or any(c.isspace() for c in text):
        raise ValueError("holds a space or a control character; name the zone in one word")
    return text


def _memory_in(low: int) -> Callable[[str], object]:
    """A memory size (see :func:`parse_memory`) of ``low`` bytes or more, in Valkey's words."""
    high = INT64_MAX

    def parse(text: str) -> object:
        try:
            value = parse_memory(text)
        except ValueError:
            raise ValueError("argument must be a memory value") from None
        if not low <= value <= high:
            raise ValueError(f"argument must be between {low} and {high} inclusive")
        return value

    return parse


SETTINGS: Final[dict[str, Setting]] = {
    s.name: s
    for s in (
        Setting(name="port", attr="port", show=_str, parse=None),
        Setting(name="bind", attr="bind", show=_str, parse=None),
        Setting(name="tls-port", attr="tls_port", show=_str, parse=None),
        Setting(name="tls-cert-file", attr="tls_cert_file", show=_str, parse=None),
        Setting(name="tls-key-file", attr="tls_key_file", show=_str, parse=None),
        Setting(name="tls-ca-cert-file", attr="tls_ca_cert_file", show=_str, parse=None),
        Setting(name="tls-auth-clients", attr="tls_auth_clients", show=_str, parse=None),
        Setting(name="tls-replication", attr="tls_replication", show=_bool, parse=None),
        Setting(name="dir", attr="dir", show=_str, parse=None),
        Setting(name="az", attr="az", show=_str, parse=parse_az),
        Setting(name="durability", attr="durability", show=_str, parse=_one_of(DURABILITY_MODES)),
        Setting(name="sync-replicas", attr="sync_replicas", show=_str, parse=_int_in(1, 1000)),
        Setting(name="sync-timeout-ms", attr="sync_timeout_ms", show=_str, parse=_int_in(1, 2**31)),
        Setting(name="lag-limit-ms", attr="lag_limit_ms", show=_str, parse=_int_in(0, 2**31)),
        Setting(name="requirepass", attr="requirepass", show=_str, parse=_text),
        Setting(name="masterauth", attr="masterauth", show=_str, parse=_text),
        Setting(name="appendonly", attr="appendonly", show=_bool, parse=_yes_no),
        Setting(name="appendfsync", attr="appendfsync", show=_str, parse=_one_of(FSYNC_POLICIES)),
        Setting(name="appendfilename", attr="appendfilename", show=_str, parse=None),
        Setting(
            name="repl-timeout-ms", attr="repl_timeout_ms", show=_str, parse=_int_in(10, 2**31)
        ),
        Setting(
            name="repl-ack-period-ms",
            attr="repl_ack_period_ms",
            show=_str,
            parse=_int_in(1, 60000),
        ),
        Setting(name="repl-backlog-size", attr="repl_backlog_size", show=_str, parse=_memory_in(1)),
        # Valkey's minimum (1 MiB): a smaller limit would refuse ordinary commands
        Setting(
            name="proto-max-bulk-len",
            attr="proto_max_bulk_len",
            show=_str,
            parse=_memory_in(1024 * 1024),
        ),
        Setting(name="protected-mode", attr="protected_mode", show=_bool, parse=_yes_no),
        Setting(name="loglevel", attr="loglevel", show=_str, parse=_one_of(LOG_LEVELS)),
        Setting(name="bug", attr="bugs", show=lambda v: " ".join(sorted(v)), parse=None),  # type: ignore[call-overload]
    )
}


def replace(config: ServerConfig, **changes: object) -> ServerConfig:
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]
