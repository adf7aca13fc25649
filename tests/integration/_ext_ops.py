"""An operator's toolbox for the external-target test: what a cloud CLI would do.

Usage: python _ext_ops.py STATE.json ACTION NODE
STATE.json: {"binary": ..., "nodes": {"n1": {"port": 7001, "dir": "..."}, ...}}
Actions: kill, restart (rejoins the current primary as a replica), wipe-restart, promote.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def command(port: int, *args: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall((f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)).encode())
        data = b""
        while not data.endswith(b"\r\n") or (data.startswith(b"$") and data.count(b"\r\n") < 2):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode()


def role(port: int) -> str | None:
    try:
        return "master" if "role:master" in command(port, "INFO", "replication") else "slave"
    except OSError:
        return None


def start(state: dict[str, Any], name: str, replicaof: int | None) -> None:
    node = state["nodes"][name]
    argv = [
        state["binary"],
        "--port",
        str(node["port"]),
        "--bind",
        "127.0.0.1",
        "--dir",
        node["dir"],
        "--save",
        "",
        "--appendonly",
        "no",
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--repl-diskless-load",
        "swapdb",
        "--logfile",
        "",
    ]
    if replicaof is not None:
        argv += ["--replicaof", "127.0.0.1", str(replicaof)]
    Path(node["dir"]).mkdir(parents=True, exist_ok=True)
    log = open(Path(node["dir"]) / "log", "ab")  # noqa: SIM115 - inherited by the server
    proc = subprocess.Popen(argv, stdout=log, stderr=log, cwd=node["dir"], start_new_session=True)
    Path(node["dir"], "pid").write_text(str(proc.pid))
    deadline = time.monotonic() + 10
    while role(node["port"]) is None:
        if time.monotonic() > deadline:
            sys.exit(f"{name} did not start")
        time.sleep(0.01)


def main() -> None:
    state = json.loads(Path(sys.argv[1]).read_text())
    action, name = sys.argv[2], sys.argv[3]
    node = state["nodes"][name]
    if action in ("kill", "wipe-restart"):
        pid = int(Path(node["dir"], "pid").read_text())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while (
            Path(f"/proc/{pid}").exists()
            and "zombie" not in Path(f"/proc/{pid}/status").read_text()
        ):
            time.sleep(0.01)
    if action == "wipe-restart":
        shutil.rmtree(node["dir"], ignore_errors=True)
    if action in ("restart", "wipe-restart"):
        primaries = [
            n["port"]
            for k, n in state["nodes"].items()
            if k != name and role(n["port"]) == "master"
        ]
        start(state, name, primaries[0] if primaries else None)
    if action == "promote":
        command(node["port"], "REPLICAOF", "NO", "ONE")
        for other, n in state["nodes"].items():
            if other != name and role(n["port"]) is not None:
                command(n["port"], "REPLICAOF", "127.0.0.1", str(node["port"]))


if __name__ == "__main__":
    main()
