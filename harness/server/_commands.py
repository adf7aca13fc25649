"""The data commands and the command table.

A handler takes ``(server, client, argv)`` and returns the encoded reply. A handler that
changes the dataset calls ``server.propagate(argv)`` with the command replicas and the AOF
must apply to reach the same state (``SET ... EX`` is propagated with an absolute ``PXAT``;
an expired key's lazy deletion as ``DEL``). Server-level commands (INFO, CONFIG,
REPLICAOF, ...) live in ``_admin.py`` and register into the same :data:`COMMANDS` table.

Error wording is Valkey's, so clients and the harness's error registry see the same text.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from harness.resp import OK, array, bulk, error, integer, null, null_array, set_reply
from harness.server._keyspace import WrongType, glob_to_regex

if TYPE_CHECKING:
    from harness.server._server import Client, Server

__all__ = [
    "COMMANDS",
    "E_NOT_INTEGER",
    "E_SYNTAX",
    "E_WRONGTYPE",
    "Command",
    "command",
    "wrong_arity",
]

Handler = Callable[["Server", "Client", list[bytes]], bytes | None]

E_SYNTAX: Final = error("ERR syntax error")
E_WRONGTYPE: Final = error("WRONGTYPE Operation against a key holding the wrong kind of value")
E_NOT_INTEGER: Final = error("ERR value is not an integer or out of range")
E_OVERFLOW: Final = error("ERR increment or decrement would overflow")
E_EXPIRE: Final = "ERR invalid expire time in '{}' command"
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


@dataclass(frozen=True, kw_only=True, slots=True)
class Command:
    """One entry of the command table, with Valkey's arity convention (negative: at least)."""

    name: bytes
    handler: Handler
    arity: int
    write: bool = False
    noauth: bool = False
    """Runs before authentication (AUTH, HELLO, QUIT)."""
    admin: bool = False
    no_multi: bool = False
    """Executes immediately inside MULTI instead of being queued."""
    deny_multi: bool = False
    """Refused inside MULTI (Valkey's ``no-multi`` flag): an error, and EXEC then aborts."""
    first_key: int = 0

    def takes(self, argc: int) -> bool:
        """Whether ``argc`` words (the name included) fit the arity."""
        return argc == self.arity if self.arity > 0 else argc >= -self.arity

    last_key: int = 0
    key_step: int = 0

    def keys(self, argv: list[bytes]) -> list[bytes]:
        if not self.first_key:
            return []
        last = self.last_key if self.last_key > 0 else len(argv) + self.last_key
        return argv[self.first_key : last + 1 : self.key_step]

    def flags(self) -> list[bytes]:
        out = [b"write" if self.write else b"readonly"]
        if self.noauth:
            out.append(b"no_auth")
        if self.admin:
            out.append(b"admin")
        return out


COMMANDS: dict[bytes, Command] = {}


def command(
    name: str,
    arity: int,
    *,
    write: bool = False,
    noauth: bool = False,
    admin: bool = False,
    no_multi: bool = False,
    deny_multi: bool = False,
    keys: tuple[int, int, int] = (0, 0, 0),
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name.encode()] = Command(
            name=name.lower().encode(),
            handler=handler,
            arity=arity,
            write=write,
            noauth=noauth,
            admin=admin,
            no_multi=no_multi,
            deny_multi=deny_multi,
            first_key=keys[0],
            last_key=keys[1],
            key_step=keys[2],
        )
        return handler

    return register


def wrong_arity(name: bytes) -> bytes:
    return error(f"ERR wrong number of arguments for '{name.decode(errors='replace')}' command")


def _int(text: bytes) -> int | None:
    """A signed 64-bit integer in canonical decimal, or None (Valkey's string2ll)."""
    if not text or len(text) > 20:
        return None
    body = text[1:] if text[:1] == b"-" else text
    if not body.isdigit() or (body[:1] == b"0" and len(body) > 1) or text == b"-0":
        return None
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else None


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- strings ------------------------------------------------------------------------------


