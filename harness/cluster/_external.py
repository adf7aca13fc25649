"""The external backend: a cluster that already runs elsewhere, operated by hook commands.

The harness starts nothing and owns nothing. Each fault the operator can cause has a shell
command template in the target file (``[external.hooks]``); the harness runs it with the
node's ``{name}``, ``{host}``, ``{port}``, ``{az}`` and the fault's parameters as JSON
``{params}``, and trusts it to do what its name says (``kill`` stops the node, ``restart``
starts it with its disk, ``promote`` makes it the primary and re-points the others — e.g. a
cloud CLI's failover call). Clients still go through the fault proxy, so client links can be
cut even when the operator has no network hooks.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Mapping
from typing import Any

from harness.cluster._backend import ClusterError, NodeSpec
from harness.targets import ExternalSpec
from harness.targets._template import render

__all__ = ["ExternalBackend"]


class ExternalBackend:
    """Runs the operator's hooks; ``close`` leaves the cluster running, as it found it."""

    name = "external"

    def __init__(self, spec: ExternalSpec, target: str) -> None:
        self.spec = spec
        self.target = target
        self._down: set[str] = set()
        self._wiped: set[str] = set()

    def has_hook(self, hook: str) -> bool:
        return hook in self.spec.hooks

    def run_hook(self, hook: str, node: NodeSpec | None, params: Mapping[str, Any]) -> str:
        template = self.spec.hooks.get(hook)
        if template is None:
            raise ClusterError(
                f"target {self.target!r} has no {hook!r} hook; add it to [external.hooks] "
                "or leave this fault out"
            )
        values: dict[str, object] = {"name": "", "host": "", "port": "", "az": ""}
        if node is not None:
            values.update(name=node.name, host=node.host, port=node.port, az=node.az)
        values["params"] = shlex.quote(json.dumps(dict(params), sort_keys=True))
        command = render(template, values)
        try:
            done = subprocess.run(
                command,
                shell=True,
                capture_output=True,
                text=True,
                timeout=self.spec.hook_timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(
                f"target {self.target!r}: hook {hook!r} ({command}) took longer than "
                f"{self.spec.hook_timeout_s:g} s; fix the hook or raise hook_timeout_s"
            ) from None
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ClusterError(
                f"target {self.target!r}: hook {hook!r} ({command}) exited with "
                f"{done.returncode}: {last[0]}; fix the hook"
            )
        return done.stdout

    # -- Backend ---------------------------------------------------------------------------
    def start(self, node: NodeSpec) -> None:
        hook = "wipe-restart" if node.name in self._wiped else "restart"
        self.run_hook(hook, node, {"node": node.name})
        self._down.discard(node.name)
        self._wiped.discard(node.name)

    def running(self, node: NodeSpec) -> bool:
        return node.name not in self._down

    def log_tail(self, node: NodeSpec, lines: int = 15) -> str:
        return ""

    def close(self) -> None:
        return None

    # -- capabilities (each needs its hook) -------------------------------------------------
    def kill(self, node: NodeSpec) -> None:
        self.run_hook("kill", node, {"node": node.name})
        self._down.add(node.name)

    def pause(self, node: NodeSpec) -> None:
        self.run_hook("pause", node, {"node": node.name})

    def resume(self, node: NodeSpec) -> None:
        self.run_hook("resume", node, {"node": node.name})

    def wipe(self, node: NodeSpec) -> None:
        if not self.has_hook("wipe-restart"):
            raise ClusterError(
                f"target {self.target!r} has no 'wipe-restart' hook; add one to [external.hooks]"
            )
        self._wiped.add(node.name)
