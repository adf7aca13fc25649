"""The cluster controller: start a cluster, break it on purpose, put it back together.

The controller is the harness's stand-in for a managed service's control plane. It owns the
topology (who is primary, who replicates from whom), starts nodes through a backend, routes
every replication and client link through the fault proxy, applies faults by name, and
records each fault in the history as a ``nemesis`` invoke plus a completion whose ``effects``
say what happened in the model's terms (docs/history.md). The checker believes those effects,
so each is recorded only once it is true:

- ``down``/``up`` after the backend reports the process killed/paused or started and
  answering PING;
- ``lose-data`` whenever a node's data is deleted, and on every restart unless the target
  guarantees a durable restart;
- ``cut``/``heal-link``/``slow``/``fast`` once the proxy has the new policy in force (the
  controller keeps one policy per directed pair of endpoints, so links created later, e.g.
  after a failover, inherit it);
- ``promote`` with the candidates it could reach and the offsets it read from them;
- ``replicate`` after the node accepted the command that points it at its new primary (or,
  for replicas of a primary that restarted, because they resync from it);
- ``synced`` after the controller read a replica's offset ≥ the primary's offset read before.

Failover policy: a fault never triggers another by itself. Killing the primary leaves the
cluster without one until the run applies ``failover`` — the explicit, recorded step a managed
service's controller would take — unless the cluster was started with ``auto_failover=True``,
in which case ``kill``/``az-outage`` of the primary are followed at once by a recorded
``failover``. A node the controller cannot reach (down, paused, or partitioned from the
clients' side, where the controller sits) is neither a failover candidate nor re-pointed;
it rejoins as a replica of the current primary when it comes back (``resume``, ``restart``,
``heal``, ``wait_recovered``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal

from harness.cluster._backend import (
    Backend,
    ClusterError,
    ExitExplained,
    Killable,
    NodeSpec,
    Pausable,
    Wipeable,
)
from harness.cluster._client import (
    NOT_RESP,
    ClientAuthError,
    ClientConnectionError,
    ClientError,
    ClientTLSError,
    ConnectOptions,
    RespClient,
    ServerError,
    connect,
)
from harness.cluster._external import ExternalBackend
from harness.cluster._local import LocalBackend
from harness.cluster._perform import Outcome, perform
from harness.cluster._ports import PortLease, free_ports, loopback
from harness.faults import PASS, FaultError, FaultProxy, Link, Policy, get_fault
from harness.history import NEMESIS, OBSERVER, Header, HistoryWriter
from harness.resp import ProtocolError, ReplyParser, encode_command
from harness.targets import Credentials, ModeParams, Target, TargetError, load_target

__all__ = [
    "BACKENDS",
    "CLIENT",
    "Cluster",
    "NodeInfo",
    "history_header",
    "start_cluster",
    "topology",
]

BACKENDS: Final = ("local", "docker")
_HOLD: Final = Policy(blocked=True)  # a client direction held shut while a node starts
CLIENT: Final = "client"  # the endpoint name of the clients in link pairs and effects
_HOST: Final = "127.0.0.1"
_ADMIN_TIMEOUT_S: Final = 2.0
# How long a node of an external target (which has no [start] table) gets to answer PING.
_EXTERNAL_READY_S = 30.0
_POLL_S: Final = 0.005
# Boots of a local or docker cluster, each on fresh ports: a port found free can be taken
# (by any connection's ephemeral port) before its node binds it.
_BOOT_ATTEMPTS: Final = 3
# Listening ports tried for one proxy link before giving up (each is one another run holds).
_LINK_ATTEMPTS: Final = 16

Effect = dict[str, Any]
Role = Literal["primary", "replica"]
Status = Literal["up", "down", "paused"]


# What a node that should be a replica says of itself when it is a primary instead.
_NOT_A_REPLICA: Final = "it is a primary, not a replica"


@dataclass(frozen=True, kw_only=True)
class NodeInfo:
    """A node as the controller sees it."""

    name: str
    az: str
    role: Role
    status: Status


@dataclass
class _Node:
    spec: NodeSpec
    status: Status
    role: Role  # what the node itself believes
    upstream: str | None  # whom it replicates from
    client_link: Link


def topology(nodes: int | None = None, azs: int | None = None) -> dict[str, Any]:
    """The topology :func:`start_cluster` builds: n1..nN round-robin over az1..azM, n1 primary
    (by default 3 nodes, in as many AZs as nodes, at most 3)."""
    nodes = 3 if nodes is None else nodes
    azs = min(nodes, 3) if azs is None else azs
    if nodes < 2:
        raise ClusterError(
            f"nodes={nodes}: a cluster needs at least 2 nodes (a primary and a replica)"
        )
    if not 1 <= azs <= nodes:
        raise ClusterError(f"azs={azs}: use 1..{nodes} AZs for {nodes} nodes")
    return {
        "nodes": [{"name": f"n{i + 1}", "az": f"az{i % azs + 1}"} for i in range(nodes)],
        "primary": "n1",
    }


def history_header(
    target: Target,
    mode: str,
    params: ModeParams | Mapping[str, Any] | None = None,
    *,
    nodes: int = 3,
    azs: int = 3,
) -> Header:
    """The history header for a cluster that :func:`start_cluster` will start with these args."""
    effective = target.effective_params(ModeParams.of(_plain(params)))
    if target.external is not None:
        topo: dict[str, Any] = {
            "nodes": [{"name": n.name, "az": n.az} for n in target.external.nodes],
            "primary": target.external.primary,
        }
    else:
        topo = topology(nodes, azs)
    return Header(
        mode=mode,
        params={
            **effective.to_json(),
            "tolerance_ms": round(target.tolerance_s * 1000),
            "recovery_ms": round(target.recovery_s * 1000),
        },
        topology=topo,
        target=target.name,
        durable_restart=target.durable_restart,
    )


def _plain(params: ModeParams | Mapping[str, Any] | None) -> ModeParams | dict[str, Any] | None:
    return dict(params) if isinstance(params, Mapping) else params


def _parse_info(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in str(text).splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith("#"):
            out[key.strip()] = value.strip()
    return out


def _replica_lines(info: Mapping[str, str]) -> dict[int, tuple[str, int]]:
    """``slaveN:ip=..,port=..,state=..,offset=..`` lines of a primary: port → (state, offset)."""
    out: dict[int, tuple[str, int]] = {}
    for key, value in info.items():
        if not (key.startswith("slave") and key[5:].isdigit()):
            continue
        fields = dict(part.partition("=")[::2] for part in value.split(","))
        try:
            out[int(fields["port"])] = (fields.get("state", ""), int(fields.get("offset", "-1")))
        except (KeyError, ValueError):
            continue
    return out


class Cluster:
    """A running cluster; use :func:`start_cluster` to make one, and always close it.

    Thread-safety: ``perform`` and clients may be used from many threads at once; the
    controller methods (``apply``, ``heal``, ``reset``, ``configure``, ...) serialise on a lock.
    """

    def __init__(
        self,
        *,
        target: Target,
        backend: Backend,
        specs: Sequence[NodeSpec],
        primary: str,
        mode: str,
        params: ModeParams,
        run_dir: Path,
        history: HistoryWriter,
        proxy: FaultProxy,
        auto_failover: bool,
        credentials: Credentials | None = None,
        ports: PortLease | None = None,
    ) -> None:
        self.target = target
        # Every port the cluster uses, held against other runs until close (_ports.py).
        self._ports = ports if ports is not None else PortLease()
        self._credentials = credentials
        self.backend = backend
        self.mode = mode
        self.params = params
        self.run_dir = run_dir
        self.history = history
        self.proxy = proxy
        self.auto_failover = auto_failover
        self._lock = threading.RLock()
        self._closed = False
        self._external = isinstance(backend, ExternalBackend)
        self._net: dict[tuple[str, str], Policy] = {}
        self._repl_links: dict[tuple[str, str], Link] = {}
        self._admins: dict[str, RespClient] = {}
        self._unready: dict[str, str] = {}  # node -> why its last readiness PING failed
        self._nodes: dict[str, _Node] = {}
        for spec in specs:
            link = self._add_link(f"client:{spec.name}", (spec.host, spec.port))
            role: Role = "primary" if spec.name == primary else "replica"
            self._nodes[spec.name] = _Node(
                spec=spec, status="down", role=role, upstream=None, client_link=link
            )
        self.primary = primary
        self.initial_primary = primary
        self._glide_stderr = target.client == "glide"
        if self._glide_stderr:
            from harness.cluster._glide import STDERR, preload

            preload()  # importing GLIDE takes ~1 s: not inside the first op's latency
            STDERR.acquire()

    # ------------------------------------------------------------------ topology, queries
    @property
    def nodes(self) -> tuple[NodeInfo, ...]:
        return tuple(
            NodeInfo(
                name=n.spec.name,
                az=n.spec.az,
                role="primary" if n.spec.name == self.primary else "replica",
                status=n.status,
            )
            for n in self._nodes.values()
        )

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    @property
    def azs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n.spec.az for n in self._nodes.values()))

    def node(self, name: str) -> NodeInfo:
        for info in self.nodes:
            if info.name == name:
                return info
        raise ClusterError(
            f"{name!r} is not a node of this cluster; use one of {', '.join(self._nodes)}"
        )

    def topology(self) -> dict[str, Any]:
        return {
            "nodes": [{"name": n.spec.name, "az": n.spec.az} for n in self._nodes.values()],
            "primary": self.primary,
        }

    def _reachable(self, name: str) -> bool:
        """Up, and not cut off from the clients' side (where the controller sits)."""
        return (
            self._nodes[name].status == "up"
            and not self._net.get((CLIENT, name), PASS).blocked
            and not self._net.get((name, CLIENT), PASS).blocked
        )

    # ------------------------------------------------------------------ clients and ops
    def client_timeout_s(self) -> float:
        timeout_ms = self.target.client_timeout_ms
        if self.target.modes.get(self.mode) and self.target.mode(self.mode).write == "wait":
            timeout_ms = max(timeout_ms, self.params.sync_timeout_ms + 1000)
        return timeout_ms / 1000.0

    def client(self, node: str | None = None, *, timeout_s: float | None = None) -> RespClient:
        """A new client of ``node`` (default: the current primary) through the fault proxy."""
        self._check_open()
        name = self.primary if node is None else node
        if name not in self._nodes:
            raise ClusterError(
                f"{name!r} is not a node of this cluster; use one of {', '.join(self._nodes)}"
            )
        link = self._nodes[name].client_link
        return connect(
            self.target.client,
            name,
            link.host,
            link.port,
            self.client_timeout_s() if timeout_s is None else timeout_s,
            self._options(name, glide=True),
        )

    def _options(self, name: str, *, glide: bool) -> ConnectOptions:
        """TLS and credentials for ``name``, whose certificate is checked against its host."""
        return ConnectOptions(
            tls=self.target.tls,
            credentials=self._credentials,
            server_name=self._nodes[name].spec.host,
            glide=self.target.glide if glide else None,
        )

    def perform(self, client: RespClient, workload: str, f: str, key: str, value: Any) -> Outcome:
        """Run one client op with the mode's write protocol: ``(type, value, error)``.

        ``type`` is ``ok``, ``fail`` (definitely not applied) or ``info`` (maybe applied).
        Nothing is recorded: the caller records the invoke and the completion. A closed
        cluster sends nothing (:class:`ClusterError`): its ports may be another run's by now.
        """
        self._check_open()
        return perform(self.target, self.mode, self.params, client, workload, f, key, value)

    def classify_error(self, error: str) -> str:
        return self.target.classify_error(error)

    # ------------------------------------------------------------------ admin plumbing
    def _admin(self, name: str) -> RespClient:
        """The controller's connection to ``name``: valkey-py, whatever the target's client
        (the control plane is the harness's, not the client under test)."""
        client = self._admins.get(name)
        if client is None:
            spec = self._nodes[name].spec
            client = connect(
                "valkey-py",
                name,
                spec.host,
                spec.port,
                _ADMIN_TIMEOUT_S,
                self._options(name, glide=False),
            )
            self._admins[name] = client
        return client

    def _cmd(self, name: str, *args: str | int) -> Any:
        """One control-plane command, sent directly to the node (not through the proxy)."""
        try:
            return self._admin(name).execute(*args)
        except ClientConnectionError:
            return self._admin(name).execute(*args)  # a stale connection from before a restart

    def _cmd_checked(self, name: str, command: Sequence[str | int], why: str) -> Any:
        try:
            return self._cmd(name, *command)
        except ClientError as exc:
            log = (
                "its own logs" if self._external else f"the node's log {self._nodes[name].spec.log}"
            )
            raise ClusterError(
                f"node {name}: {' '.join(map(str, command))!r} ({why}) failed: {exc}; check the "
                f"target's commands ({self.target.source}) and {log}"
            ) from None

    def _info(self, name: str) -> dict[str, str]:
        return _parse_info(self._cmd(name, *self.target.replication.info))

    def _offset(self, info: Mapping[str, str]) -> int | None:
        raw = info.get(self.target.replication.offset_field)
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None

    def _ready_timeout_s(self) -> float:
        """How long a node gets to come up: the target's [start] says, else (an external
        target) :data:`_EXTERNAL_READY_S`."""
        start = self.target.start
        return start.ready_timeout_s if start else _EXTERNAL_READY_S

    def _wait_ready(
        self,
        names: Sequence[str],
        timeout_s: float | None = None,
        *,
        refused_is_final: bool = False,
    ) -> None:
        """Wait until every node answers PING. ``refused_is_final``: a node whose address
        refuses connections fails at once (an external cluster, as a run finds it: nothing
        of ours is starting it, so waiting cannot help)."""
        timeout = timeout_s if timeout_s is not None else self._ready_timeout_s()
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            for name in list(pending):
                spec = self._nodes[name].spec
                if self._ready(name):
                    pending.remove(name)
                elif not self.backend.running(spec):
                    raise self._start_error(name, "exited during startup")
                elif refused_is_final and _refuses(spec.host, spec.port):
                    raise self._start_error(
                        name, "refused the connection: nothing listens at that address"
                    )
            if pending:
                if time.monotonic() > deadline:
                    raise self._start_error(
                        pending[0],
                        f"did not answer PING within {timeout:g} s"
                        + self._unready_hint(pending[0]),
                    )
                time.sleep(_POLL_S)

    def _unready_hint(self, name: str) -> str:
        """What the last failed PING said, and what a TLS target may be missing."""
        last = self._unready.get(name)
        if last is None:
            return ""
        hint = f" (last: {last.split(': ', 1)[-1]})"
        tls = self.target.tls
        if tls is not None and tls.cert_file is None and "closed" in last.lower():
            hint += (
                "; a node that closes TLS connections at once may want a client certificate: "
                f"set [tls] cert_file and key_file in {self.target.source}"
            )
        return hint

    def _ready(self, name: str) -> bool:
        try:
            reply = self._admin(name).execute("PING")
            if not (reply is True or reply == "PONG"):  # (an integer 1 equals True)
                self._unready[name] = f"{name}: PING answered {reply!r}, not PONG"
                return False
        except (ClientTLSError, ClientAuthError) as exc:
            raise self._secure_error(name, exc) from None
        except ServerError as exc:
            if str(exc).startswith(("NOAUTH", "WRONGPASS")):
                raise self._secure_error(name, ClientAuthError(f"{name}: {exc}")) from None
            self._unready[name] = str(exc)
            self._admins.pop(name, None)
            return False
        except ClientError as exc:
            self._unready[name] = str(exc)
            self._admins.pop(name, None)
            spec = self._nodes[name].spec
            if self.target.tls is None:
                junk = non_resp_reply(spec.host, spec.port, _ADMIN_TIMEOUT_S)
                if junk is not None:
                    junk_said = f" with {junk[:48]!r}, which is not RESP"
                    raise self._not_resp_error(name, junk_said) from None
            if NOT_RESP in str(exc):  # what the client could not read: no wait mends it
                unreadable = f", but {str(exc).split(': ', 1)[-1]}"
                raise self._not_resp_error(name, unreadable) from None
            if self._external:  # a cluster already running: is it TLS where we are not?
                mismatch = _tls_mismatch(spec.host, spec.port, self.target.tls is not None)
                if mismatch is not None:
                    where = self._where(name)
                    raise ClusterError(f"{where} {mismatch} {self.target.source}") from None
            return False
        self._unready.pop(name, None)
        ready_log = self.target.start.ready_log if self.target.start else None
        if ready_log and not self._external:
            return ready_log in self.backend.log_tail(self._nodes[name].spec, 400)
        return True

    def _secure_error(self, name: str, exc: ClientError) -> ClusterError:
        """One line for a node that refuses our TLS or our credentials, naming the fix."""
        where = self._where(name)
        source = self.target.source
        if isinstance(exc, ClientTLSError):
            detail = str(exc).split(": ", 1)[-1]
            if self.target.tls is None:
                fix = f"the node speaks TLS: add [tls] to {source} (or use rediss:// URLs)"
            elif "wrong version number" in detail.lower() or "record layer" in detail.lower():
                fix = f"the node does not speak TLS on this port: check the port or drop [tls] in {source}"
            elif "verify failed" in detail.lower():
                fix = (
                    f"set [tls] ca_file in {source} to the CA that signed the node's "
                    "certificate (and server_name to a name it holds), or insecure = true "
                    "for tests"
                )
            else:
                fix = (
                    f"the node wants a client certificate it trusts: set [tls] cert_file and "
                    f"key_file in {source}"
                )
            return ClusterError(f"{where} refused the TLS handshake ({detail}); {fix}")
        reply = str(exc).split(": ", 1)[-1]
        auth = self.target.auth
        if auth is not None and "unknown command" in reply.lower():
            # Not a refusal of the password: the node does not take one at all.
            return ClusterError(
                f"{where} does not know AUTH ({reply}); it takes no password: remove [auth] "
                f"from {source}, or check that {where} is the server you meant"
            )
        if auth is None:
            fix = (
                f"the node wants a password: add [auth] password_env (or password_file) to {source}"
            )
        else:
            who = f"user {auth.user!r}" if auth.user else "the default user"
            fix = f"check the password in {auth.where()} ({who}; [auth] in {source})"
        return ClusterError(f"{where} refused the credentials ({reply}); {fix}")

    def _where(self, name: str) -> str:
        """A node as an error about an address names it: name, address, target."""
        spec = self._nodes[name].spec
        return f"node {name} ({spec.host}:{spec.port}, target {self.target.name})"

    def _not_resp_error(self, name: str, answer: str) -> ClusterError:
        """A node whose PING answer (``answer``: how it answered, after "answered PING") no
        client can use."""
        return ClusterError(
            f"{self._where(name)} answered PING{answer}; check that this address is the "
            f"node's RESP port ({self.target.source})"
        )

    def _start_error(self, name: str, what: str) -> ClusterError:
        """The error for a node that failed to start, citing its log's last lines; a
        :class:`_PortTaken` when they say another socket had taken its port."""
        spec = self._nodes[name].spec
        if self._external:  # not ours: no log, and nothing started it
            return ClusterError(
                f"{self._where(name)} {what}; check that it runs and that "
                f"{self.target.source} gives its address"
            )
        tail = self.backend.log_tail(spec, 8).strip().replace("\n", " | ")
        cls = _PortTaken if "address already in use" in tail.lower() else ClusterError
        return cls(
            f"node {name} ({self.target.name}, port {spec.port}) {what}; see its log "
            f"{spec.log}" + (f" — last lines: {tail[-400:]}" if tail else "")
        )

    # ------------------------------------------------------------------ network
    def _policy(self, src: str, dst: str) -> Policy:
        return self._net.get((src, dst), PASS)

    def _set_policy(self, src: str, dst: str, policy: Policy) -> None:
        if policy == PASS:
            self._net.pop((src, dst), None)
        else:
            self._net[(src, dst)] = policy
        self._apply_net()

    def _apply_net(self) -> None:
        for name, node in self._nodes.items():
            self._set_link(node.client_link, "up", self._policy(CLIENT, name))
            self._set_link(node.client_link, "down", self._policy(name, CLIENT))
        for (replica, primary), link in self._repl_links.items():
            self._set_link(link, "up", self._policy(replica, primary))
            self._set_link(link, "down", self._policy(primary, replica))

    @staticmethod
    def _set_link(link: Link, direction: Literal["up", "down"], policy: Policy) -> None:
        if link.policy(direction) != policy:
            link.set(direction, policy)

    def _repl_link(self, replica: str, primary: str) -> Link:
        link = self._repl_links.get((replica, primary))
        if link is None:
            spec = self._nodes[primary].spec
            link = self._add_link(
                f"repl:{replica}->{primary}",
                (spec.host, spec.port),
                up=self._policy(replica, primary),
                down=self._policy(primary, replica),
            )
            self._repl_links[(replica, primary)] = link
        return link

    def _add_link(
        self, name: str, upstream: tuple[str, int], *, up: Policy = PASS, down: Policy = PASS
    ) -> Link:
        """A new proxy link whose listening port no other run holds, now held by this one."""
        for _ in range(_LINK_ATTEMPTS):
            link = self.proxy.add_link(name, upstream, up=up, down=down)
            if self._ports.claim(link.port):
                return link
            self.proxy.remove_link(name)  # another run's node, down now, will come back there
        raise ClusterError(
            f"the fault proxy found no port for link {name} that no other ackbound run holds "
            f"after {_LINK_ATTEMPTS} tries; stop other runs or free loopback ports"
        )

    def link(self, src: str, dst: str) -> Link:
        """The proxy link carrying traffic between ``src`` and ``dst`` (for tests/metrics)."""
        if src == CLIENT:
            return self._nodes[dst].client_link
        if dst == CLIENT:
            return self._nodes[src].client_link
        if (src, dst) in self._repl_links:
            return self._repl_links[(src, dst)]
        if (dst, src) in self._repl_links:
            return self._repl_links[(dst, src)]
        raise ClusterError(f"there is no replication link between {src} and {dst}")

    # ------------------------------------------------------------------ topology actions
    def _point(self, name: str, primary: str) -> None:
        """Make ``name`` a replica of ``primary`` through the proxy link name→primary."""
        link = self._repl_link(name, primary)
        values = {"primary_host": link.host, "primary_port": link.port, "primary_name": primary}
        node = self._nodes[name]
        # Until the command is known to have worked the node follows nobody we know of: a
        # command that timed out may still take effect later, so the next convergence must
        # point it again rather than trust stale bookkeeping.
        node.role, node.upstream = "replica", None
        for command in self.target.replication.replicaof:
            rendered = [part.format_map({k: str(v) for k, v in values.items()}) for part in command]
            self._cmd_checked(name, rendered, f"make it a replica of {primary}")
        node.role, node.upstream = "replica", primary

    def _promote(self, name: str) -> None:
        for command in self.target.replication.promote:
            self._cmd_checked(name, command, "promote it to primary")
        node = self._nodes[name]
        node.role, node.upstream = "primary", None

    def _flush(self) -> None:
        """Empty the data on the primary and let the replicas acknowledge it.

        Besides emptying, the flush moves the primary's offset forward, so that replicas
        reaching it proves the stream flows to them (see :meth:`_sync_round`); the target's
        ``settle`` command (WAIT) on the same connection makes them acknowledge it now.
        """
        for command in self.target.flush:
            self._cmd_checked(self.primary, command, "empty the data")
        settle = self.target.replication.settle
        if settle is not None:
            values = {"replicas": len(self._nodes) - 1, "timeout_ms": 1500}
            with contextlib.suppress(ClientError):
                self._cmd(
                    self.primary,
                    *[p.format_map({k: str(v) for k, v in values.items()}) for p in settle],
                )

    def _setup(self, name: str) -> None:
        for command in self.target.setup_commands(self.mode, self.params):
            self._cmd_checked(name, command, f"set up mode {self.mode}")

    def _converge(self, effects: list[Effect] | None) -> None:
        """Re-point every reachable node that does not follow the current primary."""
        if self._external:
            return
        for name, node in self._nodes.items():
            if name == self.primary or not self._reachable(name):
                continue
            if node.role != "replica" or node.upstream != self.primary:
                self._point(name, self.primary)
                if effects is not None:
                    effects.append({"replicate": name, "from": self.primary})

    def _launch(self, name: str) -> None:
        """Start a stopped node's process: attach its standby if it has one, else start it."""
        node = self._nodes[name]
        port = None
        if isinstance(self.backend, LocalBackend):
            port = self.backend.take_standby(node.spec)
        if port is None:
            self.backend.start(node.spec)
        else:
            # Same node, new process on another port: the proxy links keep their ports.
            node.spec = replace(node.spec, port=port)
            node.client_link.retarget((node.spec.host, port))
            for (_replica, primary), link in self._repl_links.items():
                if primary == name:
                    link.retarget((node.spec.host, port))
        self._admins.pop(name, None)
        self._prepare_standby(name)

    def _prepare_standby(self, name: str) -> None:
        """Keep a fresh process ready (in the background) for the node's next restart.

        A restart then attaches it instead of waiting for a new process to start, which for
        the bundled server (a Python program) is most of the time a reset takes. Only where a
        restart loses the data anyway (``durable_restart = false``): there the fresh, empty
        process is exactly what the restart would have started.
        """
        if isinstance(self.backend, LocalBackend) and not self.target.durable_restart:
            spec = self._nodes[name].spec
            if not self.backend.has_standby(spec):
                self.backend.spawn_standby(replace(spec, port=self._ports.take(1)[0]))

    def _start_node(self, name: str, effects: list[Effect] | None, *, record_loss: bool) -> None:
        node = self._nodes[name]
        # Clients wait at the proxy until the new process is in the run's mode: a process
        # answers as soon as it is ready, and until its setup it would acknowledge a sync
        # write that no replica has (the controller's own connection goes around the proxy).
        node.client_link.set("up", _HOLD)
        try:
            self._launch(name)
            self._wait_ready([name])
            if effects is not None:
                if record_loss:
                    effects.append({"lose-data": name})
                effects.append({"up": name})
            node.status = "up"
            if not self._external:
                node.role, node.upstream = "primary", None  # a fresh process starts as a primary
            self._setup(name)
        finally:
            self._apply_net()
        if name == self.primary and effects is not None:
            # Its replicas reconnect by themselves and resync from whatever it now holds.
            for other, o in self._nodes.items():
                if o.upstream == name and o.status == "up":
                    effects.append({"replicate": other, "from": name})

    def _stop_node(self, name: str) -> None:
        node = self._nodes[name]
        if not isinstance(self.backend, Killable):
            raise ClusterError(f"the {self.backend.name} backend cannot kill nodes")
        self.backend.kill(node.spec)
        node.status = "down"
        self._admins.pop(name, None)
        self._prepare_standby(name)

    # ------------------------------------------------------------------ faults
    def applicable(self, fault: str, **params: Any) -> str | None:
        """Why ``fault`` cannot be applied now (e.g. resume of a node that is not paused)."""
        spec = get_fault(fault)
        p = spec.validate(params, nodes=self.node_names, azs=self.azs)
        with self._lock:
            return self._inapplicable(fault, p)

    def _inapplicable(self, fault: str, p: Mapping[str, Any]) -> str | None:
        node = self._nodes.get(p.get("node", ""))
        if fault == "kill" and node is not None and node.status == "down":
            return f"node {node.spec.name} is already down"
        if fault == "restart" and node is not None and node.status != "down":
            return f"node {node.spec.name} is {node.status}; restart starts a killed node (kill it first)"
        if fault == "pause" and node is not None and node.status != "up":
            return f"node {node.spec.name} is {node.status}; only a running node can be paused"
        if fault == "resume" and node is not None and node.status != "paused":
            return f"node {node.spec.name} is {node.status}, not paused"
        if fault == "failover":
            if node is not None:
                name = node.spec.name
                if name == self.primary:
                    return f"node {name} is already the primary"
                if not self._reachable(name):
                    return f"node {name} is not reachable ({node.status}, or partitioned)"
            elif not any(n != self.primary and self._reachable(n) for n in self._nodes):
                return "no replica is reachable to promote"
        return None

    def apply(self, fault: str, **params: Any) -> list[Effect]:
        """Apply one fault by name; record it; return its effects (docs/faults.md).

        Raises :class:`FaultError` (nothing recorded) for an unknown fault, bad parameters or
        a capability the target lacks. A fault that does not apply in the current state
        (say, ``resume`` of a running node) is recorded with a ``fail`` completion and no
        effects, and returns ``[]``. If applying fails midway, the completion is ``info``
        with the effects that did happen, and the error is raised.
        """
        spec = get_fault(fault)
        missing = spec.missing(self.target.capabilities())
        if missing:
            raise FaultError(
                f"fault {fault!r} needs {', '.join(sorted(missing))}, which target "
                f"{self.target.name!r} cannot do; leave the fault out"
                + (" or add the hook to [external.hooks]" if self._external else "")
            )
        p = spec.validate(params, nodes=self.node_names, azs=self.azs)
        with self._lock:
            self._check_open()
            self.history.record(process=NEMESIS, type="invoke", f=fault, value=dict(p))
            reason = self._inapplicable(fault, p)
            if reason is not None:
                self.history.record(
                    process=NEMESIS, type="fail", f=fault, value={**p, "effects": []}, error=reason
                )
                return []
            effects: list[Effect] = []
            try:
                getattr(self, "_f_" + fault.replace("-", "_"))(effects, **p)
            except BaseException as exc:
                self.history.record(
                    process=NEMESIS,
                    type="info",
                    f=fault,
                    value={**p, "effects": effects},
                    error=str(exc) or exc.__class__.__name__,
                )
                raise
            self.history.record(
                process=NEMESIS, type="ok", f=fault, value={**p, "effects": effects}
            )
            primary_lost = self._nodes[self.primary].status == "down"
        if self.auto_failover and fault in ("kill", "az-outage") and primary_lost:
            self.apply("failover")
        return effects

    def heal(self) -> list[Effect]:
        """Undo every fault (the ``heal`` fault)."""
        return self.apply("heal")

    def _f_kill(self, effects: list[Effect], node: str) -> None:
        self._stop_node(node)
        effects.append({"down": node})

    def _f_restart(self, effects: list[Effect], node: str) -> None:
        self._start_node(node, effects, record_loss=not self.target.durable_restart)
        self._converge(effects)

    def _f_wipe_restart(self, effects: list[Effect], node: str) -> None:
        if self._nodes[node].status != "down":
            self._stop_node(node)
            effects.append({"down": node})
        self._wipe(node)
        effects.append({"lose-data": node})
        self._start_node(node, effects, record_loss=False)
        self._converge(effects)

    def _wipe(self, name: str) -> None:
        if not isinstance(self.backend, Wipeable):
            raise ClusterError(f"the {self.backend.name} backend cannot wipe nodes")
        self.backend.wipe(self._nodes[name].spec)
        self._prepare_standby(name)

    def _f_pause(self, effects: list[Effect], node: str) -> None:
        if not isinstance(self.backend, Pausable):
            raise ClusterError(f"the {self.backend.name} backend cannot pause nodes")
        self.backend.pause(self._nodes[node].spec)
        self._nodes[node].status = "paused"
        self._admins.pop(node, None)
        effects.append({"down": node})

    def _f_resume(self, effects: list[Effect], node: str) -> None:
        if not isinstance(self.backend, Pausable):
            raise ClusterError(f"the {self.backend.name} backend cannot pause nodes")
        self.backend.resume(self._nodes[node].spec)
        self._nodes[node].status = "up"
        effects.append({"up": node})
        self._converge(effects)

    def _f_partition(self, effects: list[Effect], node: str, direction: str) -> None:
        others = [n for n in self._nodes if n != node] + [CLIENT]
        pairs: list[tuple[str, str]] = []
        for other in others:
            if direction in ("both", "out"):
                pairs.append((node, other))
            if direction in ("both", "in"):
                pairs.append((other, node))
        if self._external:
            assert isinstance(self.backend, ExternalBackend)
            self.backend.run_hook(
                "partition", self._nodes[node].spec, {"node": node, "direction": direction}
            )
        for src, dst in pairs:
            self._net[(src, dst)] = replace(self._policy(src, dst), blocked=True)
        self._apply_net()
        effects.extend({"cut": [src, dst]} for src, dst in pairs)

    def _f_slow_link(
        self,
        effects: list[Effect],
        node: str | None = None,
        src: str | None = None,
        dst: str | None = None,
        bandwidth: int | None = None,
        latency_ms: float | None = None,
    ) -> None:
        if node is not None:
            others = [n for n in self._nodes if n != node]
            pairs = [(node, o) for o in others] + [(o, node) for o in others]
        else:
            assert src is not None and dst is not None
            pairs = [(src, dst)]
        if self._external:
            assert isinstance(self.backend, ExternalBackend)
            params = {
                "node": node,
                "src": src,
                "dst": dst,
                "bandwidth": bandwidth,
                "latency_ms": latency_ms,
            }
            self.backend.run_hook(
                "slow-link",
                self._nodes[node].spec if node else None,
                {k: v for k, v in params.items() if v is not None},
            )
        for a, b in pairs:
            old = self._policy(a, b)
            self._net[(a, b)] = replace(
                old,
                bandwidth=bandwidth if bandwidth is not None else old.bandwidth,
                latency_ms=latency_ms if latency_ms is not None else old.latency_ms,
            )
        self._apply_net()
        effects.extend({"slow": [a, b]} for a, b in pairs)

    def _f_failover(self, effects: list[Effect], node: str | None = None) -> None:
        old = self.primary
        candidates: dict[str, int] = {}
        for name in self._nodes:
            if name == old or not self._reachable(name):
                continue
            if node is not None and name != node:
                continue
            try:
                offset = self._offset(self._info(name))
            except ClientError:
                continue
            if offset is not None:
                candidates[name] = offset
        if not candidates:
            raise ClusterError(
                "failover: could not read the replication offset of any reachable replica"
                + (f" ({node})" if node else "")
            )
        order = list(self._nodes)
        chosen = node or max(candidates, key=lambda n: (candidates[n], -order.index(n)))
        if self._external:
            self._external_promote(chosen)
        else:
            self._promote(chosen)
        self.primary = chosen
        effects.append(
            {"promote": chosen, "candidates": candidates, "by": "named" if node else "offset"}
        )
        self._converge(effects)

    def _external_promote(self, name: str) -> None:
        assert isinstance(self.backend, ExternalBackend)
        self.backend.run_hook("promote", self._nodes[name].spec, {"node": name})
        deadline = time.monotonic() + self.backend.spec.hook_timeout_s
        while True:
            with contextlib.suppress(ClientError):
                info = self._info(name)
                if (
                    info.get(self.target.replication.role_field)
                    == self.target.replication.primary_role
                ):
                    break
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"failover: after the promote hook, node {name} did not report role "
                    f"{self.target.replication.primary_role!r}; check the hook"
                )
            time.sleep(0.05)
        for other, n in self._nodes.items():
            n.role, n.upstream = ("primary", None) if other == name else ("replica", name)

    def _f_az_outage(self, effects: list[Effect], az: str) -> None:
        for name, node in self._nodes.items():
            if node.spec.az != az:
                continue
            if node.status != "down":
                self._stop_node(name)
                effects.append({"down": name})
            self._wipe(name)
            effects.append({"lose-data": name})

    def _f_heal(self, effects: list[Effect]) -> None:
        for (src, dst), policy in sorted(self._net.items()):
            if policy.blocked:
                effects.append({"heal-link": [src, dst]})
            if policy.latency_ms or policy.bandwidth is not None:
                effects.append({"fast": [src, dst]})
        if self._external and self._net:
            assert isinstance(self.backend, ExternalBackend)
            if self.backend.has_hook("heal"):
                self.backend.run_hook("heal", None, {})
        self._net.clear()
        self._apply_net()
        for name, node in self._nodes.items():
            if node.status == "paused":
                assert isinstance(self.backend, Pausable)
                self.backend.resume(node.spec)
                node.status = "up"
                effects.append({"up": name})
        for name, node in self._nodes.items():
            if node.status == "down":
                self._start_node(name, effects, record_loss=not self.target.durable_restart)
        self._converge(effects)

    # ------------------------------------------------------------------ recovery, metrics
    def _sync_round(self, strict: bool = True) -> tuple[int, dict[str, str]]:
        """One look: (time of the primary's offset read, {replica: why not synced or ''}).

        A replica is synced when it reports its link up and an offset ≥ the primary's, and,
        if the primary lists its replicas, the primary streams to it: it lists it online
        and has had an acknowledgement on this connection (Valkey holds the stream after a
        diskless full sync until the replica's first acknowledgement, up to a second).
        """
        primary = self.primary
        rep = self.target.replication
        t0 = self.history.now()
        try:
            pinfo = self._info(primary)
        except ClientError as exc:
            return t0, {
                n: f"primary {primary} unreadable ({exc})" for n in self._nodes if n != primary
            }
        p_off = self._offset(pinfo)
        seen = _replica_lines(pinfo) if rep.replica_lines else {}
        status: dict[str, str] = {}
        for name, node in self._nodes.items():
            if name == primary:
                continue
            if pinfo.get(rep.role_field) != rep.primary_role:
                status[name] = f"primary {primary} reports role {pinfo.get(rep.role_field)!r}"
                continue
            try:
                info = self._info(name)
            except ClientError as exc:
                status[name] = f"unreadable ({exc})"
                continue
            off = self._offset(info)
            line = seen.get(node.spec.port)
            if info.get(rep.role_field) == rep.primary_role:
                status[name] = _NOT_A_REPLICA
            elif info.get(rep.link_field) != rep.link_up:
                status[name] = f"{rep.link_field}:{info.get(rep.link_field)}"
            elif off is None or p_off is None or off < p_off:
                status[name] = f"offset {off} < primary's {p_off}"
            elif rep.replica_lines and seen and line is None:
                status[name] = f"not listed as a replica by {primary}"
            elif strict and line is not None and (line[0] != "online" or (line[1] <= 0 < p_off)):
                # (an acknowledgement of offset 0 cannot be told apart from none: the flush
                # at setup makes the offset > 0 before anyone waits on this)
                status[name] = (
                    f"{primary} does not stream to it yet ({line[0]}, no acknowledgement)"
                )
            else:
                status[name] = ""
        return t0, status

    def _wait_synced(self, timeout_s: float, strict: bool = True) -> tuple[int, dict[str, str]]:
        deadline = time.monotonic() + timeout_s
        while True:
            t0, status = self._sync_round(strict)
            if not any(status.values()) or time.monotonic() > deadline:
                return t0, status
            time.sleep(_POLL_S)

    def wait_recovered(self, timeout: float | None = None) -> list[Effect]:
        """Wait until every node is up and every replica follows the primary, caught up.

        Records a nemesis ``recover`` op whose effects say which replicas were ``synced``
        (offset ≥ the primary's, read just before); the completion's time is when the
        primary's offset was read. Raises :class:`ClusterError` (completion ``info``) if a
        node is down or the cluster does not recover within ``timeout`` seconds (default:
        the target's recovery allowance).
        """
        timeout_s = self.target.recovery_s if timeout is None else timeout
        with self._lock:
            self._check_open()
            self.history.record(
                process=NEMESIS, type="invoke", f="recover", value={"timeout_s": timeout_s}
            )
            effects: list[Effect] = []
            try:
                down = [n for n, node in self._nodes.items() if node.status != "up"]
                if down:
                    raise ClusterError(
                        f"cannot recover while {', '.join(down)} is down or paused; apply heal first"
                    )
                self._converge(effects)
                t0, status = self._wait_synced(timeout_s)
                effects.extend({"synced": n} for n, why in status.items() if not why)
                lagging = {n: why for n, why in status.items() if why}
                if lagging:
                    detail = "; ".join(f"{n}: {why}" for n, why in lagging.items())
                    logs = (
                        "see the nodes' own logs"
                        if self._external
                        else "see the node logs under " + str(self.run_dir / "nodes")
                    )
                    raise ClusterError(
                        f"the cluster did not recover within {timeout_s:g} s ({detail}); {logs}"
                    )
            except BaseException as exc:
                self.history.record(
                    process=NEMESIS,
                    type="info",
                    f="recover",
                    value={"timeout_s": timeout_s, "effects": effects},
                    error=str(exc),
                )
                raise
            self.history.record(
                process=NEMESIS,
                type="ok",
                f="recover",
                time_ns=t0,
                value={"timeout_s": timeout_s, "effects": effects},
            )
            return effects

    def offsets(self) -> dict[str, int]:
        """Replication offsets of every node the controller can read now."""
        out: dict[str, int] = {}
        with self._lock:
            for name, node in self._nodes.items():
                if node.status != "up":
                    continue
                with contextlib.suppress(ClientError):
                    off = self._offset(self._info(name))
                    if off is not None:
                        out[name] = off
        return out

    def observe_offsets(self) -> dict[str, int]:
        """:meth:`offsets`, recorded as an observer ``offsets`` op."""
        self.history.record(process=OBSERVER, type="invoke", f="offsets")
        value = self.offsets()
        self.history.record(process=OBSERVER, type="ok", f="offsets", value=value)
        return value

    def lag(self, node: str | None = None) -> int | None:
        """The durability lag (ms) ``node`` (default: primary) reports, or None if unknown."""
        spec = self.target.lag
        name = self.primary if node is None else node
        if spec is None or self._nodes[name].status != "up":
            return None
        try:
            raw = _parse_info(self._cmd(name, *spec.command)).get(spec.field)
            if raw is None:
                return None
            value = float(raw)
        except (ClientError, ValueError):
            return None
        return round(value * 1000) if spec.unit == "s" else round(value)

    def observe_lag(self, node: str | None = None) -> int | None:
        """:meth:`lag`, recorded as an observer ``lag`` op (nothing if the target has no lag)."""
        self._check_open()
        if self.target.lag is None:
            return None
        name = self.primary if node is None else node
        self.history.record(process=OBSERVER, type="invoke", f="lag", node=name)
        value = self.lag(name)
        if value is None:
            self.history.record(
                process=OBSERVER, type="fail", f="lag", node=name, error="no lag reading"
            )
        else:
            self.history.record(process=OBSERVER, type="ok", f="lag", node=name, value=value)
        return value

    def stopped_on_their_own(self) -> list[str]:
        """The nodes the controller believes up (or paused) whose process or container is
        gone, though no fault stopped them: the server crashed, or a tool outside ackbound
        killed or removed it. An example that ran into one proves nothing about durability.

        Each is marked down, so that the next reset starts it again; the result is one line
        per node saying how it ended and where its log is (not its last lines: a standby
        process for the node may have written there since).
        """
        found: list[str] = []
        with self._lock:
            for name, node in self._nodes.items():
                if node.status == "down" or self.backend.running(node.spec):
                    continue
                how = (
                    self.backend.exit_reason(node.spec)
                    if isinstance(self.backend, ExitExplained)
                    else "it is not running"
                )
                node.status = "down"
                self._admins.pop(name, None)
                found.append(
                    f"node {name} stopped though no fault stopped it: {how}; see its log "
                    f"{node.spec.log}"
                )
        return found

    # ------------------------------------------------------------------ configuration
    def configure(self, mode: str, params: ModeParams | Mapping[str, Any] | None = None) -> None:
        """Switch every running node to ``mode`` with ``params`` (live, through setup commands).

        Down and paused nodes get the setup when they come back.
        """
        self.target.mode(mode)
        new_params = self.target.effective_params(ModeParams.of(_plain(params)))
        with self._lock:
            self._check_open()
            self.mode, self.params = mode, new_params
            for name, node in self._nodes.items():
                if node.status == "up":
                    self._setup(name)

    def reset(
        self,
        *,
        history: HistoryWriter | None = None,
        mode: str | None = None,
        params: ModeParams | Mapping[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Back to the initial state between examples; nothing is recorded.

        Heals every link, resumes and restarts nodes, makes the initial primary the primary
        again with every other node replicating from it, empties the data, and re-applies
        the mode (``mode``/``params`` switch it; ``history`` starts recording into a new
        writer). A node that stopped on its own since the last look
        (:meth:`stopped_on_their_own`) is named in a ``ClusterError`` instead; the next reset
        starts it again.
        """
        with self._lock:
            self._check_open()
            gone = self.stopped_on_their_own()
            if gone:  # marked down: the next reset starts them again
                raise ClusterError("; ".join(gone))
            if history is not None:
                self.history = history
            if mode is not None or params is not None:
                self.target.mode(mode or self.mode)
                self.mode = mode or self.mode
                if params is not None:
                    self.params = self.target.effective_params(ModeParams.of(_plain(params)))
            if self._net and self._external:
                assert isinstance(self.backend, ExternalBackend)
                if self.backend.has_hook("heal"):
                    self.backend.run_hook("heal", None, {})
            self._net.clear()
            self._apply_net()
            for node in self._nodes.values():
                if node.status == "paused":
                    assert isinstance(self.backend, Pausable)
                    self.backend.resume(node.spec)
                    node.status = "up"
            down = [n for n, node in self._nodes.items() if node.status == "down"]
            for name in down:
                self._launch(name)
            self._wait_ready(down)
            for name in down:
                node = self._nodes[name]
                node.status = "up"
                if not self._external:
                    node.role, node.upstream = "primary", None
            quiet = "none" if "none" in self.target.modes else self.mode
            saved = self.mode
            self.mode = quiet
            try:
                for name in self._nodes:
                    self._setup(name)
                if self.primary != self.initial_primary:
                    if self._external:
                        self._external_promote(self.initial_primary)
                    else:
                        self._promote(self.initial_primary)
                    self.primary = self.initial_primary
                self._converge(None)
                self._flush()
                _t0, status = self._wait_synced(timeout)
                lagging = {n: why for n, why in status.items() if why}
                if lagging and not self._external:
                    # A replica that does not follow: point it at the primary again (its
                    # bookkeeping may be stale); failing that, start it afresh and empty.
                    for name in lagging:
                        with contextlib.suppress(ClusterError, ClientError):
                            self._point(name, self.primary)
                    _t0, status = self._wait_synced(timeout / 2)
                    lagging = {n: why for n, why in status.items() if why}
                    for name in lagging:
                        self._restart_empty(name)
                    if lagging:
                        _t0, status = self._wait_synced(timeout)
                        lagging = {n: why for n, why in status.items() if why}
                if lagging:
                    detail = "; ".join(f"{n}: {why}" for n, why in lagging.items())
                    raise ClusterError(
                        f"reset: replicas did not catch up within {timeout:g} s ({detail})"
                    )
                self._check_empty()
            finally:
                self.mode = saved
            for name in self._nodes:
                self._setup(name)

    def _restart_empty(self, name: str) -> None:
        """Kill ``name``, wipe its data and start it again as a replica of the primary."""
        if self._nodes[name].status != "down":
            self._stop_node(name)
        self._wipe(name)
        self._start_node(name, None, record_loss=False)
        self._point(name, self.primary)

    def _check_empty(self) -> None:
        """Every node holds no key after a reset, or it is started afresh.

        A replica may claim an offset it never applied (a server bug) and keep a previous
        example's keys through the flush; an example must not inherit them, or its reads
        would show values no client of *this* example wrote.
        """
        if self._external:
            return
        dirty = []
        for name, node in self._nodes.items():
            if node.status != "up":
                continue
            try:
                size = self._cmd(name, "DBSIZE")
            except ClientError:
                continue
            if isinstance(size, int) and size > 0:
                dirty.append(name)
        if not dirty:
            return
        for name in dirty:
            if name == self.primary:
                self._flush()
            else:
                self._restart_empty(name)
        _t0, status = self._wait_synced(10.0)
        lagging = {n: why for n, why in status.items() if why}
        if lagging:
            detail = "; ".join(f"{n}: {why}" for n, why in lagging.items())
            raise ClusterError(f"reset: a node kept old data and did not resync ({detail})")

    # ------------------------------------------------------------------ lifecycle
    def _boot(self) -> None:
        """Start every node, wait for PING, build the replication topology, empty the data
        (an external cluster too: every example starts empty), apply the mode, and wait
        until the primary streams to every replica."""
        names = list(self._nodes)
        if not self._external:
            for name in names:
                self.backend.start(self._nodes[name].spec)
        self._wait_ready(names, refused_is_final=self._external)
        for name in names:
            self._nodes[name].status = "up"
        if self._external:
            for name, node in self._nodes.items():
                node.role, node.upstream = (
                    ("primary", None) if name == self.primary else ("replica", self.primary)
                )
        else:
            for name in names:
                self._nodes[name].role, self._nodes[name].upstream = "primary", None
        self._converge(None)
        timeout = self._ready_timeout_s()
        # Once the replicas are attached and loaded, flush: the primary's offset moves past 0
        # (it keeps a replication log only once a replica is attached), so that waiting for
        # every replica to reach it proves the stream flows.
        self._wait_synced(timeout, strict=False)
        self._flush()
        for name in names:
            self._setup(name)
        _t0, status = self._wait_synced(timeout)
        lagging = {n: why for n, why in status.items() if why}
        alone = [n for n, why in lagging.items() if why == _NOT_A_REPLICA]
        if self._external and alone:
            # Not ours to point: an external target is a cluster already running as one.
            primary = self._nodes[self.primary].spec
            raise ClusterError(
                f"{self._where(alone[0])} is a "
                f"primary, not a replica of {self.primary}; an external target is a running "
                f"cluster, so make it a replica before the run (REPLICAOF {primary.host} "
                f"{primary.port}), or name the primary it follows in {self.target.source}"
            )
        if lagging:
            detail = "; ".join(f"{n}: {why}" for n, why in lagging.items())
            # What the primary says of itself (no role, unreadable) is the primary's fault.
            mine = [w for w in lagging.values() if w.startswith(f"primary {self.primary} ")]
            culprit = self.primary if mine else next(iter(lagging))
            raise self._start_error(culprit, f"did not start replicating ({detail})")
        for name in names:
            self._prepare_standby(name)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran: the cluster then refuses every client op."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClusterError("this cluster is closed; start a new one")

    def close(self) -> None:
        """Stop every node, remove containers, free every port. Idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        for client in self._admins.values():
            with contextlib.suppress(Exception):
                client.close()
        self._admins.clear()
        with contextlib.suppress(Exception):
            self.backend.close()
        with contextlib.suppress(Exception):
            self.proxy.close()
        self._ports.release()  # last: until every node is stopped, their ports are ours
        if self._glide_stderr:
            from harness.cluster._glide import STDERR

            self._glide_stderr = False
            STDERR.release()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        nodes = ", ".join(f"{n.name}@{n.az}:{n.role}:{n.status}" for n in self.nodes)
        return f"<Cluster {self.target.name} {self.backend.name} {self.mode} [{nodes}]>"


# The first byte of every RESP2/RESP3 reply.
_RESP_TYPE_BYTES: Final = frozenset(b"+-:$*_,#!=(%~>|")


def _refuses(host: str, port: int) -> bool:
    """Whether ``host:port`` refuses a TCP connection (nothing listens there)."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=_ADMIN_TIMEOUT_S):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:  # a timeout, an unreachable network: not known to be refused
        return False


def non_resp_reply(host: str, port: int, timeout_s: float) -> bytes | None:
    """The first bytes ``host:port`` answers a PING with, when they are not RESP: an HTTP
    server, say, or some other protocol on the port. ``None`` when the answer is RESP, or
    when none comes (nothing listens, the connection closes, the server is silent)."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(encode_command("PING"))
            data = sock.recv(256)
    except OSError:
        return None
    if not data:
        return None
    parser = ReplyParser()
    parser.feed(data)
    try:
        parser.next_reply()
    except ProtocolError:
        return data
    return None if data[0] in _RESP_TYPE_BYTES else data


def _tls_mismatch(host: str, port: int, tls: bool) -> str | None:
    """Why a node at ``host:port`` cannot answer a client that does (``tls``) or does not
    speak TLS, ending in the fix (to be followed by the target file's name), when the other
    way works: a TLS handshake where we spoke plain RESP, or plain RESP where we spoke TLS.
    ``None`` when the other way fails too (the node is down, or broken otherwise)."""
    import socket
    import ssl

    try:
        with socket.create_connection((host, port), timeout=_ADMIN_TIMEOUT_S) as sock:
            if tls:  # does it answer plain RESP?
                sock.sendall(encode_command("PING"))
                if not sock.recv(64).startswith((b"+PONG", b"-NOAUTH", b"-WRONGPASS")):
                    return None
                return (
                    "answers plain RESP on this port, not TLS: give the node's TLS port, or "
                    "drop [tls] (and rediss:// URLs) from"
                )
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            with context.wrap_socket(sock, server_hostname=host):
                pass  # the handshake completed: the node speaks TLS
    except (OSError, ssl.SSLError):
        return None
    return "speaks TLS on this port, and the target does not: add [tls] (or use rediss:// URLs) to"


class _PortTaken(ClusterError):
    """A node exited during startup because another socket had taken its port."""


def _free_ports(count: int, lease: PortLease | None = None) -> list[int]:
    """``count`` free loopback ports no other run holds; reserved by ``lease`` if given."""
    return free_ports(count) if lease is None else lease.take(count)


def start_cluster(
    target: Target | str,
    *,
    backend: str = "local",
    nodes: int | None = None,
    azs: int | None = None,
    mode: str,
    params: ModeParams | Mapping[str, Any] | None = None,
    run_dir: str | os.PathLike[str],
    history: HistoryWriter,
    bug: str | None = None,
    image: str | None = None,
    auto_failover: bool = False,
) -> Cluster:
    """Start a cluster of ``target`` and return it, ready: replicas online, mode applied.

    ``nodes`` (default 3) are placed round-robin in ``azs`` AZs (default: as many as nodes,
    at most 3); ``n1`` is the primary. Every node gets ``run_dir/nodes/<name>/`` with its data
    and log. Use the cluster as a context manager: it always tears down, on errors and Ctrl-C
    too. An external target brings its own nodes; ``backend``, ``nodes`` and ``azs`` do not
    apply to it.
    """
    tgt = load_target(target) if isinstance(target, str) else target
    tgt.mode(mode)
    mode_params = tgt.effective_params(ModeParams.of(_plain(params)))
    credentials = tgt.auth.resolve() if tgt.auth is not None else None
    # Absolute: local nodes run with their data directory as working directory, so a relative
    # path handed to them (valkey's --dir) would point nowhere.
    root = Path(run_dir).absolute()
    if backend not in BACKENDS:
        raise ClusterError(f"backend {backend!r} is unknown; use one of {', '.join(BACKENDS)}")

    boot = partial(
        _boot_cluster,
        tgt=tgt,
        mode=mode,
        mode_params=mode_params,
        root=root,
        history=history,
        auto_failover=auto_failover,
        credentials=credentials,
    )
    if tgt.external is not None:
        if backend != "local" or nodes is not None or azs is not None or image is not None or bug:
            raise ClusterError(
                f"target {tgt.name!r} is external: its nodes are in its file; drop --backend, "
                "nodes, azs, image and bug"
            )
        specs = [
            NodeSpec(
                name=n.name, index=i, az=n.az, host=n.host, port=n.port, dir=root / "nodes" / n.name
            )
            for i, n in enumerate(tgt.external.nodes)
        ]
        external = ExternalBackend(tgt.external, tgt.name)
        return boot(be=external, specs=specs, primary=tgt.external.primary)
    topo = topology(nodes, azs)
    for attempt in range(1, _BOOT_ATTEMPTS + 1):
        lease = PortLease()
        ports = _free_ports(len(topo["nodes"]), lease)
        specs = [
            NodeSpec(
                name=n["name"],
                index=i,
                az=n["az"],
                host=_HOST,
                port=ports[i],
                dir=root / "nodes" / n["name"],
            )
            for i, n in enumerate(topo["nodes"])
        ]
        be = _make_backend(tgt, backend, bug, image, root, credentials)
        try:
            return boot(be=be, specs=specs, primary=topo["primary"], ports=lease)
        except _PortTaken:
            if attempt == _BOOT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _boot_cluster(
    *,
    tgt: Target,
    mode: str,
    mode_params: ModeParams,
    root: Path,
    history: HistoryWriter,
    auto_failover: bool,
    credentials: Credentials | None,
    be: Backend,
    specs: list[NodeSpec],
    primary: str,
    ports: PortLease | None = None,
) -> Cluster:
    """Boot a cluster of ``specs`` on ``be``; on any failure, tear down all of it (and give
    back ``ports``)."""
    ports = ports if ports is not None else PortLease()
    for spec in specs:
        spec.dir.mkdir(parents=True, exist_ok=True)
    proxy: FaultProxy | None = None
    cluster: Cluster | None = None
    try:
        if isinstance(be, ExternalBackend):
            _hold_external_ports(specs, ports, tgt)
        proxy = FaultProxy(_HOST)
        cluster = Cluster(
            target=tgt,
            backend=be,
            specs=specs,
            primary=primary,
            mode=mode,
            params=mode_params,
            run_dir=root,
            history=history,
            proxy=proxy,
            auto_failover=auto_failover,
            credentials=credentials,
            ports=ports,
        )
        cluster._boot()
        return cluster
    except BaseException:
        if cluster is not None:
            cluster.close()
        else:
            with contextlib.suppress(Exception):
                be.close()
            if proxy is not None:
                proxy.close()
            ports.release()
        raise


def _hold_external_ports(specs: list[NodeSpec], ports: PortLease, tgt: Target) -> None:
    """Reserve the ports of an external target's nodes on this machine for the run, as a
    local cluster's are: once the run stops one of them, no other run may take its port."""
    for spec in specs:
        if loopback(spec.host) and not ports.claim(spec.port):
            raise ClusterError(
                f"node {spec.name} of target {tgt.name!r} ({spec.host}:{spec.port}) is in use "
                "by another ackbound run on this machine; let that run finish first (two runs "
                "against one cluster would read each other's writes as phantoms)"
            )


def _make_backend(
    tgt: Target,
    backend: str,
    bug: str | None,
    image: str | None,
    root: Path,
    credentials: Credentials | None = None,
) -> Backend:
    if backend == "local":
        from harness.cluster._local import LocalBackend, NodeSecrets

        if tgt.start is None:
            raise TargetError(
                f"target {tgt.name!r} ({tgt.source}) has no [start] table for the local backend"
            )
        binary = tgt.locate_binary()
        secrets_ = None
        if credentials is not None:
            secrets_ = NodeSecrets.for_start(tgt.start, credentials)

        def local_command(spec: NodeSpec) -> list[str]:
            return tgt.start_command(
                binary=binary,
                name=spec.name,
                index=spec.index,
                az=spec.az,
                host=spec.host,
                port=spec.port,
                dir=str(spec.data_dir),
                bug=bug,
            )

        return LocalBackend(local_command, secrets=secrets_)
    from harness.cluster._docker import DockerBackend

    if tgt.tls is not None or tgt.auth is not None:
        raise TargetError(
            f"target {tgt.name!r} ({tgt.source}) has [tls] or [auth]; the docker backend does "
            "not yet mount certificates or pass secrets to containers: use --backend local"
        )

    if tgt.docker is None:
        raise TargetError(
            f"target {tgt.name!r} ({tgt.source}) has no [docker] table; add image, command "
            "and data_dir to run it on the docker backend"
        )
    tgt.docker_command(name="n1", index=0, az="az1", host=_HOST, port=1, bug=bug)  # validate early

    def docker_command(spec: NodeSpec) -> list[str]:
        return tgt.docker_command(
            name=spec.name, index=spec.index, az=spec.az, host=spec.host, port=spec.port, bug=bug
        )

    run_id = f"{os.getpid()}-{secrets.token_hex(3)}"
    return DockerBackend(image or tgt.docker.image, docker_command, tgt.docker.data_dir, run_id)
