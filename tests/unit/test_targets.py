"""Target files: the built-ins load, a user's file loads, and each mistake has its own error.

The malformed cases are mutations of tests/data/targets/mystore.toml (a valid user-written
file); each must fail at load with one line naming the file, the key and the fix.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from harness.targets import (
    BUILTIN_TARGETS,
    ModeParams,
    Target,
    TargetError,
    available_targets,
    load_target,
    load_target_file,
    parse_target,
)

DATA = Path(__file__).parents[1] / "data" / "targets"
VALID = (DATA / "mystore.toml").read_text("utf-8")


@pytest.mark.parametrize("name", BUILTIN_TARGETS)
def test_builtin_targets_load_with_every_mode(name: str) -> None:
    target = load_target(name)
    assert target.name == name
    assert target.source == f"builtin:{name}"
    assert target.supported_modes == ("none", "sync", "async")
    assert target.durable_restart is False


def test_builtin_timing_and_protocols() -> None:
    bundled, valkey, redis = (load_target(n) for n in ("bundled", "valkey", "redis"))
    assert bundled.lag_limit_ms(250) == 250  # any number of ms
    assert valkey.lag_limit_ms(250) == 1000 and valkey.lag_limit_ms(1001) == 2000  # whole seconds
    assert redis.lag_limit_ms(3000) == 3000
    assert valkey.mode("sync").write == "wait" and bundled.mode("sync").write == "plain"
    assert bundled.lag is not None and valkey.lag is None
    assert valkey.setup_commands("async", ModeParams(lag_limit_ms=1500)) == [
        ["CONFIG", "SET", "min-replicas-max-lag", "2"],
        ["CONFIG", "SET", "min-replicas-to-write", "1"],
    ]
    assert bundled.setup_commands("sync", ModeParams(sync_replicas=2, sync_timeout_ms=300)) == [
        ["CONFIG", "SET", "sync-replicas", "2"],
        ["CONFIG", "SET", "sync-timeout-ms", "300"],
        ["CONFIG", "SET", "durability", "sync"],
    ]
    assert bundled.start_command(
        binary="", name="n1", index=0, az="az1", host="127.0.0.1", port=7001, dir="/d", bug="x"
    ) == [
        sys.executable,
        "-m",
        "harness.server",
        "--port",
        "7001",
        "--bind",
        "127.0.0.1",
        "--az",
        "az1",
        "--repl-timeout-ms",
        "5000",
        "--bug",
        "x",
    ]


def test_error_classification_per_target() -> None:
    valkey, bundled = load_target("valkey"), load_target("bundled")
    assert valkey.classify_error("NOREPLICAS Not enough good replicas to write.") == "rejected"
    assert bundled.classify_error("NOSYNCREPLICAS not enough") == "rejected"
    assert bundled.classify_error("SYNCTIMEOUT Timed out") == "indeterminate"
    assert bundled.classify_error("CLUSTERDOWN lag over limit") == "rejected"
    assert valkey.classify_error("WRONGTYPE Operation against a key") == "failed"
    assert valkey.classify_error("ERR syntax error") == "failed"
    assert valkey.classify_error("ERR something nobody registered") == "indeterminate"
    assert valkey.classify_error("WHATEVER new error") == "indeterminate"
    assert valkey.classify_error("ASKING failed") == "indeterminate"  # prefix ends at a word


def test_a_user_file_wrapping_the_bundled_server_loads() -> None:
    target = load_target(str(DATA / "mystore.toml"))
    assert target.name == "mystore"
    assert target.source == str(DATA / "mystore.toml")
    assert target.lag_limit_ms(123) == 130 and target.lag_limit_ms(1) == 50
    assert target.tolerance_s == 0.3 and target.recovery_s == 4.0
    assert target.classify_error("SYNCTIMEOUT x") == "indeterminate"


def test_extends_starts_from_a_builtin() -> None:
    target = parse_target(
        {"extends": "valkey", "name": "valkey-lag2", "lag_limit": {"min_ms": 2000}}, "f.toml"
    )
    assert target.name == "valkey-lag2" and target.lag_limit_ms(100) == 2000
    assert target.mode("sync").write == "wait"


@pytest.mark.parametrize("builtin", BUILTIN_TARGETS)
def test_an_external_target_may_extend_a_builtin_the_harness_starts(builtin: str) -> None:
    """It was refused for the built-in's [binary], a key the user never wrote."""
    external = {
        "primary": "a",
        "nodes": [
            {"name": "a", "host": "127.0.0.1", "port": 7001, "az": "z1"},
            {"name": "b", "host": "127.0.0.1", "port": 7002, "az": "z2"},
        ],
    }
    data = {"extends": builtin, "name": "mine", "kind": "external", "external": external}
    target = parse_target(data, "f.toml")
    base = load_target(builtin)
    assert target.kind == "external"
    assert (target.binary, target.start, target.docker) == (None, None, None)
    assert [n.name for n in target.external.nodes] == ["a", "b"]  # type: ignore[union-attr]
    assert target.supported_modes == base.supported_modes
    assert target.mode("sync") == base.mode("sync")
    assert target.lag_limit_ms(1) == base.lag_limit_ms(1)
    # What the user writes is still theirs to answer for.
    for key, value in (("binary", {"find": ["x"]}), ("start", {"command": ["x"]})):
        with pytest.raises(TargetError) as exc:
            parse_target({**data, key: value}, "f.toml")
        assert str(exc.value).startswith(f"f.toml: key '{key}': is for targets the harness starts")


