"""The TLA+ spec's tooling: finding and running TLC, reading its output, the configurations
and their pinned results, replaying TLC's states through the Python model, and trace
validation of recorded runs.

``ackbound spec check`` (harness/cli/_spec.py) is built from these pieces; tests/spec uses
them to compare the spec with ``models``.
"""

from harness.spec._check import ConfigCheck, check_config, render_trace
from harness.spec._config import (
    TIERS,
    Cfg,
    ConfigEntry,
    Manifest,
    default_specs_dir,
    load_manifest,
    params_from_cfg,
    read_cfg,
)
from harness.spec._replay import Disagreement, ReplayedStep, replay, state_from_tlc
from harness.spec._tlc import (
    Tlc,
    TlcNotFound,
    TlcResult,
    TraceState,
    find_tlc,
    parse_dump,
    parse_tlc_output,
    run_tlc,
)
from harness.spec._validate import (
    UnsupportedHistory,
    Validation,
    build_trace,
    validate_history,
)
from harness.spec._values import ModelValue, TlaSyntaxError, format_value, parse_value

__all__ = [
    "TIERS",
    "Cfg",
    "ConfigCheck",
    "ConfigEntry",
    "Disagreement",
    "Manifest",
    "ModelValue",
    "ReplayedStep",
    "TlaSyntaxError",
    "Tlc",
    "TlcNotFound",
    "TlcOutputUnreadable",
    "TlcResult",
    "TraceState",
    "UnsupportedHistory",
    "Validation",
    "build_trace",
    "check_config",
    "default_specs_dir",
    "find_tlc",
    "format_value",
    "load_manifest",
    "params_from_cfg",
    "parse_dump",
    "parse_tlc_output",
    "parse_value",
    "read_cfg",
    "render_trace",
    "replay",
    "run_tlc",
    "state_from_tlc",
    "validate_history",
]
