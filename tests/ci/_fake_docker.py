"""A stand-in for the docker CLI, for running the service-container template in a test.

Each "container" is a local valkey-server process on a loopback port. Only what
ci/targets/valkey-service-hooks.sh uses is implemented: start, kill, pause, unpause,
``inspect -f '{{.State.Running}} {{.State.Paused}}'`` and ``exec CID valkey-cli ARGS``.

Usage: python _fake_docker.py STATE.json COMMAND ARGS...
STATE.json: {"binary": PATH, "containers": {ID: {"port": N, "dir": PATH}}}; the script
adds each container's "pid" and "paused".
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

INSPECT_FORMAT = "{{.State.Running}} {{.State.Paused}}"


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def daemon_error(message: str) -> int:
    print(f"Error response from daemon: {message}", file=sys.stderr)
    return 1


def start(box: dict[str, Any], binary: str) -> None:
    if alive(box.get("pid")):
        return
    Path(box["dir"]).mkdir(parents=True, exist_ok=True)
    argv = [binary, "--port", str(box["port"]), "--bind", "127.0.0.1", "--dir", box["dir"]]
    with open(Path(box["dir"]) / "log", "ab") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    box["pid"], box["paused"] = proc.pid, False


def kill(box: dict[str, Any]) -> None:
    pid = box.get("pid")
    if pid is not None and alive(pid):
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
    box["pid"], box["paused"] = None, False


def _reply(f: Any) -> tuple[str, bool]:
    """One RESP2 reply from ``f``, printed roughly as valkey-cli prints it; (text, is error)."""
    line = f.readline().decode().rstrip("\r\n")
    kind, rest = line[:1], line[1:]
    if kind == "+":
        return rest, False
    if kind == "-":
        return f"(error) {rest}", True
    if kind == ":":
        return rest, False
    if kind == "$":
        if int(rest) < 0:
            return "", False
        data = f.read(int(rest) + 2)[:-2]
        return data.decode(), False
    if kind == "*":
        items = [_reply(f)[0] for _ in range(max(0, int(rest)))]
        return "\n".join(items), False
    raise ValueError(f"not a RESP reply: {line!r}")


def valkey_cli(port: int, args: list[str]) -> int:
    """Send one command and print its reply, like ``valkey-cli ARGS``."""
    request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request.encode())
            text, error = _reply(sock.makefile("rb"))
    except OSError as exc:
        print(f"Could not connect to Valkey at 127.0.0.1:{port}: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 1 if error else 0


def main(argv: list[str]) -> int:
    state_path = Path(argv[0])
    state = json.loads(state_path.read_text())
    command, args = argv[1], argv[2:]
    if command == "version":
        return 0
    if command == "inspect":
        if args[:2] != ["-f", INSPECT_FORMAT]:
            return daemon_error(f"fake docker: unsupported inspect {args}")
        args = args[2:]
    box = state["containers"].get(args[0]) if args else None
    if box is None:
        return daemon_error(f"No such container: {args[0] if args else ''}")
    code = 0
    if command == "start":
        start(box, state["binary"])
    elif command == "kill":
        if not alive(box.get("pid")):
            return daemon_error(f"container {args[0]} is not running")
        kill(box)
    elif command in ("pause", "unpause"):
        if not alive(box.get("pid")):
            return daemon_error(f"container {args[0]} is not running")
        os.kill(box["pid"], signal.SIGSTOP if command == "pause" else signal.SIGCONT)
        box["paused"] = command == "pause"
    elif command == "inspect":
        running = alive(box.get("pid"))
        print(f"{str(running).lower()} {str(running and box['paused']).lower()}")
    elif command == "exec":
        if not alive(box.get("pid")):
            return daemon_error(f"container {args[0]} is not running")
        if box["paused"]:
            return daemon_error(f"container {args[0]} is paused, unpause the container first")
        if args[1] != "valkey-cli":
            return daemon_error(f"fake docker: unsupported exec {args[1:]}")
        code = valkey_cli(box["port"], args[2:])
    else:
        return daemon_error(f"fake docker: unsupported command {command}")
    state_path.write_text(json.dumps(state))
    return code


def wait_listening(port: int, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