def test_external_needs_a_file_and_unknown_names_say_what_exists() -> None:
    with pytest.raises(TargetError) as exc:
        load_target("external")
    assert str(exc.value) == (
        "target 'external' needs a file describing your running cluster; write a TOML file "
        'with kind = "external" and [[external.nodes]] (see docs/targets.md) and pass its path'
    )
    with pytest.raises(
        TargetError,
        match=r"^target 'valky' is not a built-in, a plugin or a file; use one of bundled, valkey, redis, external",
    ):
        load_target("valky")
    with pytest.raises(TargetError) as exc:
        load_target("/nonexistent/x.toml")
    assert str(exc.value) == (
        "/nonexistent/x.toml: no such target file; pass bundled, valkey, redis or the path of "
        "a TOML target file"
    )
    for url in ("redis://127.0.0.1:6379", "rediss://cache.example:6380/0"):
        with pytest.raises(TargetError) as exc:
            load_target(url)
        assert str(exc.value).startswith(
            f"target {url!r} is a URL, but a target is a whole cluster"
        )
        assert 'kind = "external"' in str(exc.value)


# (case, old text, new text, expected message after "<file>: ")
MALFORMED = [
    (
        "unknown-top-level-key",
        "schema = 1\n",
        'schema = 1\ncolour = "blue"\n',
        "key 'colour': unknown key in the top level; remove it or use one of: auth, binary, "
        "client, client_timeout_ms, description, docker, durable_restart, errors, extends, "
        "glide, kind, lag, lag_limit, modes, name, recovery_s, replication, reset, schema, "
        "start, tls, tolerance_s (see docs/targets.md)",
    ),
    (
        "missing-name",
        'name = "mystore"\n',
        "",
        "key 'name': is missing; add it (the target's name, e.g. name = \"mystore\")",
    ),
    (
        "unknown-placeholder",
        '"--port", "{port}", "--bind"',
        '"--port", "{prot}", "--bind"',
        "key 'start.command': '{prot}' uses the unknown placeholder {prot}; here you may use "
        "{az}, {binary}, {dir}, {host}, {index}, {name}, {port}, {python}",
    ),
    (
        "unbalanced-brace",
        '"--az", "{az}"]',
        '"--az", "{az"]',
        "key 'start.command': '{az' is not a valid template (expected '}' before end of "
        "string); write {{ and }} for literal braces",
    ),
    (
        "placeholder-outside-its-context",
        '["CONFIG", "SET", "lag-limit-ms", "{lag_limit_ms}"]',
        '["CONFIG", "SET", "lag-limit-ms", "{port}"]',
        "key 'modes.async.setup': '{port}' uses the unknown placeholder {port}; here you may "
        "use {lag_limit_ms}, {lag_limit_s}, {sync_replicas}, {sync_timeout_ms}",
    ),
    (
        "unknown-mode",
        "[modes.none]",
        "[modes.fast]",
        "key 'modes.fast': is not a mode; use none, sync or async",
    ),
    (
        "unknown-write-protocol",
        '[modes.none]\nsetup = [["CONFIG", "SET", "durability", "none"]]\nwrite = "plain"',
        '[modes.none]\nsetup = [["CONFIG", "SET", "durability", "none"]]\nwrite = "wiat"',
        "key 'modes.none.write': 'wiat' is not a write protocol; use plain or wait",
    ),
    (
        "bad-error-class",
        '"NOSYNCREPLICAS" = "rejected"',
        '"NOSYNCREPLICAS" = "rejectd"',
        "key 'errors.NOSYNCREPLICAS': 'rejectd' is not an error class; use rejected, failed, "
        "indeterminate",
    ),
    (
        "wrong-type",
        "tolerance_s = 0.3",
        'tolerance_s = "0.3"',
        "key 'tolerance_s': must be the timing tolerance ε in seconds; got '0.3'",
    ),
    (
        "missing-table",
        '[replication]\nreplicaof = [["REPLICAOF", "{primary_host}", "{primary_port}"]]\n'
        'promote = [["REPLICAOF", "NO", "ONE"]]\ninfo = ["INFO", "replication"]\n'
        'offset_field = "master_repl_offset"\n',
        "",
        "key 'replication': is missing; add it (how to make replicas and promote them)",
    ),
    (
        "unknown-key-in-a-table",
        "ready_timeout_s = 15",
        "readytimeout = 15",
        "key 'start.readytimeout': unknown key in table [start]; remove it or use one of: "
        "bug_args, command, config_stdin, password_env, ready_log, ready_timeout_s, tls_args "
        "(see docs/targets.md)",
    ),
    (
        "command-without-port",
        '"--port", "{port}", ',
        "",
        "key 'start.command': never uses {port}; the harness chooses each node's port",
    ),
    (
        "setup-not-a-list-of-commands",
        'setup = [["CONFIG", "SET", "durability", "none"]]',
        'setup = ["CONFIG", "SET", "durability", "none"]',
        "key 'modes.none.setup': must be a list of commands, each a list of strings (commands "
        'that switch a node to this mode); e.g. [["CONFIG", "SET", "appendonly", "no"]]; '
        "got ['CONFIG', 'SET', 'durability', 'none']",
    ),
    (
        "name-not-kebab-case",
        'name = "mystore"',
        'name = "My Store"',
        "key 'name': 'My Store' is not a kebab-case name; use lowercase letters, digits and '-'",
    ),
    (
        "newer-schema",
        "schema = 1",
        "schema = 2",
        "key 'schema': version 2 is not supported; write schema = 1",
    ),
    (
        "external-with-start",
        "schema = 1\n",
        'schema = 1\nkind = "external"\n',
        "key 'start': is for targets the harness starts; an external target has [external] "
        "nodes and hooks instead — remove it",
    ),
    (
        "bad-lag-unit",
        'field = "durability_lag_ms"',
        'field = "durability_lag_ms"\nunit = "minutes"',
        "key 'lag.unit': 'minutes' is not a unit; use \"ms\" or \"s\"",
    ),
    (
        "not-toml",
        "[lag_limit]",
        "[lag_limit",
        None,
    ),
    (
        "infinite-tolerance",
        "tolerance_s = 0.3",
        "tolerance_s = inf",
        "key 'tolerance_s': must be a finite number (the timing tolerance ε in seconds); got inf",
    ),
    (
        "nan-recovery",
        "recovery_s = 4",
        "recovery_s = nan",
        "key 'recovery_s': must be a finite number (the recovery allowance in seconds); got nan",
    ),
    (
        "a-ready-timeout-of-years",
        "ready_timeout_s = 15",
        "ready_timeout_s = 1e300",
        "key 'start.ready_timeout_s': must be at most 86400 (seconds to wait for a node to "
        "answer PING; a day); got 1e+300",
    ),
    (
        "a-lag-step-past-the-clock",
        "granularity_ms = 10",
        "granularity_ms = 9223372036854775807",
        "key 'lag_limit.granularity_ms': must be at most 86400000 (the step of lag limits the "
        "server accepts, in ms; a day); got 9223372036854775807",
    ),
    (
        "nul-in-command",
        '"--az", "{az}"]',
        '"--az", "{az}\\u0000"]',
        "key 'start.command': holds a NUL character, which no command line can; remove it",
    ),
]


