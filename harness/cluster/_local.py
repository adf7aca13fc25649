"""The local backend: nodes as subprocesses, each with its own dir and log under the run dir.

No stray processes, whatever happens to the harness:

- teardown (:meth:`LocalBackend.close`) SIGKILLs every node and reaps it; the cluster calls it
  from ``__exit__``, so exceptions and Ctrl-C (KeyboardInterrupt) tear down too;
- each node is started with ``PR_SET_PDEATHSIG = SIGKILL`` by one long-lived spawner thread, so
  if the harness itself is killed (SIGKILL, a crash) the kernel kills the nodes. The signal
  fires when the *thread* that forked dies, hence the dedicated thread that lives as long as
  the process;
- nodes run in their own session, so a Ctrl-C in the terminal reaches the harness only, and
  the harness decides the order of teardown.

A node's password (a target with ``[auth]``) never goes on its command line, which any user
can read in ``ps`` and which the node's log records: the node gets it from an environment
variable it reads, or as configuration directives on its standard input (:class:`NodeSecrets`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO, Any, Final

from harness.cluster._backend import ClusterError, NodeSpec
from harness.targets import Credentials, StartSpec, config_lines

__all__ = ["LocalBackend", "NodeSecrets"]

_PR_SET_PDEATHSIG: Final = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class _Spawner:
    """One daemon thread that runs every Popen, so PDEATHSIG means 'when the harness dies'."""

    _instance: _Spawner | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        threading.Thread(target=self._loop, name="ackbound-spawner", daemon=True).start()

    @classmethod
    def get(cls) -> _Spawner:
        with cls._lock:
            if cls._instance is None:
                cls._instance = _Spawner()
            return cls._instance

    def _loop(self) -> None:
        while True:
            fn, fut = self._jobs.get()
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        fut: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((lambda: subprocess.Popen(argv, **kwargs), fut))
        return fut.result()


@dataclass(frozen=True)
class NodeSecrets:
    """What a node started by the harness gets besides its argv: environment and stdin."""

    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    stdin: bytes | None = field(default=None, repr=False)

    @classmethod
    def for_start(cls, start: StartSpec, credentials: Credentials) -> NodeSecrets:
        """The way ``start`` says its nodes take a password (config on stdin first)."""
        if start.config_stdin is not None:
            return cls(stdin=config_lines(credentials).encode())
        if start.password_env is not None:
            return cls(env={start.password_env: credentials.password})
        raise ClusterError(
            "the target gives its nodes no way to get the password (set [start].password_env "
            "or [start].config_stdin)"
        )


class LocalBackend:
    """Runs each node as a subprocess of the harness."""

    name = "local"

    def __init__(
        self, commands: Callable[[NodeSpec], list[str]], *, secrets: NodeSecrets | None = None
    ) -> None:
        self._commands = commands
        self._secrets = secrets or NodeSecrets()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._paused: set[str] = set()
        self._standby: dict[str, tuple[subprocess.Popen[bytes], int]] = {}

    def start(self, node: NodeSpec) -> None:
        old = self._procs.get(node.name)
        if old is not None and old.poll() is None:
            raise ClusterError(
                f"node {node.name} is already running (pid {old.pid}); kill it first"
            )
        self._procs[node.name] = self._spawn(node, "starting")
        self._paused.discard(node.name)

    def _spawn(self, node: NodeSpec, what: str) -> subprocess.Popen[bytes]:
        node.data_dir.mkdir(parents=True, exist_ok=True)
        argv = self._commands(node)
        log = self._logs.get(node.name)
        if log is None:
            log = node.log.open("ab")
            self._logs[node.name] = log
        log.write(f"--- ackbound: {what} {node.name}: {' '.join(argv)}\n".encode())
        log.flush()
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(self._secrets.env)
        stdin_data = self._secrets.stdin
        try:
            proc = _Spawner.get().popen(
                argv,
                stdin=subprocess.DEVNULL if stdin_data is None else subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=node.data_dir,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        except OSError as exc:
            raise ClusterError(
                f"node {node.name}: cannot run {argv[0]!r} ({exc.strerror}); check the target's "
                "[start].command and that the binary is installed"
            ) from None
        if stdin_data is not None and proc.stdin is not None:
            # A few hundred bytes: far below a pipe's buffer, so this never blocks.
            with contextlib.suppress(OSError):
                proc.stdin.write(stdin_data)
            with contextlib.suppress(OSError):
                proc.stdin.close()
        return proc

    # A standby is a fresh process for a killed node, started in the background on another
    # port so that a later restart only has to attach it (the proxy hides the port change).
    # Only for targets whose restart loses the data anyway: then a fresh empty process is
    # exactly what a restart yields, minus the startup time.
    def has_standby(self, node: NodeSpec) -> bool:
        entry = self._standby.get(node.name)
        return entry is not None and entry[0].poll() is None

    def spawn_standby(self, node: NodeSpec) -> None:
        self.drop_standby(node)
        self._standby[node.name] = (self._spawn(node, "standby for"), node.port)

    def take_standby(self, node: NodeSpec) -> int | None:
        """Make the standby the node's process; return its port (None: there is none)."""
        entry = self._standby.pop(node.name, None)
        if entry is None:
            return None
        proc, port = entry
        if proc.poll() is not None:
            return None
        self._procs[node.name] = proc
        self._paused.discard(node.name)
        return port

    def drop_standby(self, node: NodeSpec) -> None:
        entry = self._standby.pop(node.name, None)
        if entry is not None:
            with contextlib.suppress(ProcessLookupError):
                entry[0].kill()
            entry[0].wait()

    def running(self, node: NodeSpec) -> bool:
        proc = self._procs.get(node.name)
        return proc is not None and proc.poll() is None

    def pid(self, node: NodeSpec) -> int | None:
        proc = self._procs.get(node.name)
        return proc.pid if proc is not None and proc.poll() is None else None

    def exit_status(self, node: NodeSpec) -> int | None:
        proc = self._procs.get(node.name)
        return None if proc is None else proc.poll()

    def exit_reason(self, node: NodeSpec) -> str:
        code = self.exit_status(node)
        if code is None:
            return "its process is gone"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"its process was killed by {name}"
        return f"its process exited with code {code}"

    def log_tail(self, node: NodeSpec, lines: int = 15) -> str:
        try:
            text = node.log.read_text("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self, node: NodeSpec) -> None:
        proc = self._procs.get(node.name)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        self._paused.discard(node.name)

    def pause(self, node: NodeSpec) -> None:
        self._signal(node, signal.SIGSTOP)
        self._paused.add(node.name)

    def resume(self, node: NodeSpec) -> None:
        self._signal(node, signal.SIGCONT)
        self._paused.discard(node.name)

    def _signal(self, node: NodeSpec, sig: int) -> None:
        proc = self._procs.get(node.name)
        if proc is None or proc.poll() is not None:
            raise ClusterError(f"node {node.name} is not running; restart it first")
        os.kill(proc.pid, sig)

    def wipe(self, node: NodeSpec) -> None:
        if self.running(node):
            raise ClusterError(f"node {node.name} is running; kill it before wiping its data")
        self.drop_standby(node)
        shutil.rmtree(node.data_dir, ignore_errors=True)
        node.data_dir.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        for proc in [*self._procs.values(), *(p for p, _ in self._standby.values())]:
            with contextlib.suppress(ProcessLookupError, OSError):
                proc.kill()
        for proc in [*self._procs.values(), *(p for p, _ in self._standby.values())]:
            with contextlib.suppress(Exception):
                proc.wait(10)
        self._procs.clear()
        self._standby.clear()
        for log in self._logs.values():
            with contextlib.suppress(OSError):
                log.close()
        self._logs.clear()
