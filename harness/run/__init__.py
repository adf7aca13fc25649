"""The conformance run: Hypothesis stateful tests with the reference model as oracle.

``run_conformance(config, run_dir=..., target=...)`` runs every mode of a
:class:`RunConfig` against a target and writes the reports; ``replay_program`` rebuilds
the state machine of a failing example so that its printed program can be pasted and run.
"""

from harness.run._config import (
    DEFAULT_FAULTS,
    MODES_ALL,
    RunConfig,
    faults_for,
    parse_faults,
    parse_modes,
)
from harness.run._example import Example, ExampleRecord, ModeSetup, checker_params
from harness.run._replay import replay_program
from harness.run._runner import (
    ModeRun,
    bundled_bugs,
    check_new_run_dir,
    claim_run_dir,
    earlier_run,
    mode_setup,
    run_conformance,
)

__all__ = [
    "DEFAULT_FAULTS",
    "MODES_ALL",
    "Example",
    "ExampleRecord",
    "ModeRun",
    "ModeSetup",
    "RunConfig",
    "bundled_bugs",
    "check_new_run_dir",
    "checker_params",
    "claim_run_dir",
    "earlier_run",
    "faults_for",
    "mode_setup",
    "parse_faults",
    "parse_modes",
    "replay_program",
    "run_conformance",
]
