"""Targets: how to run and operate one kind of RESP server.

``load_target(spec)`` takes ``bundled``, ``valkey``, ``redis``, the name of a plugin
(entry-point group ``ackbound.targets``) or the path of a TOML target file, validates it and
returns a :class:`Target`. A target says how to start node i, make it a replica or promote it,
read its replication offset (and durability lag, if it has one), what each durability mode
means on it (setup commands and write protocol), its lag-limit granularity, timing tolerance
and recovery allowance, whether a restart keeps data, and how to classify its error replies
(:class:`ErrorRegistry`), and how to reach the nodes securely (:class:`TlsSpec`, and
:class:`AuthSpec`: where the password is, never the password). docs/targets.md documents the
file format; the built-in files in
``harness/targets/builtin/`` are its examples.

A plugin is an entry point in group ``ackbound.targets`` whose object is a :class:`Target`,
a callable returning one, or a mapping shaped like a target file::

    [project.entry-points."ackbound.targets"]
    mystore = "mystore_ackbound:target"
"""

from harness.targets._errors import (
    DEFAULT_ERRORS,
    ERROR_CLASSES,
    ErrorClass,
    ErrorRegistry,
    op_type_for,
)
from harness.targets._load import (
    BUILTIN_TARGETS,
    ENTRY_POINT_GROUP,
    available_targets,
    image_problem,
    load_target,
    load_target_file,
    parse_target,
)
from harness.targets._params import MODES, Mode, ModeParams
from harness.targets._secure import (
    AuthSpec,
    Credentials,
    GlideReconnect,
    GlideSpec,
    TlsSpec,
    config_lines,
)
from harness.targets._target import (
    CLIENTS,
    HOOK_CAPABILITIES,
    PROCESS_CAPABILITIES,
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

__all__ = [
    "BUILTIN_TARGETS",
    "CLIENTS",
    "DEFAULT_ERRORS",
    "ENTRY_POINT_GROUP",
    "ERROR_CLASSES",
    "HOOK_CAPABILITIES",
    "MODES",
    "PROCESS_CAPABILITIES",
    "WRITE_PROTOCOLS",
    "AuthSpec",
    "BinarySpec",
    "Command",
    "Credentials",
    "DockerSpec",
    "ErrorClass",
    "ErrorRegistry",
    "ExternalNode",
    "ExternalSpec",
    "GlideReconnect",
    "GlideSpec",
    "LagSpec",
    "Mode",
    "ModeParams",
    "ModeSpec",
    "ReplicationSpec",
    "StartSpec",
    "Target",
    "TargetError",
    "TlsSpec",
    "available_targets",
    "config_lines",
    "image_problem",
    "load_target",
    "load_target_file",
    "op_type_for",
    "parse_target",
]
