"""pytest items for ``pytest --ackbound-target T``: one item per (mode, property).

The conformance run executes once, when the first ackbound item runs, and every item then
reports its (mode, property) verdict: valid passes, violated fails with the explanation
and the replay program, unknown is skipped ("no evidence"), so JUnit shows all three.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pytest

__all__ = ["make_items"]

_RESULT_KEY = pytest.StashKey[Any]()


class AckboundItem(pytest.Item):
    """One durability property in one mode of the conformance run."""

    def __init__(self, *, mode: str, prop: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.mode = mode
        self.prop = prop

    def runtest(self) -> None:
        result = _run_once(self.config)
        m = result.modes.get(self.mode)
        if m is None:
            pytest.fail(f"mode {self.mode} did not run: {result.error or 'no examples'}")
        summary = m.properties.get(self.prop)
        if summary is None or summary.valid == "unknown":
            pytest.skip(f"{self.mode}/{self.prop}: no evidence in {m.examples} example(s)")
        if summary.valid is False:
            lines = [f"{self.mode}/{self.prop} violated in {summary.examples_violated} example(s)"]
            if summary.first_violation is not None:
                lines.append(summary.first_violation.explanation)
            if m.failure is not None and self.prop in m.failure.violated:
                lines += ["replay it:", m.failure.program]
            raise AckboundViolation("\n".join(lines))

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, AckboundViolation):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"ackbound {self.mode}/{self.prop}"


class AckboundViolation(AssertionError):
    """A durability property was violated by the target."""


def _run_once(config: Any) -> Any:
    cached = config.stash.get(_RESULT_KEY, None)
    if cached is not None:
        return cached
    from harness.cli._run import config_from_args
    from harness.run import run_conformance

    opts, argv = _options(config)
    run_config, target = config_from_args(opts, ["pytest", *argv])
    run_dir = run_config.report_dir or Path(
        config.rootpath, "ackbound-runs", time.strftime("pytest-%Y%m%d-%H%M%S", time.gmtime())
    )
    result = run_conformance(run_config, run_dir=run_dir, target=target)
    config.stash[_RESULT_KEY] = result
    return result


def _options(config: Any) -> tuple[argparse.Namespace, list[str]]:
    """The plugin's options as ``ackbound run`` flags, parsed by that command's own parser
    (so every other flag has the command's default); and the flags, for the record."""
    from harness.cli._run import register

    argv = ["--target", config.getoption("--ackbound-target")]
    argv += ["--mode", config.getoption("--ackbound-mode")]
    argv += ["--backend", config.getoption("--ackbound-backend"), "--steps", "10"]
    for flag, option in (
        ("--faults", "--ackbound-faults"),
        ("--budget", "--ackbound-budget"),
        ("--seed", "--ackbound-seed"),
        ("--report-dir", "--ackbound-report-dir"),
    ):
        value = config.getoption(option)
        if value is not None:
            argv += [flag, str(value)]
    parser = argparse.ArgumentParser(prog="pytest --ackbound-*")
    register(parser)
    return parser.parse_args(argv), argv


def make_items(session: Any, config: Any) -> list[pytest.Item]:
    """The items of the conformance run: (mode, property) for every applicable pair."""
    from harness.checker import applicable
    from harness.run import parse_modes
    from models import Mode

    mode_opt = config.getoption("--ackbound-mode")
    modes = parse_modes(mode_opt)
    items: list[pytest.Item] = []
    for mode in modes:
        for prop in applicable(Mode(mode)):
            items.append(
                AckboundItem.from_parent(
                    session,
                    name=f"ackbound[{config.getoption('--ackbound-target')}-{mode}-{prop.name}]",
                    mode=mode,
                    prop=prop.name,
                )
            )
    return items