@command("GET", 2, keys=(1, 1, 1))
def cmd_get(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    try:
        value = srv.keyspace.get_str(argv[1])
    except WrongType:
        return E_WRONGTYPE
    if value is None:
        return null(c.protocol)
    return bulk(srv.maybe_phantom(value))


@command("SET", -3, write=True, keys=(1, 1, 1))
def cmd_set(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    key, value = argv[1], argv[2]
    nx = xx = get = keepttl = False
    expire_at: int | None = None
    i = 3
    n = len(argv)
    while i < n:
        opt = argv[i].upper()
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            get = True
        elif opt == b"KEEPTTL" and expire_at is None:
            keepttl = True
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and expire_at is None and not keepttl:
            if i + 1 >= n:
                return E_SYNTAX
            amount = _int(argv[i + 1])
            if amount is None:
                return E_NOT_INTEGER
            # Valkey's bounds: the deadline in ms must be a positive signed 64-bit integer
            # (it is propagated as PXAT, which a replica and the AOF load parse as one).
            if amount <= 0:
                return error(E_EXPIRE.format("set"))
            if opt == b"EX":
                expire_at = _now_ms() + amount * 1000
            elif opt == b"PX":
                expire_at = _now_ms() + amount
            elif opt == b"EXAT":
                expire_at = amount * 1000
            else:
                expire_at = amount
            if expire_at > INT64_MAX:
                return error(E_EXPIRE.format("set"))
            i += 1
        else:
            return E_SYNTAX
        i += 1
    ks = srv.keyspace
    if get or nx or xx or keepttl:
        try:
            old = ks.get_str(argv[1]) if get else ks.get(key)
        except WrongType:
            return E_WRONGTYPE
        exists = old is not None if get else ks.get(key) is not None
        if (nx and exists) or (xx and not exists):
            return bulk(old) if get and type(old) is bytes else null(c.protocol)
        if keepttl:
            expire_at = ks.expires.get(key)
    ks.set(key, value, expire_at)
    if expire_at is None:
        srv.propagate([b"SET", key, value])
    else:
        srv.propagate([b"SET", key, value, b"PXAT", b"%d" % expire_at])
    if get:
        return bulk(old) if type(old) is bytes else null(c.protocol)
    return OK


@command("PEXPIREAT", 3, write=True, keys=(1, 1, 1))
def cmd_pexpireat(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    deadline = _int(argv[2])
    if deadline is None:
        return E_NOT_INTEGER
    if srv.keyspace.get(argv[1]) is None:
        return integer(0)
    srv.keyspace.expires[argv[1]] = deadline
    srv.propagate(argv)
    return integer(1)


@command("MGET", -2, keys=(1, -1, 1))
def cmd_mget(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    out = []
    ks = srv.keyspace
    for key in argv[1:]:
        value = ks.get(key)
        out.append(bulk(srv.maybe_phantom(value)) if type(value) is bytes else null(c.protocol))
    return array(out)


@command("MSET", -3, write=True, keys=(1, -1, 2))
def cmd_mset(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    if len(argv) % 2 == 0:
        return wrong_arity(b"mset")
    ks = srv.keyspace
    for i in range(1, len(argv), 2):
        ks.set(argv[i], argv[i + 1])
    srv.propagate(argv)
    return OK


@command("DEL", -2, write=True, keys=(1, -1, 1))
def cmd_del(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    deleted = [key for key in argv[1:] if srv.keyspace.delete(key)]
    if deleted:
        srv.propagate([b"DEL", *deleted])
    return integer(len(deleted))


@command("EXISTS", -2, keys=(1, -1, 1))
def cmd_exists(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    return integer(sum(1 for key in argv[1:] if srv.keyspace.get(key) is not None))


def _incr(srv: Server, c: Client, key: bytes, by: int) -> bytes:
    ks = srv.keyspace
    try:
        old = ks.get_str(key)
    except WrongType:
        return E_WRONGTYPE
    current = 0
    if old is not None:
        parsed = _int(old)
        if parsed is None:
            return E_NOT_INTEGER
        current = parsed
    result = current + by
    if not INT64_MIN <= result <= INT64_MAX:
        return E_OVERFLOW
    encoded = b"%d" % result
    ks.set(key, encoded, ks.expires.get(key))
    srv.propagate(
        [b"SET", key, encoded, b"KEEPTTL"] if key in ks.expires else [b"SET", key, encoded]
    )
    return integer(result)


@command("INCR", 2, write=True, keys=(1, 1, 1))
def cmd_incr(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    return _incr(srv, c, argv[1], 1)


@command("DECR", 2, write=True, keys=(1, 1, 1))
def cmd_decr(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    return _incr(srv, c, argv[1], -1)


@command("INCRBY", 3, write=True, keys=(1, 1, 1))
def cmd_incrby(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    by = _int(argv[2])
    if by is None:
        return E_NOT_INTEGER
    return _incr(srv, c, argv[1], by)


@command("DECRBY", 3, write=True, keys=(1, 1, 1))
def cmd_decrby(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    by = _int(argv[2])
    if by is None:
        return E_NOT_INTEGER
    if by == INT64_MIN:  # its negation does not fit; Valkey says so before reading the key
        return error("ERR decrement would overflow")
    return _incr(srv, c, argv[1], -by)


@command("APPEND", 3, write=True, keys=(1, 1, 1))
def cmd_append(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    ks = srv.keyspace
    try:
        old = ks.get_str(argv[1])
    except WrongType:
        return E_WRONGTYPE
    value = (old or b"") + argv[2]
    if len(value) > srv.config.proto_max_bulk_len:
        return error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    ks.set(argv[1], value, ks.expires.get(argv[1]))
    srv.propagate(argv)
    return integer(len(value))


# -- lists ----------------------------------------------------------------------------------


def _push(srv: Server, argv: list[bytes], left: bool) -> bytes:
    try:
        items = srv.keyspace.get_list(argv[1], create=True)
    except WrongType:
        return E_WRONGTYPE
    assert items is not None
    if left:
        items.extendleft(argv[2:])
    else:
        items.extend(argv[2:])
    srv.propagate(argv)
    return integer(len(items))


@command("RPUSH", -3, write=True, keys=(1, 1, 1))
def cmd_rpush(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    return _push(srv, argv, left=False)


@command("LPUSH", -3, write=True, keys=(1, 1, 1))
def cmd_lpush(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    return _push(srv, argv, left=True)


@command("LRANGE", 4, keys=(1, 1, 1))
def cmd_lrange(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    start, stop = _int(argv[2]), _int(argv[3])
    if start is None or stop is None:
        return E_NOT_INTEGER
    try:
        items = srv.keyspace.get_list(argv[1])
    except WrongType:
        return E_WRONGTYPE
    if items is None:
        return b"*0\r\n"
    n = len(items)
    if start < 0:
        start = max(n + start, 0)
    if stop < 0:
        stop = n + stop
    stop = min(stop, n - 1)
    if start > stop or start >= n:
        selected: list[bytes] = []
    elif start == 0 and stop == n - 1:
        selected = list(items)
    else:
        selected = [items[i] for i in range(start, stop + 1)]
    return array(bulk(item) for item in srv.maybe_phantom_members(selected))


@command("LLEN", 2, keys=(1, 1, 1))
def cmd_llen(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    try:
        items = srv.keyspace.get_list(argv[1])
    except WrongType:
        return E_WRONGTYPE
    return integer(len(items) if items is not None else 0)


# -- sets -----------------------------------------------------------------------------------


@command("SADD", -3, write=True, keys=(1, 1, 1))
def cmd_sadd(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    try:
        members = srv.keyspace.get_set(argv[1], create=True)
    except WrongType:
        return E_WRONGTYPE
    assert members is not None
    before = len(members)
    members.update(argv[2:])
    added = len(members) - before
    if added:
        srv.propagate(argv)
    return integer(added)


@command("SMEMBERS", 2, keys=(1, 1, 1))
def cmd_smembers(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    try:
        members = srv.keyspace.get_set(argv[1])
    except WrongType:
        return E_WRONGTYPE
    if members is None:
        return set_reply([], c.protocol)
    return set_reply((bulk(m) for m in srv.maybe_phantom_members(sorted(members))), c.protocol)


@command("SCARD", 2, keys=(1, 1, 1))
def cmd_scard(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    try:
        members = srv.keyspace.get_set(argv[1])
    except WrongType:
        return E_WRONGTYPE
    return integer(len(members) if members is not None else 0)


# -- keyspace -------------------------------------------------------------------------------


@command("TYPE", 2, keys=(1, 1, 1))
def cmd_type(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    value = srv.keyspace.get(argv[1])
    if value is None:
        return b"+none\r\n"
    if type(value) is bytes:
        return b"+string\r\n"
    return b"+list\r\n" if type(value) is deque else b"+set\r\n"


@command("KEYS", 2)
def cmd_keys(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    keys = srv.keyspace.live_keys()
    if argv[1] != b"*":
        regex = glob_to_regex(argv[1])
        keys = [k for k in keys if regex.match(k)]
    return array(bulk(k) for k in keys)


@command("DBSIZE", 1)
def cmd_dbsize(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    return integer(len(srv.keyspace))


@command("FLUSHALL", -1, write=True)
def cmd_flushall(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].upper() not in (b"ASYNC", b"SYNC")):
        return E_SYNTAX
    srv.keyspace.flush()
    srv.reset_bug_counters()
    srv.propagate([b"FLUSHALL"])
    return OK


@command("FLUSHDB", -1, write=True)
def cmd_flushdb(srv: Server, c: Client, argv: list[bytes]) -> bytes | None:
    return cmd_flushall(srv, c, argv)


@command("SELECT", 2)
def cmd_select(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    index = _int(argv[1])
    if index is None:
        return E_NOT_INTEGER
    if index != 0:
        return error("ERR DB index is out of range")
    return OK


@command("PING", -1)
def cmd_ping(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    if len(argv) > 2:
        return wrong_arity(b"ping")
    if len(argv) == 2:
        return bulk(argv[1])
    return b"+PONG\r\n"


@command("ECHO", 2)
def cmd_echo(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    return bulk(argv[1])


@command("TIME", 1)
def cmd_time(srv: Server, c: Client, argv: list[bytes]) -> bytes:
    now = time.time()
    return array([bulk(b"%d" % int(now)), bulk(b"%d" % int((now % 1) * 1_000_000))])


def empty_or_null_array(c: Client) -> bytes:
    return null_array(c.protocol)
