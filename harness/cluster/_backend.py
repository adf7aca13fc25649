"""What a cluster backend is: something that runs, stops and freezes nodes.

Backends are small: the controller (``_cluster.py``) does all the thinking. The base
:class:`Backend` protocol starts nodes and tears everything down; stopping, freezing and
wiping are separate optional capabilities (as Jepsen's ``db`` has ``Kill`` and ``Pause``),
checked with ``isinstance`` so that a backend that cannot pause simply is not
:class:`Pausable` and the pause fault reports it cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from harness._errors import AckboundError

__all__ = [
    "Backend",
    "ClusterError",
    "ExitExplained",
    "Killable",
    "NodeSpec",
    "Pausable",
    "Wipeable",
]


class ClusterError(AckboundError):
    """A cluster that cannot be started or operated; the message names the node and fix."""


@dataclass(frozen=True, kw_only=True)
class NodeSpec:
    """Where node ``name`` lives: its AZ, its address and its directory under the run dir."""

    name: str
    index: int
    az: str
    host: str
    port: int
    dir: Path  # run_dir/nodes/<name>; the node's data is in dir/"data"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def log(self) -> Path:
        return self.dir / "log"


@runtime_checkable
class Backend(Protocol):
    """Runs nodes. ``start`` launches a node (again, with its data kept, if it ran before)."""

    name: str

    def start(self, node: NodeSpec) -> None: ...

    def running(self, node: NodeSpec) -> bool:
        """Whether the node's process/container is still alive (False once it exited)."""
        ...

    def log_tail(self, node: NodeSpec, lines: int = 15) -> str: ...

    def close(self) -> None:
        """Stop and remove every node, whatever its state. Idempotent; never raises."""
        ...


@runtime_checkable
class ExitExplained(Protocol):
    def exit_reason(self, node: NodeSpec) -> str:
        """Why a node that ``running`` says is gone is gone, for an error message: its
        process's exit status or its container's fate, and the end of its log."""
        ...


@runtime_checkable
class Killable(Protocol):
    def kill(self, node: NodeSpec) -> None:
        """Stop the node at once (SIGKILL), keeping its data for a later ``start``."""
        ...


@runtime_checkable
class Pausable(Protocol):
    def pause(self, node: NodeSpec) -> None: ...

    def resume(self, node: NodeSpec) -> None: ...


@runtime_checkable
class Wipeable(Protocol):
    def wipe(self, node: NodeSpec) -> None:
        """Delete a stopped node's data, so that its next ``start`` is empty."""
        ...
