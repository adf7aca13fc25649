"""Executing one client operation with a target's write protocol, and classifying its outcome.

The outcome is a history op type (docs/history.md): ``ok``, ``fail`` (definitely not applied)
or ``info`` (may or may not have been applied). When in doubt, ``info``.
"""

from __future__ import annotations

from typing import Any, Final

from harness.cluster._client import (
    ClientConnectionError,
    ClientError,
    ClientRefused,
    ClientTimeout,
    Pipelining,
    RespClient,
    ServerError,
)
from harness.history import WAIT_FAILED, WAIT_SHORT
from harness.targets import ModeParams, Target, op_type_for

__all__ = ["Outcome", "perform"]

Outcome = tuple[str, Any, str | None]  # (op type, value, error)

_WRITES: Final = {"register": "SET", "list": "RPUSH", "set": "SADD", "counter": "INCRBY"}


def _read_command(workload: str, key: str) -> tuple[str | int, ...]:
    if workload == "register" or workload == "counter":
        return ("GET", key)
    if workload == "list":
        return ("LRANGE", key, 0, -1)
    return ("SMEMBERS", key)


def _decode_read(workload: str, reply: Any) -> Any:
    """The value a read returned; ``TypeError`` for a reply of another type than the command
    gives (a bulk string or nil for GET, an array of bulk strings for LRANGE and SMEMBERS),
    which would otherwise be recorded as values nobody wrote."""
    if workload == "register" or workload == "counter":
        if reply is not None and type(reply) is not str:
            raise TypeError(reply)
        if workload == "register":
            return reply
        return 0 if reply is None else int(reply)
    if type(reply) is not list or not all(type(x) is str for x in reply):
        raise TypeError(reply)
    return reply if workload == "list" else sorted(reply)


def _write_reply_ok(workload: str, reply: Any) -> bool:
    if workload == "register":
        return reply == "OK" or reply is True
    return isinstance(reply, int) and not isinstance(reply, bool)


def perform(
    target: Target,
    mode: str,
    params: ModeParams,
    client: RespClient,
    workload: str,
    f: str,
    key: str,
    value: Any,
) -> Outcome:
    """Run one ``write`` or ``read`` of ``workload`` on ``key`` and classify the outcome."""
    if workload not in _WRITES:
        raise ValueError(f"unknown workload {workload!r}; use one of {', '.join(_WRITES)}")
    if f == "read":
        try:
            reply = client.execute(*_read_command(workload, key))
        except (ServerError, ClientRefused) as exc:
            return ("fail", None, str(exc))  # a read applies nothing
        except ClientError as exc:
            return ("info", None, _describe(exc))
        try:
            return ("ok", _decode_read(workload, reply), None)
        except (TypeError, ValueError):
            return ("info", None, f"unexpected reply to a {workload} read: {reply!r}")
    if f != "write":
        raise ValueError(f"unknown op {f!r}; use write or read")

    write = (_WRITES[workload], key, value)
    waits = target.mode(mode).write == "wait"
    k, timeout_ms = params.sync_replicas, params.sync_timeout_ms
    acked: Any = None
    try:
        if waits and isinstance(client, Pipelining):
            # WAIT counts the replication of its own connection's last write: a client that
            # may reconnect between two requests sends both at once, on one connection.
            reply, acked = client.execute_all(write, ("WAIT", k, timeout_ms))
            if isinstance(reply, ServerError):
                raise reply
        else:
            reply = client.execute(*write)
    except ServerError as exc:
        return (op_type_for(target.classify_error(str(exc))), value, str(exc))
    except ClientRefused as exc:
        return ("fail", value, f"not sent: {exc}")  # never left the client
    except ClientError as exc:
        return ("info", value, _describe(exc))
    if not _write_reply_ok(workload, reply):
        return ("info", value, f"unexpected reply to {_WRITES[workload]}: {reply!r}")

    if waits:
        try:
            if acked is None:
                # One connection, never reconnected behind our back (valkey-py's): a lost
                # connection fails the WAIT rather than opening a new one.
                acked = client.execute("WAIT", k, timeout_ms)
            elif isinstance(acked, ServerError):
                raise acked
        except ClientError as exc:
            # The write is applied on the primary; whether it reached K replicas is unknown.
            return ("info", value, f"{WAIT_FAILED}{_describe(exc)}")
        if type(acked) is not int or acked < k:
            return (
                "info",
                value,
                f"{WAIT_SHORT}{acked} of {k} replica(s) acknowledged within {timeout_ms} ms",
            )
    return ("ok", value, None)


def _describe(exc: ClientError) -> str:
    if isinstance(exc, ClientTimeout):
        return f"timeout: {exc}"
    if isinstance(exc, ClientConnectionError):
        return f"connection error: {exc}"
    return str(exc)
