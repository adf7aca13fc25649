"""Loading targets: built-in names, entry-point plugins and TOML target files.

Target files are validated strictly, so that a mistake fails at load time with one line that
names the file, the key and the fix — never halfway through a run. docs/targets.md is the
user's reference for the schema; the three built-in files (``harness/targets/builtin/``) are
its examples.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import replace
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, TypeVar, cast

from harness.targets._errors import ERROR_CLASSES, ErrorClass, ErrorRegistry
from harness.targets._params import MODES
from harness.targets._secure import (
    AuthSpec,
    GlideReconnect,
    GlideSpec,
    TlsSpec,
    absolute,
    check_env_name,
)
from harness.targets._target import (
    CLIENTS,
    HOOK_CAPABILITIES,
    WRITE_PROTOCOLS,
    BinarySpec,
    Command,
    DockerSpec,
    ExternalNode,
    ExternalSpec,
    LagSpec,
    ModeSpec,
    ReplicationSpec,
    StartSpec,
    Target,
    TargetError,
)
from harness.targets._template import TemplateProblem, check_template

__all__ = [
    "BUILTIN_TARGETS",
    "ENTRY_POINT_GROUP",
    "available_targets",
    "load_target",
    "load_target_file",
    "parse_target",
]

BUILTIN_TARGETS: Final = ("bundled", "valkey", "redis")
ENTRY_POINT_GROUP: Final = "ackbound.targets"
SCHEMA_VERSION: Final = 1

# Placeholders each kind of template may use.
NODE_VARS: Final = ("binary", "python", "name", "index", "az", "host", "port", "dir")
DOCKER_VARS: Final = ("name", "index", "az", "host", "port", "dir")
REPLICAOF_VARS: Final = ("primary_host", "primary_port", "primary_name")
MODE_VARS: Final = ("sync_replicas", "sync_timeout_ms", "lag_limit_ms", "lag_limit_s")
HOOK_VARS: Final = ("name", "host", "port", "az", "params")
TLS_VARS: Final = ("tls_ca_file", "tls_server_cert_file", "tls_server_key_file", "tls_auth_clients")
# [tls] keys behind the {tls_*} placeholders of [start].tls_args.
_TLS_PLACEHOLDER_KEYS: Final = {
    "tls_ca_file": "ca_file",
    "tls_server_cert_file": "server_cert_file",
    "tls_server_key_file": "server_key_file",
}
URL_SCHEMES: Final = {"redis": False, "valkey": False, "rediss": True, "valkeys": True}
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\Z")

T = TypeVar("T")


_A_DAY = {"_s": 86_400, "_ms": 86_400_000}


def _at_most_a_day(table: _Table, name: str, value: float, what: str) -> None:
    """No time a target sets is longer than a day: a larger one is a typo (or an attempt to
    wait for ever), and past 2^63 ns it would not even fit the clock."""
    for suffix, most in _A_DAY.items():
        if name.endswith(suffix) and value > most:
            got = str(value) if isinstance(value, int) else f"{value:g}"
            raise table.error(name, f"must be at most {most} ({what}; a day); got {got}")


class _Table:
    """One TOML table being read: every key must be consumed, unknown keys are errors."""

    def __init__(self, source: str, path: str, data: Mapping[str, Any]) -> None:
        self.source = source
        self.path = path
        self.data = data
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str) -> TargetError:
        return TargetError(f"{self.source}: key '{self.key(name)}': {message}")

    def has(self, name: str) -> bool:
        return name in self.data

    def get(
        self,
        name: str,
        kind: type[T] | tuple[type, ...],
        default: T | None = None,
        *,
        required: bool = False,
        what: str,
    ) -> T:
        self.seen.add(name)
        if name not in self.data:
            if required:
                raise self.error(name, f"is missing; add it ({what})")
            return cast(T, default)
        value = self.data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            ok = True
            value = float(value)
        if not ok:
            raise self.error(name, f"must be {what}; got {_show(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(name, f"must be a finite number ({what}); got {value}")
        return cast(T, value)

    def table(self, name: str, *, required: bool = False, what: str) -> _Table | None:
        value = self.get(name, dict, None, required=required, what=what)
        if value is None:
            return None
        return _Table(self.source, self.key(name), value)

    def positive(self, name: str, kind: type[T], default: T, *, what: str) -> T:
        """A number > 0; one in seconds (``*_s``) or ms (``*_ms``) at most a day."""
        value = self.get(name, kind, default, what=what)
        if isinstance(value, int | float):
            if value <= 0:
                raise self.error(name, f"must be > 0 ({what}); got {value}")
            _at_most_a_day(self, name, value, what)
        return value

    def template(
        self, name: str, allowed: Iterable[str], *, required: bool = False, what: str
    ) -> str | None:
        value = self.get(name, str, None, required=required, what=what)
        if value is not None:
            self._check(name, value, allowed)
        return value

    def command(
        self, name: str, allowed: Iterable[str], *, required: bool = False, what: str
    ) -> Command | None:
        value = self.get(name, list, None, required=required, what=what)
        if value is None:
            return None
        return self._command(name, value, allowed, what)

    def commands(
        self, name: str, allowed: Iterable[str], *, required: bool = False, what: str
    ) -> tuple[Command, ...] | None:
        value = self.get(name, list, None, required=required, what=what)
        if value is None:
            return None
        if not all(isinstance(c, list) for c in value):
            raise self.error(
                name,
                f"must be a list of commands, each a list of strings ({what}); "
                f'e.g. [["CONFIG", "SET", "appendonly", "no"]]; got {_show(value)}',
            )
        if required and not value:
            # A required step that does nothing would pass for done (an empty flush leaves
            # the last example's data to be read back as phantoms).
            raise self.error(name, f"is empty; give at least one command ({what})")
        return tuple(self._command(name, c, allowed, what) for c in value)

    def _command(self, name: str, value: list[Any], allowed: Iterable[str], what: str) -> Command:
        if not value or not all(isinstance(p, str) for p in value):
            raise self.error(
                name, f"must be a non-empty list of strings ({what}); got {_show(value)}"
            )
        if any("\x00" in p for p in value):
            raise self.error(name, "holds a NUL character, which no command line can; remove it")
        allowed = tuple(allowed)
        for part in value:
            self._check(name, part, allowed)
        return tuple(value)

    def _check(self, name: str, text: str, allowed: Iterable[str]) -> None:
        try:
            check_template(text, allowed)
        except TemplateProblem as exc:
            raise self.error(name, str(exc)) from None

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            known = ", ".join(sorted(self.seen))
            where = f"table [{self.path}]" if self.path else "the top level"
            raise TargetError(
                f"{self.source}: key '{self.key(unknown[0])}': unknown key in {where}; "
                f"remove it or use one of: {known} (see docs/targets.md)"
            )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _builtin_text(name: str) -> str:
    return files("harness.targets").joinpath("builtin", f"{name}.toml").read_text("utf-8")


_STARTED_ONLY: Final = ("binary", "start", "docker")  # the tables only a process target has


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_target(data: Mapping[str, Any], source: str, base_dir: Path | None = None) -> Target:
    """Validate a parsed target file (a TOML document) and build its :class:`Target`.

    Relative paths in ``[tls]`` and ``[auth]`` are resolved against ``base_dir`` (the target
    file's directory), else the current directory.
    """
    top = _Table(source, "", data)
    schema = top.get("schema", int, SCHEMA_VERSION, what="the schema version, 1")
    if schema != SCHEMA_VERSION:
        raise top.error("schema", f"version {schema} is not supported; write schema = 1")
    extends = top.get("extends", str, None, what="the name of a built-in target to start from")
    if extends is not None:
        if extends not in BUILTIN_TARGETS:
            raise top.error(
                "extends",
                f"{extends!r} is not a built-in target; use one of {', '.join(BUILTIN_TARGETS)}",
            )
        base = tomllib.loads(_builtin_text(extends))
        if data.get("kind") == "external":
            # How the harness starts the built-in's nodes is no part of a cluster it does not
            # start; left in, it would be refused under a name the user never wrote.
            for key in _STARTED_ONLY:
                base.pop(key, None)
        merged = _merge(base, {k: v for k, v in data.items() if k != "extends"})
        return parse_target(merged, source, base_dir)

    name = top.get("name", str, required=True, what='the target\'s name, e.g. name = "mystore"')
    if not _NAME.match(name):
        raise top.error(
            "name", f"{name!r} is not a kebab-case name; use lowercase letters, digits and '-'"
        )
    description = top.get("description", str, "", what="a one-line description")
    kind = top.get("kind", str, "process", what='"process" or "external"')
    if kind not in ("process", "external"):
        raise top.error("kind", f'{kind!r} is not a kind; use "process" or "external"')
    client = top.get("client", str, "valkey-py", what="the client library")
    if client not in CLIENTS:
        raise top.error(
            "client", f"{client!r} is not a known client; use one of {', '.join(CLIENTS)}"
        )
    durable_restart = top.get(
        "durable_restart",
        bool,
        False,
        what="true only if a restarted node surely keeps every write (fsync-always log)",
    )
    tolerance_s = top.get("tolerance_s", float, 0.25, what="the timing tolerance ε in seconds")
    if tolerance_s < 0:
        raise top.error("tolerance_s", f"must be ≥ 0 seconds; got {tolerance_s}")
    _at_most_a_day(top, "tolerance_s", tolerance_s, "the timing tolerance ε in seconds")
    recovery_s = top.positive("recovery_s", float, 5.0, what="the recovery allowance in seconds")
    client_timeout_ms = top.positive(
        "client_timeout_ms", int, 2000, what="the client's per-operation timeout in ms"
    )

    granularity_ms, min_ms = 1, 1
    lag_limit = top.table("lag_limit", what="a table with granularity_ms and min_ms")
    if lag_limit is not None:
        granularity_ms = lag_limit.positive(
            "granularity_ms", int, 1, what="the step of lag limits the server accepts, in ms"
        )
        min_ms = lag_limit.positive("min_ms", int, 1, what="the smallest lag limit, in ms")
        lag_limit.done()

    binary: BinarySpec | None = None
    start: StartSpec | None = None
    docker: DockerSpec | None = None
    external: ExternalSpec | None = None
    url_tls: bool | None = None
    if kind == "process":
        for forbidden in ("external",):
            if top.has(forbidden):
                raise top.error(forbidden, 'belongs to kind = "external" targets; remove it')
        binary = _binary(top)
        start = _start(top)
        if binary is None and any("{binary}" in p for p in start.command):
            raise top.error(
                "binary",
                "is missing but [start].command uses {binary}; add a [binary] table "
                'with find = ["server-name"] and install = "how to install it"',
            )
        docker = _docker(top)
    else:
        for forbidden in _STARTED_ONLY:
            if top.has(forbidden):
                raise top.error(
                    forbidden,
                    "is for targets the harness starts; an external target has "
                    "[external] nodes and hooks instead — remove it",
                )
        external, url_tls = _external(top)

    replication = _replication(top)
    flush = _flush(top)
    modes = _modes(top)
    lag = _lag(top)
    errors = _errors(top)
    tls = _tls(top, kind, base_dir, url_tls)
    auth = _auth(top, base_dir)
    glide = _glide(top, client)
    if kind == "process":
        assert start is not None
        _check_secure_start(top, start, tls, auth)
    top.done()
    return Target(
        name=name,
        description=description,
        source=source,
        kind=cast(Any, kind),
        client=client,
        binary=binary,
        start=start,
        docker=docker,
        external=external,
        replication=replication,
        flush=flush,
        modes=modes,
        lag=lag,
        lag_limit_granularity_ms=granularity_ms,
        lag_limit_min_ms=min_ms,
        tolerance_s=tolerance_s,
        recovery_s=recovery_s,
        durable_restart=durable_restart,
        client_timeout_ms=client_timeout_ms,
        errors=errors,
        tls=tls,
        auth=auth,
        glide=glide,
    )


def _binary(top: _Table) -> BinarySpec | None:
    t = top.table("binary", what="a table with find and install")
    if t is None:
        return None
    find = t.get(
        "find", list, required=True, what='a list of places to look, e.g. ["valkey-server"]'
    )
    if not find or not all(isinstance(f, str) and f for f in find):
        raise t.error(
            "find",
            "must be a non-empty list of strings: names on PATH, absolute paths or "
            f'"wheel:package/path/in/package"; got {_show(find)}',
        )
    for entry in find:
        if entry.startswith("wheel:"):
            t._check("find", entry, ("platform",))
            if "/" not in entry[len("wheel:") :]:
                raise t.error("find", f'{entry!r}: write "wheel:PACKAGE/PATH/IN/PACKAGE"')
        else:
            t._check("find", entry, ())
    install = t.get("install", str, required=True, what="how a user installs the binary")
    t.done()
    return BinarySpec(find=tuple(find), install=install)


def _start(top: _Table) -> StartSpec:
    t = top.table("start", required=True, what="how to start a node: a table with command")
    assert t is not None
    command = t.command(
        "command",
        NODE_VARS,
        required=True,
        what='the command line of node i, e.g. ["{binary}", "--port", "{port}"]',
    )
    assert command is not None
    if not any("{port}" in p for p in command):
        raise t.error("command", "never uses {port}; the harness chooses each node's port")
    bug_args = t.command(
        "bug_args", ("bug",), what='extra arguments that seed a bug, e.g. ["--bug", "{bug}"]'
    )
    ready_timeout_s = t.positive(
        "ready_timeout_s", float, 10.0, what="seconds to wait for a node to answer PING"
    )
    ready_log = t.get("ready_log", str, None, what="a line the node logs when it is ready")
    tls_args = t.command(
        "tls_args",
        (*NODE_VARS, *TLS_VARS),
        what="arguments that make a node listen with TLS on {port}, used when the target "
        'has [tls], e.g. ["--tls-port", "{port}", "--tls-cert-file", "{tls_server_cert_file}"]',
    )
    password_env = t.get(
        "password_env",
        str,
        None,
        what="the environment variable a node reads its password from, with [auth]",
    )
    if password_env is not None and not check_env_name(password_env):
        raise t.error("password_env", f"{password_env!r} is not an environment variable name")
    config_stdin = t.command(
        "config_stdin",
        (),
        what="arguments that make a node read configuration directives (the password) from "
        'its standard input, with [auth], e.g. ["-"]',
    )
    t.done()
    return StartSpec(
        command=command,
        bug_args=bug_args,
        ready_timeout_s=ready_timeout_s,
        ready_log=ready_log,
        tls_args=tls_args,
        password_env=password_env,
        config_stdin=config_stdin,
    )


# A docker image reference: [registry[:port]/]name[/name...][:tag][@sha256:digest], the name's
# components lowercase (docker's own grammar, in short).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?:[a-zA-Z0-9][a-zA-Z0-9.-]*(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)


def image_problem(image: str) -> str | None:
    """What makes ``image`` no docker image reference (None: nothing), e.g. an empty name."""
    if not image.strip():
        return "is empty; name an image, e.g. ackbound-valkey:local"
    if _IMAGE.fullmatch(image) is None:
        return (
            f"{image!r} is not a docker image reference ([registry/]name[:tag], the name in "
            "lowercase); e.g. ackbound-valkey:local or valkey/valkey:9.0"
        )
    return None


def _docker(top: _Table) -> DockerSpec | None:
    t = top.table("docker", what="a table with image, command and data_dir")
    if t is None:
        return None
    image = t.get("image", str, required=True, what='the default image, e.g. "valkey/valkey:9.0"')
    if (problem := image_problem(image)) is not None:
        raise t.error("image", problem)
    command = t.command("command", DOCKER_VARS, required=True, what="the container's command line")
    assert command is not None
    if not any("{port}" in p for p in command):
        raise t.error("command", "never uses {port}; the harness chooses each node's port")
    data_dir = t.get("data_dir", str, "/data", what="the data directory inside the container")
    if not data_dir.startswith("/"):
        raise t.error("data_dir", f"{data_dir!r} must be an absolute path inside the container")
    t.done()
    return DockerSpec(image=image, command=command, data_dir=data_dir)


def _same_host(host: str) -> str:
    """One spelling per host for the two-names-one-server check: localhost, 127.0.0.1 and
    ::1 (each a name of the usual loopback address) are one host."""
    h = host.lower().strip("[]")
    return "loopback" if h in ("localhost", "127.0.0.1", "::1", "0:0:0:0:0:0:0:1") else h


def _node_address(n: _Table) -> tuple[str, int, bool | None]:
    """host and port, from ``host``/``port`` or a ``url`` (``rediss://host:port``); and
    whether the url asks for TLS (None: no url)."""
    url = n.get("url", str, None, what='the node\'s address as a URL, e.g. "rediss://host:6380"')
    if url is None:
        host = n.get("host", str, required=True, what="the node's address (or give url)")
        if not host.strip() or host != host.strip():
            raise n.error("host", f"{host!r} is no address; give a host name or IP, e.g. 127.0.0.1")
        port = n.get("port", int, required=True, what="the node's port")
        if not 0 < port < 65536:
            raise n.error("port", f"{port} is not a TCP port; use 1..65535")
        return host, port, None
    for clash in ("host", "port"):
        if n.has(clash):
            n.seen.add(clash)
            raise n.error(clash, "is given by url too; keep url, or host and port")
    try:
        parsed = urllib.parse.urlsplit(url)
        hostname = parsed.hostname  # (a bracketed IPv6 address is checked here)
    except ValueError as exc:
        raise n.error(
            "url", f"{url!r} is no URL ({exc}); write scheme://host:port, an IPv6 address in []"
        ) from None
    if parsed.scheme not in URL_SCHEMES:
        raise n.error(
            "url", f"{url!r}: use a redis://, rediss:// (TLS), valkey:// or valkeys:// URL"
        )
    if parsed.username is not None or parsed.password is not None:
        raise n.error(
            "url",
            "holds credentials; remove them from the URL and name where the password is "
            "in [auth] (password_env or password_file), so it never lands in a file or argv",
        )
    try:
        port = 6379 if parsed.port is None else parsed.port
    except ValueError:
        raise n.error("url", f"{url!r} has no valid port; write scheme://host:port") from None
    if port == 0:
        raise n.error("url", f"{url!r}: port 0 is no port a node listens on; give its port")
    if not hostname or parsed.path not in ("", "/") or parsed.query:
        raise n.error("url", f"{url!r}: write scheme://host:port (no database, no options)")
    return hostname, port, URL_SCHEMES[parsed.scheme]


def _external(top: _Table) -> tuple[ExternalSpec, bool | None]:
    t = top.table("external", required=True, what="the running cluster: nodes, primary, hooks")
    assert t is not None
    raw_nodes = t.get("nodes", list, required=True, what="[[external.nodes]] entries")
    nodes: list[ExternalNode] = []
    url_tls: bool | None = None
    for i, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            raise t.error("nodes", "each entry must be a table with name, host, port and az")
        n = _Table(t.source, f"external.nodes[{i}]", raw)
        node_name = n.get("name", str, required=True, what='the node\'s name, e.g. "n1"')
        host, port, node_tls = _node_address(n)
        if node_tls is not None:
            if url_tls is not None and node_tls != url_tls:
                raise n.error(
                    "url", "mixes TLS and plain URLs; every node of a target uses the same scheme"
                )
            url_tls = node_tls
        az = n.get("az", str, required=True, what="the node's availability zone")
        n.done()
        nodes.append(ExternalNode(name=node_name, host=host, port=port, az=az))
    if len(nodes) < 2:
        raise t.error("nodes", "needs at least two nodes (a primary and a replica)")
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise t.error("nodes", f"node names must be unique; got {names}")
    where: dict[tuple[str, int], str] = {}
    for node in nodes:  # two names for one server: a replica of itself, and faults that miss
        other = where.setdefault((_same_host(node.host), node.port), node.name)
        if other != node.name:
            raise t.error(
                "nodes",
                f"{other!r} and {node.name!r} are both {node.host}:{node.port}; give each node "
                "its own address",
            )
    primary = t.get("primary", str, names[0], what="the name of the current primary")
    if primary not in names:
        raise t.error("primary", f"{primary!r} is not one of the nodes {names}")
    hooks_t = t.table("hooks", what="shell commands the operator runs for each fault")
    hooks: dict[str, str] = {}
    if hooks_t is not None:
        for hook in list(hooks_t.data):
            if hook not in HOOK_CAPABILITIES:
                hooks_t.seen.add(hook)
                raise hooks_t.error(
                    hook, f"is not a hook; use one of {', '.join(HOOK_CAPABILITIES)}"
                )
            value = hooks_t.template(hook, HOOK_VARS, what="a shell command template")
            assert value is not None
            hooks[hook] = value
        hooks_t.done()
    if ("pause" in hooks) != ("resume" in hooks):
        raise t.error("hooks", "pause and resume come together; define both or neither")
    hook_timeout_s = t.positive("hook_timeout_s", float, 60.0, what="seconds a hook may take")
    t.done()
    spec = ExternalSpec(
        nodes=tuple(nodes), primary=primary, hooks=hooks, hook_timeout_s=hook_timeout_s
    )
    return spec, url_tls


def _replication(top: _Table) -> ReplicationSpec:
    t = top.table("replication", required=True, what="how to make replicas and promote them")
    assert t is not None
    replicaof = t.commands(
        "replicaof",
        REPLICAOF_VARS,
        required=True,
        what='e.g. [["REPLICAOF", "{primary_host}", "{primary_port}"]]',
    )
    promote = t.commands("promote", (), required=True, what='e.g. [["REPLICAOF", "NO", "ONE"]]')
    assert replicaof is not None and promote is not None
    info = t.command(
        "info", (), what='the command that reports replication state, e.g. ["INFO", "replication"]'
    )
    spec = ReplicationSpec(replicaof=replicaof, promote=promote)
    if info is not None:
        spec = replace(spec, info=info)
    replica_lines = t.get(
        "replica_lines",
        bool,
        True,
        what="whether the primary's info lists replicas as slaveN:ip=..,port=..,state=..,offset=..",
    )
    settle = t.command(
        "settle",
        ("replicas", "timeout_ms"),
        what="a command that returns once replicas acknowledged the flush before it, "
        'e.g. ["WAIT", "{replicas}", "{timeout_ms}"]',
    )
    spec = replace(spec, replica_lines=replica_lines, settle=settle)
    for key in ("offset_field", "role_field", "primary_role", "link_field", "link_up"):
        value = t.get(key, str, None, what="a field name or value in the info reply")
        if value is not None:
            spec = replace(spec, **cast(dict[str, Any], {key: value}))
    t.done()
    return spec


def _flush(top: _Table) -> tuple[Command, ...]:
    t = top.table("reset", what="how to empty the data between examples")
    if t is None:
        return (("FLUSHALL",),)
    flush = t.commands("flush", (), required=True, what='e.g. [["FLUSHALL"]]')
    assert flush is not None
    t.done()
    return flush


def _modes(top: _Table) -> dict[str, ModeSpec]:
    t = top.table("modes", required=True, what="[modes.none], [modes.sync] and/or [modes.async]")
    assert t is not None
    modes: dict[str, ModeSpec] = {}
    for mode in list(t.data):
        if mode not in MODES:
            t.seen.add(mode)
            raise t.error(mode, "is not a mode; use none, sync or async")
        m = t.table(mode, what="a table with setup and write")
        assert m is not None
        setup = (
            m.commands("setup", MODE_VARS, what="commands that switch a node to this mode") or ()
        )
        write = m.get(
            "write", str, required=True, what=f"the write protocol: {' or '.join(WRITE_PROTOCOLS)}"
        )
        if write not in WRITE_PROTOCOLS:
            raise m.error(
                "write", f"{write!r} is not a write protocol; use {' or '.join(WRITE_PROTOCOLS)}"
            )
        m.done()
        modes[mode] = ModeSpec(name=cast(Any, mode), setup=setup, write=write)
    if not modes:
        raise top.error(
            "modes",
            "defines no mode; add at least one of [modes.none], [modes.sync], [modes.async]",
        )
    t.done()
    return modes


def _lag(top: _Table) -> LagSpec | None:
    t = top.table("lag", what="how to read the durability lag: command, field, unit")
    if t is None:
        return None
    command = t.command("command", (), required=True, what='e.g. ["INFO", "durability"]')
    assert command is not None
    field = t.get(
        "field", str, required=True, what='the field holding the lag, e.g. "durability_lag_ms"'
    )
    unit = t.get("unit", str, "ms", what='"ms" or "s"')
    if unit not in ("ms", "s"):
        raise t.error("unit", f'{unit!r} is not a unit; use "ms" or "s"')
    t.done()
    return LagSpec(command=command, field=field, unit=cast(Any, unit))


def _file(t: _Table, name: str, base_dir: Path | None, what: str) -> str | None:
    value = t.get(name, str, None, what=what)
    if value is None:
        return None
    path = absolute(value, base_dir)
    if not Path(path).is_file():
        raise t.error(
            name,
            f"{path} is not a file; give the path of {what} (a relative path is relative to "
            "the target file)",
        )
    return path


def _tls(top: _Table, kind: str, base_dir: Path | None, url_tls: bool | None) -> TlsSpec | None:
    t = top.table("tls", what="how to speak TLS to the nodes: ca_file, cert_file, key_file, ...")
    if t is None:
        return TlsSpec() if url_tls else None
    if url_tls is False:
        raise top.error(
            "tls",
            "is set but the nodes' URLs are plain (redis://); use rediss:// URLs or drop [tls]",
        )
    ca_file = _file(
        t, "ca_file", base_dir, "the CA certificates (PEM) the nodes' certificates chain to"
    )
    cert_file = _file(t, "cert_file", base_dir, "the harness's client certificate (PEM)")
    key_file = _file(t, "key_file", base_dir, "the key of the client certificate (PEM)")
    if (cert_file is None) != (key_file is None):
        raise t.error(
            "cert_file" if cert_file is None else "key_file",
            "is missing: a client certificate needs both cert_file and key_file",
        )
    insecure = t.get(
        "insecure", bool, False, what="true to skip verifying the nodes' certificates (tests only)"
    )
    server_name = t.get(
        "server_name", str, None, what="the name the nodes' certificates are checked against"
    )
    server_cert_file = server_key_file = None
    if kind == "process":
        server_cert_file = _file(
            t, "server_cert_file", base_dir, "the certificate (PEM) of the nodes the harness starts"
        )
        server_key_file = _file(t, "server_key_file", base_dir, "the key of server_cert_file (PEM)")
    t.done()
    return TlsSpec(
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
        insecure=insecure,
        server_name=server_name,
        server_cert_file=server_cert_file,
        server_key_file=server_key_file,
    )


def _auth(top: _Table, base_dir: Path | None) -> AuthSpec | None:
    t = top.table("auth", what="where the password is: password_env or password_file, and user")
    if t is None:
        return None
    user = t.get("user", str, None, what="the ACL user to authenticate as (default: default)")
    password_env = t.get(
        "password_env", str, None, what="the environment variable holding the password"
    )
    password_file = t.get(
        "password_file", str, None, what="a file whose first line is the password"
    )
    for key in ("password", "pass", "requirepass", "secret"):
        if t.has(key):
            t.seen.add(key)
            raise t.error(
                key,
                "a target file never holds the password; put it in an environment variable "
                "or a file and name it with password_env or password_file",
            )
    if (password_env is None) == (password_file is None):
        raise t.error(
            "password_env",
            "give exactly one of password_env (an environment variable) and password_file "
            "(a file whose first line is the password)",
        )
    if password_env is not None and not check_env_name(password_env):
        raise t.error("password_env", f"{password_env!r} is not an environment variable name")
    if user is not None and not user:
        raise t.error("user", "is empty; name the ACL user or drop the key")
    t.done()
    return AuthSpec(
        user=user,
        password_env=password_env,
        password_file=None if password_file is None else absolute(password_file, base_dir),
        source=top.source,
    )


def _glide(top: _Table, client: str) -> GlideSpec | None:
    t = top.table("glide", what="Valkey GLIDE's settings: request_timeout_ms, reconnect, ...")
    if t is None:
        return GlideSpec() if client == "glide" else None
    if client != "glide":
        raise top.error(
            "glide",
            f'configures the GLIDE client, but client = {client!r}; set client = "glide" or remove [glide]',
        )
    request_timeout_ms = t.get(
        "request_timeout_ms", int, None, what="GLIDE's request timeout in ms"
    )
    connection_timeout_ms = t.get(
        "connection_timeout_ms", int, None, what="GLIDE's connection timeout in ms"
    )
    inflight = t.get(
        "inflight_requests_limit", int, None, what="GLIDE's limit on requests in flight"
    )
    for key, value in (
        ("request_timeout_ms", request_timeout_ms),
        ("connection_timeout_ms", connection_timeout_ms),
        ("inflight_requests_limit", inflight),
    ):
        if value is not None and value <= 0:
            raise t.error(key, f"must be > 0; got {value}")
    protocol = t.get("protocol", str, "resp3", what='"resp3" (GLIDE\'s default) or "resp2"')
    if protocol not in ("resp2", "resp3"):
        raise t.error("protocol", f'{protocol!r} is not a protocol; use "resp3" or "resp2"')
    reconnect = None
    r = t.table("reconnect", what="GLIDE's reconnect backoff: retries, factor_ms, exponent_base")
    if r is not None:
        retries = r.get("retries", int, required=True, what="reconnect attempts with growing waits")
        factor_ms = r.positive("factor_ms", int, 100, what="the backoff's multiplier in ms")
        exponent_base = r.positive("exponent_base", int, 2, what="the backoff's exponent base")
        jitter = r.get("jitter_percent", int, None, what="jitter in percent, 0..100")
        if retries < 0:
            raise r.error("retries", f"must be ≥ 0; got {retries}")
        if jitter is not None and not 0 <= jitter <= 100:
            raise r.error("jitter_percent", f"must be 0..100; got {jitter}")
        r.done()
        reconnect = GlideReconnect(
            retries=retries, factor_ms=factor_ms, exponent_base=exponent_base, jitter_percent=jitter
        )
    t.done()
    return GlideSpec(
        request_timeout_ms=request_timeout_ms,
        connection_timeout_ms=connection_timeout_ms,
        reconnect=reconnect,
        protocol=cast(Any, protocol),
        inflight_requests_limit=inflight,
    )


def _check_secure_start(
    top: _Table, start: StartSpec, tls: TlsSpec | None, auth: AuthSpec | None
) -> None:
    """A process target with [tls]/[auth] must be able to start its nodes that way."""
    if tls is not None:
        if start.tls_args is None:
            raise top.error(
                "tls",
                "needs [start].tls_args: the arguments that make a node listen with TLS on "
                '{port}, e.g. ["--port", "0", "--tls-port", "{port}", ...] (see docs/targets.md)',
            )
        for part in start.tls_args:
            for placeholder, key in _TLS_PLACEHOLDER_KEYS.items():
                if "{" + placeholder + "}" in part and getattr(tls, key) is None:
                    raise top.error(
                        f"tls.{key}",
                        f"is missing but [start].tls_args uses {{{placeholder}}}; add it "
                        "(the nodes the harness starts need it)",
                    )
    if auth is not None:
        if start.password_env is None and start.config_stdin is None:
            raise top.error(
                "auth",
                "needs a way to give the nodes the harness starts their password without "
                "argv: set [start].password_env (an environment variable the node reads) or "
                '[start].config_stdin (e.g. ["-"]: configuration on standard input)',
            )
        if start.config_stdin is None and auth.user not in (None, "default"):
            raise top.error(
                "auth.user",
                f"{auth.user!r}: the nodes get only a password through "
                f"${start.password_env}; drop user (the default user) or use "
                "[start].config_stdin so the harness can create the user",
            )


def _errors(top: _Table) -> ErrorRegistry:
    t = top.table("errors", what="RESP error prefixes mapped to rejected, failed or indeterminate")
    if t is None:
        return ErrorRegistry()
    overrides: dict[str, ErrorClass] = {}
    for prefix in list(t.data):
        cls = t.get(prefix, str, required=True, what=" or ".join(ERROR_CLASSES))
        if cls not in ERROR_CLASSES:
            raise t.error(prefix, f"{cls!r} is not an error class; use {', '.join(ERROR_CLASSES)}")
        if not prefix or prefix != prefix.strip() or prefix.startswith("-"):
            raise t.error(
                prefix, "an error prefix is the reply's first word(s), without '-' or outer spaces"
            )
        overrides[prefix] = cast(ErrorClass, cls)
    t.done()
    return ErrorRegistry().with_overrides(overrides)


def load_target_file(path: str | Path) -> Target:
    """Load and validate one TOML target file."""
    if isinstance(path, str) and not path.strip():  # Path("") is ".": a directory
        raise TargetError("the target file is empty; pass the path of a TOML target file")
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise TargetError(
            f"{p}: no such target file; pass bundled, valkey, redis or the path of a TOML target file"
        ) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise TargetError(
            f"{p}: cannot read the target file ({exc.__class__.__name__}); pass a readable UTF-8 TOML file"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{p}: not valid TOML ({exc}); fix the syntax") from None
    except RecursionError:
        raise TargetError(
            f"{p}: nested too deeply to read (arrays or tables within one another); a target "
            "file is a few flat tables, so fix its structure"
        ) from None
    return parse_target(data, str(p), p.parent)


def _plugins() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available_targets() -> dict[str, str]:
    """Built-in and plugin target names → where each comes from."""
    out = {name: f"built-in ({name}.toml)" for name in BUILTIN_TARGETS}
    out["external"] = "built-in kind; needs a file describing your cluster"
    for name, ep in sorted(_plugins().items()):
        out.setdefault(name, f"plugin {ep.value}")
    return out


def load_target(spec: str | os.PathLike[str]) -> Target:
    """A target by name (``bundled``, ``valkey``, ``redis``, a plugin) or TOML file path."""
    if isinstance(spec, os.PathLike):
        return load_target_file(Path(spec))
    if not isinstance(spec, str):
        raise TargetError(f"a target is a name or a path; got {type(spec).__name__} {spec!r}")
    if not spec.strip():  # Path("") is ".": a directory, not "no target"
        raise TargetError(
            "the target is empty; pass bundled, valkey, redis, a plugin name or the path of a "
            "TOML target file"
        )
    if spec in BUILTIN_TARGETS:
        return parse_target(tomllib.loads(_builtin_text(spec)), f"builtin:{spec}")
    if spec == "external":
        raise TargetError(
            "target 'external' needs a file describing your running cluster; write a TOML file "
            'with kind = "external" and [[external.nodes]] (see docs/targets.md) and pass its path'
        )
    plugin = _plugins().get(spec)
    if plugin is not None:
        return _load_plugin(spec, plugin)
    if "://" in spec and not Path(spec).exists():
        raise TargetError(
            f"target {spec!r} is a URL, but a target is a whole cluster (its nodes, their AZs, "
            'how to fail it over): write a TOML file with kind = "external" listing the nodes '
            "(url = ... or host and port; see docs/targets.md) and pass its path"
        )
    if spec.endswith(".toml") or "/" in spec or Path(spec).exists():
        return load_target_file(spec)
    raise TargetError(
        f"target {spec!r} is not a built-in, a plugin or a file; use one of "
        f"{', '.join(available_targets())} or the path of a TOML target file"
    )


def _load_plugin(name: str, ep: metadata.EntryPoint) -> Target:
    where = f"plugin {name!r} ({ep.value}, entry point group {ENTRY_POINT_GROUP})"
    try:
        obj = ep.load()
    except Exception as exc:
        raise TargetError(
            f"{where} failed to import ({exc!r}); fix or uninstall the plugin"
        ) from None
    try:
        made: object = obj() if callable(obj) and not isinstance(obj, Target) else obj
    except Exception as exc:  # the plugin's own code: any failure is the plugin's
        raise TargetError(
            f"{where} failed when called ({exc!r}); fix or uninstall the plugin"
        ) from None
    if isinstance(made, Mapping):
        made = parse_target(made, where)
    if not isinstance(made, Target):
        raise TargetError(
            f"{where} returned {type(made).__name__}; it must be a Target, a callable returning "
            "one, or a mapping shaped like a target file"
        )
    return made
