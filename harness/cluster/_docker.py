"""The docker backend: the same cluster as containers, through the Docker SDK.

Each node is a container named ``ackbound-<run>-<node>`` on the *host* network (never a bridge),
listening on a loopback port the harness chose, with its data in a named volume
``ackbound-<run>-<node>``. kill = ``docker kill`` (SIGKILL), restart = ``docker start`` (same
container and volume: disk kept), pause/resume = ``docker pause``/``unpause`` (cgroup freezer),
wipe = remove the container and its volume.

No strays: :meth:`DockerBackend.close` removes every container and volume of the run, and the
cluster calls it on every exit path. Containers and volumes carry the labels
``ackbound.run`` and ``ackbound.owner-pid``; a new backend first removes those whose owner
process no longer exists (a harness that was SIGKILLed could not clean up after itself).

The engine is found the way the docker CLI finds it (``DOCKER_HOST``, else the default socket).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
from collections.abc import Callable
from typing import Any, Final

from harness.cluster._backend import ClusterError, NodeSpec

__all__ = ["LABEL_OWNER", "LABEL_RUN", "DockerBackend", "docker_client", "reap_orphans"]

LABEL_RUN: Final = "ackbound.run"
LABEL_OWNER: Final = "ackbound.owner-pid"
# Who the owner pid belongs to: a pid means a process only on this host, in this PID
# namespace (a CI job in a container shares the engine, not the pids), and only while the
# process that started then still runs (pids are reused).
LABEL_HOST: Final = "ackbound.owner-host"
LABEL_PIDNS: Final = "ackbound.owner-pidns"
LABEL_START: Final = "ackbound.owner-start"


def _where() -> str:
    return os.environ.get("DOCKER_HOST", "the default socket (unix:///var/run/docker.sock)")


def engine_gone(exc: BaseException) -> ClusterError:
    """The error for an engine that stopped answering mid-way (a connection error)."""
    return ClusterError(
        f"the Docker engine at {_where()} stopped answering ({exc.__class__.__name__}); "
        "check that dockerd runs, then run again"
    )


def docker_client() -> Any:
    """A Docker SDK client for the engine at ``DOCKER_HOST``; ClusterError if none answers."""
    try:
        docker: Any = importlib.import_module("docker")
    except ImportError:
        raise ClusterError(
            "the docker backend needs the Docker SDK; pip install 'ackbound[docker]'"
        ) from None
    where = _where()
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:
        raise ClusterError(
            f"no Docker engine answers at {where} ({exc.__class__.__name__}); start dockerd "
            "or point DOCKER_HOST at its socket"
        ) from None
    return client


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of proc(5)


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def owner_labels() -> dict[str, str]:
    """The labels that say which harness process owns a container or volume."""
    pid = os.getpid()
    return {
        LABEL_OWNER: str(pid),
        LABEL_HOST: socket.gethostname(),
        LABEL_PIDNS: _pid_namespace(),
        LABEL_START: _start_time(pid) or "",
    }


def _owner_gone(labels: dict[str, str]) -> bool:
    """Whether the harness that labelled a container is surely gone. One on another host
    or in another PID namespace is not ours to judge: its pid means nothing here."""
    owner = labels.get(LABEL_OWNER, "")
    if not owner.isdigit():
        return False
    if LABEL_HOST not in labels:  # labelled by an older ackbound: the pid alone
        return not _pid_alive(int(owner))
    if (labels[LABEL_HOST], labels.get(LABEL_PIDNS)) != (socket.gethostname(), _pid_namespace()):
        return False
    return _start_time(int(owner)) != labels.get(LABEL_START)


def reap_orphans(client: Any) -> int:
    """Remove containers and volumes of ackbound runs whose harness process is gone."""
    removed = 0
    for c in client.containers.list(all=True, filters={"label": LABEL_OWNER}):
        if _owner_gone(c.labels):
            with contextlib.suppress(Exception):
                c.remove(force=True)
                removed += 1
    for v in client.volumes.list(filters={"label": LABEL_OWNER}):
        if _owner_gone(v.attrs.get("Labels") or {}):
            with contextlib.suppress(Exception):
                v.remove(force=True)
    return removed


class DockerBackend:
    """Runs each node as a container on the host network."""

    name = "docker"

    def __init__(
        self, image: str, commands: Callable[[NodeSpec], list[str]], data_dir: str, run_id: str
    ) -> None:
        self.client = docker_client()
        try:
            reap_orphans(self.client)
        except OSError as exc:  # requests' ConnectionError: the engine went away
            raise engine_gone(exc) from None
        self.image = image
        self._commands = commands
        self._data_dir = data_dir
        self.run_id = run_id
        self._containers: dict[str, Any] = {}
        self._specs: dict[str, NodeSpec] = {}
        self._gone: dict[str, str] = {}  # node -> name of its container removed behind our back
        self._ensure_image()

    def _ensure_image(self) -> None:
        from harness.cluster._images import IMAGES, ensure_image

        ours = next((name for name, tag in IMAGES.items() if tag == self.image), None)
        if ours is not None:
            # One of the images ackbound builds: (re)build it if it is missing or holds other
            # files than this ackbound's (an older server, another interpreter), so that a
            # run never tests a stale copy. A no-op, in about a second, when it is current.
            try:
                ensure_image(self.client, ours)
            except OSError as exc:
                raise engine_gone(exc) from None
            return
        errors: Any = importlib.import_module("docker.errors")
        try:
            self.client.images.get(self.image)
            return
        except errors.ImageNotFound:
            pass
        except errors.APIError as exc:  # not a name the engine can look up at all
            why = getattr(exc, "explanation", None) or exc.__class__.__name__
            raise ClusterError(
                f"docker image {self.image!r} cannot be looked up ({why}); pass a valid "
                "image name such as ackbound-valkey:local"
            ) from None
        except OSError as exc:
            raise engine_gone(exc) from None
        except Exception as exc:  # an empty name (NullResource), ...
            raise ClusterError(
                f"docker image {self.image!r} cannot be looked up ({exc.__class__.__name__}: "
                f"{exc}); pass a valid image name such as ackbound-valkey:local"
            ) from None
        if self.image.startswith("ackbound-") and self.image.endswith(":local"):
            # Named like ours, but none of ours (those are built above): nothing to pull.
            raise ClusterError(
                f"docker image {self.image!r} is not present; it is built locally, never "
                f"pulled: ackbound builds only {', '.join(IMAGES.values())}"
            )
        try:
            self.client.images.pull(self.image)
        except Exception as exc:
            raise ClusterError(
                f"docker image {self.image!r} is not present and could not be pulled "
                f"({exc.__class__.__name__}); docker pull or docker import it, or pass another image"
            ) from None

    def _labels(self, node: NodeSpec) -> dict[str, str]:
        return {LABEL_RUN: self.run_id, **owner_labels(), "ackbound.node": node.name}

    def _name(self, node: NodeSpec) -> str:
        return f"ackbound-{self.run_id}-{node.name}"

    def start(self, node: NodeSpec) -> None:
        node.dir.mkdir(parents=True, exist_ok=True)
        self._specs[node.name] = node
        container = self._containers.get(node.name)
        try:
            if container is not None:
                container.start()
                return
            volume = self.client.volumes.create(name=self._name(node), labels=self._labels(node))
            self._containers[node.name] = self.client.containers.run(
                self.image,
                self._commands(node),
                name=self._name(node),
                detach=True,
                network_mode="host",
                labels=self._labels(node),
                volumes={volume.name: {"bind": self._data_dir, "mode": "rw"}},
                working_dir=self._data_dir,
            )
        except OSError as exc:
            raise engine_gone(exc) from None
        except Exception as exc:
            raise ClusterError(
                f"node {node.name}: docker could not start a container of {self.image!r} "
                f"({exc}); check the image and the target's [docker].command"
            ) from None

    def _reload(self, node: NodeSpec) -> Any | None:
        """The node's container with its status refreshed; ``None`` when it has none, or
        when the engine no longer knows it (removed by something other than ackbound: it
        is forgotten, and the next ``start`` makes a new one on the node's volume)."""
        container = self._containers.get(node.name)
        if container is None:
            return None
        from docker import errors

        try:
            container.reload()
        except errors.NotFound:
            self._gone[node.name] = container.name
            del self._containers[node.name]
            return None
        except Exception:  # the engine did not answer this once: keep what we knew
            pass
        return container

    def running(self, node: NodeSpec) -> bool:
        container = self._reload(node)
        return container is not None and container.status in ("running", "paused")

    def exit_reason(self, node: NodeSpec) -> str:
        container = self._reload(node)
        if container is None:
            name = self._gone.get(node.name, self._name(node))
            return (
                f"its container {name} is gone: something outside ackbound removed it "
                "(docker rm, docker container prune); keep other tools off ackbound-* "
                "containers while a run is on"
            )
        if container.status == "exited":
            code = container.attrs.get("State", {}).get("ExitCode")
            return f"its container {container.name} exited with code {code}"
        return f"its container {container.name} is {container.status}"

    def log_tail(self, node: NodeSpec, lines: int = 15) -> str:
        container = self._containers.get(node.name)
        if container is None:
            return ""
        try:
            return str(container.logs(tail=lines).decode("utf-8", "replace"))
        except Exception:
            return ""

    def _save_log(self, node: NodeSpec) -> None:
        container = self._containers.get(node.name)
        if container is None:
            return
        with contextlib.suppress(Exception):
            data = container.logs()
            with node.log.open("ab") as fh:
                fh.write(f"--- ackbound: log of container {container.name}\n".encode())
                fh.write(data)

    def kill(self, node: NodeSpec) -> None:
        container = self._reload(node)
        if container is None:
            return
        if container.status == "paused":
            container.unpause()
        with contextlib.suppress(Exception):
            container.kill()
        container.wait(timeout=30)

    def pause(self, node: NodeSpec) -> None:
        container = self._containers.get(node.name)
        if container is None:
            raise ClusterError(f"node {node.name} has no container; restart it first")
        container.pause()

    def resume(self, node: NodeSpec) -> None:
        container = self._containers.get(node.name)
        if container is None:
            raise ClusterError(f"node {node.name} has no container; restart it first")
        container.unpause()

    def wipe(self, node: NodeSpec) -> None:
        if self.running(node):
            raise ClusterError(f"node {node.name} is running; kill it before wiping its data")
        self._save_log(node)
        container = self._containers.pop(node.name, None)
        if container is not None:
            container.remove(force=True)
        with contextlib.suppress(Exception):
            self.client.volumes.get(self._name(node)).remove(force=True)

    def close(self) -> None:
        for spec in self._specs.values():
            self._save_log(spec)
        with contextlib.suppress(Exception):
            for c in self.client.containers.list(
                all=True, filters={"label": f"{LABEL_RUN}={self.run_id}"}
            ):
                with contextlib.suppress(Exception):
                    c.remove(force=True)
        with contextlib.suppress(Exception):
            for v in self.client.volumes.list(filters={"label": f"{LABEL_RUN}={self.run_id}"}):
                with contextlib.suppress(Exception):
                    v.remove(force=True)
        self._containers.clear()
