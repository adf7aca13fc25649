"""Every command's reply shape and errors, against a real server process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.resp import ErrorReply, SimpleString, Verbatim, encode_command
from harness.server._keyspace import glob_to_regex

from .conftest import Node, ServerFactory, spawn, stop, wait_ready


@pytest.fixture
def node(start_server: ServerFactory) -> Node:
    return start_server()


def err(message: str) -> ErrorReply:
    return ErrorReply(message)


def members(reply: object) -> list[bytes]:
    """An array reply of bulk strings, sorted (for replies whose order is unspecified)."""
    assert isinstance(reply, list) and all(isinstance(m, bytes) for m in reply), reply
    return sorted(reply)


def test_strings(node: Node) -> None:
    c = node.conn()
    assert c("PING") == SimpleString(b"PONG")
    assert c("PING", "hi") == b"hi"
    assert c("ECHO", "x y") == b"x y"
    assert c("SET", "k", "v") == b"OK"
    assert c("GET", "k") == b"v"
    assert c("GET", "missing") is None
    assert c("SET", "k", "w", "NX") is None
    assert c("SET", "k", "w", "XX", "GET") == b"v"
    assert c("SET", "n", "1", "XX") is None
    assert c("SET", "k", "v", "NX", "XX") == err("ERR syntax error")
    assert c("SET", "k", "v", "EX", "0") == err("ERR invalid expire time in 'set' command")
    assert c("SET", "k", "v", "EX", "x") == err("ERR value is not an integer or out of range")
    assert c("SET", "e", "v", "PX", "30") == b"OK"
    assert c("MSET", "a", "1", "b", "2") == b"OK"
    assert c("MSET", "a", "1", "b") == err("ERR wrong number of arguments for 'mset' command")
    assert c("MGET", "a", "b", "nope") == [b"1", b"2", None]
    assert c("INCR", "a") == 2
    assert c("INCRBY", "a", "-5") == -3
    assert c("DECR", "a") == -4
    assert c("INCR", "k") == err("ERR value is not an integer or out of range")
    assert c("INCRBY", "a", "1.5") == err("ERR value is not an integer or out of range")
    assert c("SET", "big", str(2**63 - 1)) == b"OK"
    assert c("INCR", "big") == err("ERR increment or decrement would overflow")
    assert c("DECRBY", "a", "-7") == 3
    assert c("DECRBY", "a", "5") == -2
    assert c("DECRBY", "a", "x") == err("ERR value is not an integer or out of range")
    assert c("DECRBY", "a", str(-(2**63))) == err("ERR decrement would overflow")
    assert c("SET", "small", str(-(2**63) + 1)) == b"OK"
    assert c("DECRBY", "small", "2") == err("ERR increment or decrement would overflow")
    assert c("DECRBY", "a") == err("ERR wrong number of arguments for 'decrby' command")
    assert c("APPEND", "k", "xyz") == 4
    assert c("GET", "k") == b"wxyz"
    assert c("EXISTS", "k", "a", "zz") == 2
    assert c("DEL", "k", "a", "zz") == 2
    assert c("GET", "e") is None or c("GET", "e") == b"v"


@pytest.mark.parametrize(
    ("option", "amount"),
    [
        ("EX", "9223372036854775807"),
        ("EX", "9223372036854775"),
        ("PX", "9223372036854775000"),
        ("EXAT", "9223372036854775807"),
    ],
)
def test_set_expire_beyond_int64_ms_is_refused(node: Node, option: str, amount: str) -> None:
    # Valkey's bound: a deadline in ms past INT64_MAX is refused. Accepted, it was
    # propagated as a PXAT no replica or AOF load could parse, and the write vanished there.
    c = node.conn()
    assert c("SET", "k", "v", option, amount) == err("ERR invalid expire time in 'set' command")
    assert c("GET", "k") is None
    assert c("SET", "k", "v", "PXAT", "9223372036854775807") == b"OK"
    assert c("GET", "k") == b"v"


def test_lists_sets_and_wrongtype(node: Node) -> None:
    c = node.conn()
    assert c("RPUSH", "l", "a", "b") == 2
    assert c("LPUSH", "l", "z") == 3
    assert c("LRANGE", "l", "0", "-1") == [b"z", b"a", b"b"]
    assert c("LRANGE", "l", "1", "1") == [b"a"]
    assert c("LRANGE", "l", "5", "9") == []
    assert c("LRANGE", "nope", "0", "-1") == []
    assert c("LLEN", "l") == 3
    assert c("SADD", "s", "x", "y", "x") == 2
    assert c("SADD", "s", "x") == 0
    assert members(c("SMEMBERS", "s")) == [b"x", b"y"]
    assert c("SCARD", "s") == 2
    wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert c("GET", "l") == wrongtype
    assert c("SADD", "l", "q") == wrongtype
    assert c("RPUSH", "s", "q") == wrongtype
    assert c("LRANGE", "s", "0", "1") == wrongtype
    assert c("TYPE", "l") == SimpleString(b"list")
    assert c("TYPE", "s") == SimpleString(b"set")


def test_keyspace_commands(node: Node) -> None:
    c = node.conn()
    c("MSET", "user:1", "a", "user:2", "b", "other", "c")
    assert members(c("KEYS", "user:*")) == [b"user:1", b"user:2"]
    assert members(c("KEYS", "user:[1]")) == [b"user:1"]
    assert c("DBSIZE") == 3
    digest = c("DEBUG", "DIGEST")
    assert isinstance(digest, bytes) and len(digest) == 40
    assert c("FLUSHALL") == b"OK"
    assert c("DBSIZE") == 0
    assert c("DEBUG", "DIGEST") == b"0" * 40
    assert c("SELECT", "0") == b"OK"
    assert c("SELECT", "1") == err("ERR DB index is out of range")


def test_unknown_and_arity(node: Node) -> None:
    c = node.conn()
    assert c("NOPE", "a", "b") == err(
        "ERR unknown command 'NOPE', with args beginning with: 'a' 'b' "
    )
    # as Valkey, byte for byte: C strings (up to a NUL), echoed as sent, 128 bytes at most
    c.send_raw(encode_command(b"NO\xffPE", b"\xfe\x00zz", b"a\r\nb"))
    assert c.sock.recv(1 << 16) == (
        b"-ERR unknown command 'NO\xffPE', with args beginning with: '\xfe' 'a  b' \r\n"
    )
    shown = c("NOPE", *["q"] * 60)
    assert isinstance(shown, ErrorReply) and str(shown).count("'q' ") == 32  # 128 bytes
    assert c("GET") == err("ERR wrong number of arguments for 'get' command")
    assert c("GET", "a", "b") == err("ERR wrong number of arguments for 'get' command")


def test_transactions(node: Node) -> None:
    c = node.conn()
    exec_args = err(
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
    )
    assert c("MULTI") == b"OK"
    assert c("SET", "t", "0") == SimpleString(b"QUEUED")
    assert c("EXEC", "x") == exec_args  # as Valkey: dropped at once
    assert c("EXEC") == err("ERR EXEC without MULTI")
    assert c("GET", "t") is None
    assert c("EXEC", "x") == exec_args
    assert c("EXEC") == err("ERR EXEC without MULTI")
    assert c("DISCARD") == err("ERR DISCARD without MULTI")
    assert c("MULTI") == b"OK"
    assert c("SET", "t", "1") == SimpleString(b"QUEUED")
    assert c("INCR", "t") == SimpleString(b"QUEUED")
    assert c("GET", "t") == SimpleString(b"QUEUED")
    assert c("EXEC") == [b"OK", 2, b"2"]
    assert c("MULTI") == b"OK"
    assert c("SET", "t", "9") == SimpleString(b"QUEUED")
    assert c("DISCARD") == b"OK"
    assert c("GET", "t") == b"2"
    assert c("MULTI") == b"OK"
    assert c("GET") == err("ERR wrong number of arguments for 'get' command")
    assert c("EXEC") == err("EXECABORT Transaction discarded because of previous errors.")


@pytest.mark.parametrize("command", [("MULTI",), ("PSYNC", "?", "-1")])
def test_commands_refused_inside_multi_abort_it(node: Node, command: tuple[str, ...]) -> None:
    # Valkey 9's wording and effect: refused, and EXEC then aborts the transaction.
    c = node.conn()
    assert c("MULTI") == b"OK"
    assert c("SET", "t", "1") == SimpleString(b"QUEUED")
    assert c(*command) == err(
        f"ERR Command '{command[0].lower()}' not allowed inside a transaction"
    )
    assert c("EXEC") == err("EXECABORT Transaction discarded because of previous errors.")
    assert c("GET", "t") is None


def test_wait_auth_and_hello_are_queued_inside_multi(node: Node) -> None:
    # As in Valkey. WAIT inside EXEC answers at once (it blocked the client for good).
    c = node.conn()
    assert c("MULTI") == b"OK"
    assert c("SET", "t", "1") == SimpleString(b"QUEUED")
    assert c("WAIT", "1", "0") == SimpleString(b"QUEUED")
    assert c("WAIT", "1", "9223372036854775807") == SimpleString(b"QUEUED")
    assert c("AUTH", "pw") == SimpleString(b"QUEUED")
    assert c("HELLO", "4") == SimpleString(b"QUEUED")
    assert c("EXEC") == [
        b"OK",
        0,
        err("ERR timeout is out of range"),
        err(
            "ERR AUTH <password> called without any password configured for the default "
            "user. Are you sure your configuration is correct?"
        ),
        err("NOPROTO unsupported protocol version"),
    ]


def test_wait_timeout_past_int64_ms_is_out_of_range(node: Node) -> None:
    # Valkey's bound (now + timeout must fit in int64 ms); it used to block for good.
    c = node.conn()
    assert c("WAIT", "1", "9223372036854775807") == err("ERR timeout is out of range")
    assert c("WAIT", "0", "9223372036854775807") == err("ERR timeout is out of range")
    assert c("WAIT", "1", "-1") == err("ERR timeout is negative")
    assert c("WAIT", "0", "x") == err("ERR timeout is not an integer or out of range")
    assert c("WAIT", "x", "0") == err("ERR value is not an integer or out of range")
    assert c("PING") == SimpleString(b"PONG")


def test_connection_commands(node: Node) -> None:
    c = node.conn()
    cid = c("CLIENT", "ID")
    assert isinstance(cid, int)
    assert c("CLIENT", "GETNAME") is None
    assert c("CLIENT", "SETNAME", "me") == b"OK"
    assert c("CLIENT", "GETNAME") == b"me"
    assert c("CLIENT", "SETINFO", "LIB-NAME", "x") == b"OK"
    bad_name = err("ERR Client names cannot contain spaces, newlines or special characters.")
    assert c("CLIENT", "SETNAME", "a b") == bad_name
    assert c("HELLO", "2", "SETNAME", "a b") == bad_name  # as CLIENT SETNAME; nothing changed
    assert c("CLIENT", "GETNAME") == b"me"
    hello = c("HELLO", "3")
    assert isinstance(hello, dict)
    assert hello[b"proto"] == 3 and hello[b"id"] == cid and hello[b"role"] == b"master"
    assert c("GET", "nothing") is None  # RESP3 null
    info = c("INFO", "server")
    assert isinstance(info, Verbatim) and info.format == "txt"
    assert c("HELLO", "4") == err("NOPROTO unsupported protocol version")
    hello2 = c("HELLO", "2")
    assert isinstance(hello2, list) and hello2[hello2.index(b"proto") + 1] == 2
    assert c("AUTH", "x") == err(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?"
    )
    count = c("COMMAND", "COUNT")
    assert isinstance(count, int) and count > 30
    entries = c("COMMAND", "INFO", "get")
    assert isinstance(entries, list) and len(entries) == 1
    entry = entries[0]
    assert isinstance(entry, list)
    assert entry[:6] == [b"get", 2, [b"readonly"], 1, 1, 1]
    assert c("QUIT") == b"OK"
    assert c.closed_by_server()


def test_info_and_config(node: Node) -> None:
    c = node.conn()
    text = c("INFO")
    assert isinstance(text, bytes)
    for header in (b"# Server", b"# Replication", b"# Durability"):
        assert header in text
    repl = node.info("replication")
    assert repl["role"] == "master" and repl["connected_slaves"] == "0"
    assert len(repl["master_replid"]) == 40 and repl["az"] == "default"
    dur = node.info("durability")
    assert dur["durability_mode"] == "none"
    assert set(dur) >= {
        "durability_mode",
        "durability_lag_ms",
        "durability_lag_limit_ms",
        "durability_sync_replicas",
        "durability_buffer_exceeded_error_count",
        "durability_sync_timeouts",
    }
    assert c("CONFIG", "GET", "durability") == [b"durability", b"none"]
    assert c("CONFIG", "SET", "durability", "async", "lag-limit-ms", "500") == b"OK"
    assert node.info("durability")["durability_lag_limit_ms"] == "500"
    assert c("CONFIG", "SET", "durability", "bogus") == err(
        "ERR CONFIG SET failed (possibly related to argument 'durability') - argument(s) "
        "must be one of the following: none, sync, async"
    )
    assert c("CONFIG", "SET", "port", "1") == err(
        "ERR Unknown option or number of arguments for CONFIG SET - 'port'"
    )
    assert c("CONFIG", "GET", "save") == [b"save", b""]
    # each as valkey-server 9.1 words it
    assert c("CONFIG", "GET", "LogLevel") == [b"LogLevel", b"notice"]  # a name, echoed
    assert c("CONFIG", "SET", "loglevel", "warning", "LOGLEVEL", "notice") == err(
        "ERR CONFIG SET failed (possibly related to argument 'loglevel') - duplicate parameter"
    )
    assert c("CONFIG", "SET", "appendfsync", "x") == err(
        "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) "
        "must be one of the following: everysec, always, no"
    )
    assert c("CONFIG", "SET", "repl-backlog-size", "abc") == err(
        "ERR CONFIG SET failed (possibly related to argument 'repl-backlog-size') - argument "
        "must be a memory value"
    )
    assert c("CONFIG", "SET", "loglevel", "nothing") == b"OK"
    assert c("CONFIG", "SET", "loglevel", "notice") == b"OK"
    assert c("CONFIG", "BOGUS") == err("ERR unknown subcommand 'BOGUS'. Try CONFIG HELP.")
    assert c("CONFIG", "GET") == err("ERR wrong number of arguments for 'config|get' command")
    assert c("CLIENT", "SETNAME") == err(
        "ERR wrong number of arguments for 'client|setname' command"
    )
    assert c("CLIENT", "SETINFO", "bogus", "1") == err("ERR Unrecognized option 'bogus'")
    assert c("CLIENT", "SETINFO", "LIB-VER", "1 2") == err(
        "ERR LIB-VER cannot contain spaces, newlines or special characters."
    )
    for name in (
        "sync-replicas",
        "sync-timeout-ms",
        "appendonly",
        "appendfsync",
        "proto-max-bulk-len",
        "requirepass",
        "repl-timeout-ms",
        "az",
    ):
        value = c("CONFIG", "GET", name)
        assert isinstance(value, list) and value[0] == name.encode()
    role = c("ROLE")
    assert isinstance(role, list) and len(role) == 3
    assert role[0] == b"master" and isinstance(role[1], int) and role[2] == []


def test_inline_commands(node: Node) -> None:
    c = node.conn()
    c.send_raw(b'SET "a b" \'c d\'\r\nGET "a b"\r\n\r\nPING\n')
    assert c.read() == b"OK"
    assert c.read() == b"c d"
    assert c.read() == SimpleString(b"PONG")


def test_keys_patterns_read_as_valkey_reads_them(node: Node) -> None:
    # Valkey's stringmatchlen takes every pattern; a few used to raise in the regex
    # translation and drop the connection (with the replies of its read).
    c = node.conn()
    for key in (b"a", b"k", b"ab", b"]", b"ba]", b"\xff", b""):
        c("SET", key, "1")
    cases: dict[bytes, list[bytes]] = {
        b"[z-a]": [b"a", b"k"],  # a reversed range is the range
        b"[^]": [b"a", b"k", b"]", b"\xff"],  # any one byte
        b"[^]a]": [b"ba]"],  # the class closes at the first ]
        b"[]": [],
        b"[a": [b"a"],  # an open class runs to the end of the pattern
        b"[\\]]": [b"]"],
        b"[\xff-a]": [b"a", b"]", b"\xff"],  # bytes compare as C's signed char
        b"?": [b"a", b"k", b"]", b"\xff"],
        b"*": [b"", b"a", b"k", b"ab", b"]", b"ba]", b"\xff"],
        b"**": [b"a", b"k", b"ab", b"]", b"ba]", b"\xff"],  # as Valkey: not the empty key
    }
    for pattern, want in cases.items():
        assert members(c("KEYS", pattern)) == sorted(want), pattern
    assert c("CONFIG", "GET", "[z-a]") == []
    assert c("DEBUG", "SLEEP", "-1") == b"OK"  # as Valkey: no sleep
    assert c("DEBUG", "SLEEP", "nan") == b"OK"
    assert c("PING") == SimpleString(b"PONG")


def test_a_pattern_of_many_stars_answers_at_once_and_other_clients_are_not_held(
    node: Node,
) -> None:
    """A regex that backtracked through every placement of its stars' literals took 26 s on
    this pattern against one 100-byte key, holding every client; Valkey answers at once."""
    c = node.conn()
    c("SET", "dos" + "a" * 200, "1")
    c("SET", "dosab", "1")
    assert members(c("KEYS", "*a*a*a*a*a*a*a*a b")) == []
    assert members(c("KEYS", "d*a*b")) == [b"dosab"]
    assert c("PING") == SimpleString(b"PONG")


def _glob_reference(pattern: bytes, name: bytes) -> bool:
    """Stars and question marks, matched by trying every placement (small inputs only)."""
    if not pattern:
        return not name
    if pattern[0] == 0x2A:
        return any(_glob_reference(pattern[1:], name[i:]) for i in range(len(name) + 1))
    if not name:
        return False
    return pattern[0] in (0x3F, name[0]) and _glob_reference(pattern[1:], name[1:])


@given(
    pattern=st.binary(min_size=1, max_size=7).map(lambda b: bytes(b"ab*?"[x % 4] for x in b)),
    name=st.binary(min_size=1, max_size=8).map(lambda b: bytes(b"ab"[x % 2] for x in b)),
)
def test_glob_matching_agrees_with_trying_every_placement(pattern: bytes, name: bytes) -> None:
    assert bool(glob_to_regex(pattern).match(name)) == _glob_reference(pattern, name)


def test_config_set_appendonly_that_cannot_write_is_an_error(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    missing = tmp_path / "gone"
    node = start_server("--dir", str(missing))
    c = node.conn()
    assert c("SET", "k", "v") == b"OK"
    assert c("CONFIG", "SET", "appendonly", "yes") == err(
        "ERR CONFIG SET failed (possibly related to argument 'appendonly') - cannot write the "
        f"append-only file {missing / 'appendonly.aof'} (No such file or directory); restart "
        "the server with a writable --dir"
    )
    assert c("CONFIG", "GET", "appendonly") == [b"appendonly", b"no"]
    assert node.info("persistence")["aof_enabled"] == "0"
    missing.mkdir()
    assert c("CONFIG", "SET", "appendonly", "yes") == b"OK"
    assert node.info("persistence")["aof_enabled"] == "1"
    assert (missing / "appendonly.aof").read_bytes() == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"


def test_a_command_that_raises_gets_an_error_reply(tmp_path: Path) -> None:
    # A handler bug must cost one error reply, not the connection and the replies of its
    # read. ECHO is made to raise here, in a server started from a script.
    script = (
        "import sys, runpy\n"
        "from harness.server import _commands\n"
        "def boom(srv, c, argv):\n"
        "    raise ValueError('boom\\nsecond line')\n"
        "_commands.COMMANDS[b'ECHO'] = _commands.COMMANDS[b'ECHO'].__class__(\n"
        "    name=b'echo', handler=boom, arity=2)\n"
        "sys.argv = ['harness.server', *sys.argv[1:]]\n"
        "runpy.run_module('harness.server', run_name='__main__')\n"
    )
    node = spawn(tmp_path, command=[sys.executable, "-c", script])
    try:
        wait_ready(node)
        c = node.conn()
        c.send_raw(encode_command("SET", "k", "v") + encode_command("ECHO", "x") + b"GET k\r\n")
        assert c.read() == b"OK"
        assert c.read() == err(
            "ERR command 'echo' failed inside the ackbound server (ValueError: boom second "
            "line); this is a server bug: report it with the server log, which has the "
            "traceback"
        )
        assert c.read() == b"v"
        assert "Command 'echo' raised:" in node.log.read_text()
    finally:
        stop(node)


def test_an_az_of_more_than_one_word_is_refused_however_it_comes(node: Node) -> None:
    """It goes into INFO, one field per line: 'a\\r\\nrole:master' forged a line. The flag
    refused it, CONFIG SET and a replica's REPLCONF did not."""
    c = node.conn()
    forged = "a\r\nrole:master"
    got = c("CONFIG", "SET", "az", forged)
    assert isinstance(got, ErrorReply) and "holds a space or a control character" in str(got)
    assert c("CONFIG", "GET", "az") == [b"az", b"default"]
    assert c("REPLCONF", "az", forged) == err(
        "ERR invalid az: holds a space or a control character; name the zone in one word"
    )