@pytest.mark.parametrize(
    ("case", "old", "new", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_each_malformed_target_file_has_its_own_precise_error(
    tmp_path: Path, case: str, old: str, new: str, expected: str | None
) -> None:
    assert VALID.count(old) == 1, f"case {case}: mutation text must occur exactly once"
    path = tmp_path / f"{case}.toml"
    path.write_text(VALID.replace(old, new), "utf-8")
    with pytest.raises(TargetError) as exc:
        load_target_file(path)
    message = str(exc.value)
    assert "\n" not in message
    if expected is None:
        assert message.startswith(f"{path}: not valid TOML (")
        assert message.endswith("); fix the syntax")
    else:
        assert message == f"{path}: {expected}"


def test_a_file_nested_too_deeply_to_read_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n", "utf-8")
    with pytest.raises(TargetError) as exc:
        load_target_file(path)
    assert str(exc.value) == (
        f"{path}: nested too deeply to read (arrays or tables within one another); a target "
        "file is a few flat tables, so fix its structure"
    )


def test_the_malformed_cases_are_all_different() -> None:
    assert len({m[3] for m in MALFORMED}) == len(MALFORMED) >= 10


def test_external_target_files(tmp_path: Path) -> None:
    text = """
name = "managed"
kind = "external"
[external]
primary = "a"
nodes = [
  {name = "a", host = "127.0.0.1", port = 7001, az = "z1"},
  {name = "b", host = "127.0.0.1", port = 7002, az = "z2"},
]
[external.hooks]
kill = "ops kill {name}"
promote = "ops failover --to {name}"
[replication]
replicaof = [["REPLICAOF", "{primary_host}", "{primary_port}"]]
promote = [["REPLICAOF", "NO", "ONE"]]
[modes.sync]
write = "wait"
"""
    target = parse_target(tomllib.loads(text), "managed.toml")
    assert target.kind == "external" and target.external is not None
    assert [n.name for n in target.external.nodes] == ["a", "b"]
    assert target.capabilities() == frozenset({"kill", "promote", "replicaof"})
    bad = text.replace('kill = "ops kill {name}"', 'explode = "boom"')
    with pytest.raises(TargetError) as exc:
        parse_target(tomllib.loads(bad), "managed.toml")
    assert str(exc.value) == (
        "managed.toml: key 'external.hooks.explode': is not a hook; use one of kill, restart, "
        "wipe-restart, pause, resume, promote, partition, slow-link, heal"
    )
    node_b = '{name = "b", host = "127.0.0.1", port = 7002'
    for old, new, message in [
        ('primary = "a"', 'primary = "c"', "key 'external.primary': 'c' is not one of the nodes"),
        (
            node_b,
            '{name = "b", host = "127.0.0.1", port = 7001',
            "key 'external.nodes': 'a' and 'b' are both 127.0.0.1:7001; give each node its "
            "own address",
        ),
        # the same server under another spelling of loopback
        (node_b, '{name = "b", host = "localhost", port = 7001', "'a' and 'b' are both localhost"),
        (
            node_b,
            '{name = "b", host = "", port = 7002',
            "key 'external.nodes[1].host': '' is no address; give a host name or IP, e.g. "
            "127.0.0.1",
        ),
    ]:
        with pytest.raises(TargetError) as exc:
            parse_target(tomllib.loads(text.replace(old, new)), "managed.toml")
        assert str(exc.value).startswith("managed.toml: ") and message in str(exc.value)


def test_plugins_come_from_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    mystore = load_target(str(DATA / "mystore.toml"))

    class FakeEntryPoint:
        def __init__(self, name: str, obj: object) -> None:
            self.name, self.value, self._obj = name, f"plugin_mod:{name}", obj

        def load(self) -> object:
            return self._obj

    eps = [
        FakeEntryPoint("coded", lambda: mystore),
        FakeEntryPoint("as-data", {"extends": "bundled", "name": "as-data"}),
        FakeEntryPoint("broken", 42),
        FakeEntryPoint("raises", lambda: 1 / 0),
    ]

    def fake_entry_points(*, group: str) -> list[FakeEntryPoint]:
        assert group == "ackbound.targets"
        return eps

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    assert "coded" in available_targets()
    coded = load_target("coded")
    assert isinstance(coded, Target) and coded.name == "mystore"
    assert load_target("as-data").name == "as-data"
    with pytest.raises(TargetError) as exc:
        load_target("broken")
    assert str(exc.value) == (
        "plugin 'broken' (plugin_mod:broken, entry point group ackbound.targets) returned int; "
        "it must be a Target, a callable returning one, or a mapping shaped like a target file"
    )
    with pytest.raises(TargetError) as exc:
        load_target("raises")
    assert str(exc.value) == (
        "plugin 'raises' (plugin_mod:raises, entry point group ackbound.targets) failed when "
        "called (ZeroDivisionError('division by zero')); fix or uninstall the plugin"
    )


def test_load_target_takes_a_path_object_and_refuses_what_is_neither_name_nor_path() -> None:
    assert load_target(DATA / "mystore.toml").name == "mystore"
    with pytest.raises(TargetError, match=r"^a target is a name or a path; got NoneType None$"):
        load_target(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("", "is empty; name an image, e.g. ackbound-valkey:local"),
        ("../containers", "'../containers' is not a docker image reference"),
        ("Bad Image", "'Bad Image' is not a docker image reference"),
    ],
)
def test_a_docker_image_that_is_no_reference_is_named_in_the_file(
    tmp_path: Path, image: str, problem: str
) -> None:
    """An empty image crashed the run inside the Docker SDK (a traceback, exit 1)."""
    path = tmp_path / "t.toml"
    path.write_text(
        f'name = "t"\nextends = "bundled"\n[docker]\nimage = "{image}"\n'
        'command = ["x", "{port}"]\n',
        "utf-8",
    )
    with pytest.raises(TargetError) as exc:
        load_target_file(path)
    assert str(exc.value).startswith(f"{path}: key 'docker.image': {problem}")


@pytest.mark.parametrize(
    ("table", "key", "example"),
    [
        ("reset", "flush", '[["FLUSHALL"]]'),
        ("replication", "replicaof", '[["REPLICAOF", "{primary_host}", "{primary_port}"]]'),
        ("replication", "promote", '[["REPLICAOF", "NO", "ONE"]]'),
    ],
)
def test_a_required_command_list_may_not_be_empty(
    tmp_path: Path, table: str, key: str, example: str
) -> None:
    """An empty flush passed for a reset: the last example's data was read back as
    phantoms, and a correct server was reported violating no-phantom-writes."""
    path = tmp_path / "x.toml"
    path.write_text(f'extends = "bundled"\nname = "x"\n[{table}]\n{key} = []\n', encoding="utf-8")
    with pytest.raises(TargetError) as exc:
        load_target(str(path))
    assert str(exc.value) == (
        f"{path}: key '{table}.{key}': is empty; give at least one command (e.g. {example})"
    )
