"""Fixtures for the bundled server: real subprocesses on free loopback ports, always killed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.resp import NEED_DATA, ReplyParser, encode_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(check: Callable[[], object], what: str, timeout: float = 10.0) -> object:
    """Call ``check`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Conn:
    """A raw RESP connection: sends commands, returns parsed replies exactly as sent."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.parser = ReplyParser()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> object:
        while True:
            reply = self.parser.next_reply()
            if reply is not NEED_DATA:
                return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            self.parser.feed(data)

    def __call__(self, *args: bytes | str | int) -> object:
        self.sock.sendall(encode_command(*args))
        return self.read()

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(1 << 16):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


class Node:
    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.proc = proc
        self.log = log
        self._conns: list[Conn] = []

    def conn(self) -> Conn:
        c = Conn(self.port)
        self._conns.append(c)
        return c

    def info(self, section: str) -> dict[str, str]:
        c = Conn(self.port)
        try:
            text = c("INFO", section)
        finally:
            c.close()
        assert isinstance(text, bytes), text
        fields = {}
        for line in text.decode().splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                fields[k] = v
        return fields

    def close(self) -> None:
        for c in self._conns:
            c.close()


ServerFactory = Callable[..., Node]
ClusterFactory = Callable[..., tuple[Node, list[Node]]]


def spawn(
    log_dir: Path,
    *flags: str,
    port: int | None = None,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> Node:
    """Start ``python -m harness.server --port P *flags`` (or ``command`` instead of
    ``python -m harness.server``), logging into ``log_dir``."""
    port = port or free_port()
    log = log_dir / f"server-{port}-{time.monotonic_ns()}.log"
    command = command or [sys.executable, "-m", "harness.server"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port), *flags],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    return Node(port, proc, log)


def wait_ready(node: Node) -> None:
    def ready() -> bool:
        if node.proc.poll() is not None:
            pytest.fail(f"server exited with {node.proc.returncode}: {node.log.read_text()}")
        return b"Ready to accept connections" in node.log.read_bytes()

    poll(ready, f"server on port {node.port} to log its readiness line")


def stop(node: Node) -> None:
    node.close()
    if node.proc.poll() is None:
        node.proc.kill()
    node.proc.wait(timeout=10)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """``start_server(*flags, port=None, env=None)`` starts ``python -m harness.server``."""
    started: list[Node] = []

    def start(
        *flags: str, port: int | None = None, env: dict[str, str] | None = None, wait: bool = True
    ) -> Node:
        for attempt in range(1, 6):
            node = spawn(tmp_path, *flags, port=port, env=env)
            started.append(node)
            if not wait:
                return node
            try:
                wait_ready(node)
            except pytest.fail.Exception:
                # A free port is free only until someone binds it: another test (or worker)
                # may have taken it between free_port() and the server's bind. Pick again.
                taken = b"address already in use" in node.log.read_bytes()
                if port is not None or attempt == 5 or not taken:
                    raise
                continue
            return node
        raise AssertionError("unreachable")  # pragma: no cover

    yield start
    for node in started:
        stop(node)


def wait_online(primary: Node, replicas: int) -> None:
    poll(
        lambda: (
            sum(
                "state=online" in v
                for k, v in primary.info("replication").items()
                if k.startswith("slave")
            )
            >= replicas
        ),
        f"{replicas} replica(s) online at the primary",
    )


def wait_offset_match(primary: Node, *replicas: Node) -> None:
    def match() -> bool:
        target = int(primary.info("replication")["master_repl_offset"])
        return all(int(r.info("replication")["slave_repl_offset"]) >= target for r in replicas)

    poll(match, "replicas to reach the primary's master_repl_offset")


@pytest.fixture
def cluster(start_server: ServerFactory) -> ClusterFactory:
    """``cluster(n_replicas, primary_flags=(), replica_flags=(), azs=None)``: a primary in
    az-a with replicas in az-b, az-c, ... (or the given AZs), all online."""

    def make(
        replicas: int = 1,
        primary_flags: tuple[str, ...] = (),
        replica_flags: tuple[str, ...] = (),
        azs: list[str] | None = None,
    ) -> tuple[Node, list[Node]]:
        zones = azs or ["az-a", *(f"az-{chr(ord('b') + i)}" for i in range(replicas))]
        primary = start_server("--az", zones[0], *primary_flags)
        nodes = [
            start_server(
                "--az", zones[i + 1], "--replicaof", "127.0.0.1", str(primary.port), *replica_flags
            )
            for i in range(replicas)
        ]
        wait_online(primary, replicas)
        return primary, nodes

    return make
