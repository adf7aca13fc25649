"""Real clients against the bundled server: valkey-py (with and without hiredis) and
redis-benchmark; and the pure and hiredis request parsers inside the server."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from typing import Any

import pytest
import valkey
from valkey._parsers import _RESP2Parser, _RESP3Parser

from .conftest import ServerFactory


@pytest.mark.parametrize("parser", ["hiredis", "python"])
@pytest.mark.parametrize("server_parser", ["hiredis", "pure"])
def test_valkey_py(start_server: ServerFactory, parser: str, server_parser: str) -> None:
    flags = ("--no-hiredis",) if server_parser == "pure" else ()
    node = start_server(*flags)
    kwargs: dict[str, Any] = {"parser_class": _RESP2Parser} if parser == "python" else {}
    kwargs3: dict[str, Any] = {"parser_class": _RESP3Parser} if parser == "python" else {}
    # valkey-py annotates its synchronous client's replies as ``Awaitable[Any] | Any``.
    client: Any = valkey.Valkey(connection_pool=valkey.ConnectionPool(port=node.port, **kwargs))
    assert client.ping()
    assert client.set("k", "v") and client.get("k") == b"v"
    assert client.rpush("l", "a", "b") == 2 and client.lrange("l", 0, -1) == [b"a", b"b"]
    assert client.sadd("s", "x") == 1 and set(client.smembers("s")) == {b"x"}
    assert client.incrby("n", 5) == 5
    pipe = client.pipeline(transaction=True)
    pipe.set("a", 1).incr("a").get("a")
    assert pipe.execute() == [True, 2, b"2"]
    assert client.info("durability")["durability_mode"] == "none"
    assert client.config_get("durability") == {"durability": "none"}
    info = client.info("server")
    assert info["hiredis_parser"] == ("yes" if server_parser == "hiredis" else "no")
    r3: Any = valkey.Valkey(
        connection_pool=valkey.ConnectionPool(port=node.port, protocol=3, **kwargs3)
    )
    assert r3.get("k") == b"v" and r3.get("nope") is None
    client.close()
    r3.close()


def test_redis_benchmark_works(start_server: ServerFactory) -> None:
    binary = shutil.which("redis-benchmark")
    if binary is None:
        pytest.fail("redis-benchmark is missing: apt-get install redis-tools")
    node = start_server()
    out = subprocess.run(
        [binary, "-p", str(node.port), "-t", "set,get", "-n", "2000", "-c", "10", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "SET:" in out and "GET:" in out and "requests per second" in out


def test_event_loop_is_reported(start_server: ServerFactory) -> None:
    expected = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    assert start_server().info("server")["event_loop"] == expected
    assert start_server("--no-uvloop").info("server")["event_loop"] == "asyncio"
