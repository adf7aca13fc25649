"""pytest items for ``pytest --ackbound-target T``: one item per (mode, property).

The conformance run executes once, when the first ackbound item runs, and every item then
reports its (mode, property) verdict: valid passes, violated fails with the explanation
and the replay program, unknown is skipped ("no evidence"), so JUnit shows all three. A run
that stopped early (its result has an error) fails every item it has no violation for.
"""

from __future__ import annotations

import argparse
import re
import time
import warnings
from pathlib import Path
from typing import Any, NoReturn

import pytest

__all__ = ["make_items"]

_RESULT_KEY = pytest.StashKey[Any]()
_SETUP_KEY = pytest.StashKey[Any]()


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
        violated = summary is not None and summary.valid is False
        if result.error is not None and not violated:
            # The run stopped early (a cluster that kept breaking, say): no verdict here is
            # whole, and a run that could not run must not read as passes and skips.
            pytest.fail(f"the conformance run stopped early: {result.error}", pytrace=False)
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
    """The conformance run's result, run by the first item; a run that could not run fails
    every item with the same message, and is not tried again for each."""
    cached = config.stash.get(_RESULT_KEY, None)
    if isinstance(cached, str):
        pytest.fail(cached, pytrace=False)
    if cached is not None:
        return cached
    from harness._errors import AckboundError
    from harness.run import claim_run_dir, run_conformance

    run_config, target = config.stash[_SETUP_KEY]
    result: Any
    try:
        run_dir = run_config.report_dir or claim_run_dir(
            Path(
                config.rootpath,
                "ackbound-runs",
                time.strftime("pytest-%Y%m%d-%H%M%S", time.gmtime()),
            )
        )
        result = run_conformance(run_config, run_dir=run_dir, target=target)
    except AckboundError as exc:
        result = f"ackbound could not run: {exc}"
    config.stash[_RESULT_KEY] = result
    if isinstance(result, str):  # (failed here, not in the except: said once, unchained)
        pytest.fail(result, pytrace=False)
    return result


# The command line's flags the plugin has under its own names: the checks it shares with
# ``ackbound run`` name the flag as the command line spells it.
_RUN_FLAG = re.compile(r"(?<![\w-])--(target|mode|budget|seed|faults|backend|report-dir)\b")


def _plugin_flags(message: str) -> str:
    """``message`` with ``--mode`` and its kind spelled as pytest takes them."""
    return _RUN_FLAG.sub(r"--ackbound-\1", message)


def _setup(config: Any) -> None:
    """Check the options and the target at collection, before any item runs: a bad one is
    a usage error (one line, pytest's exit 4), not a failure of every item."""
    from harness._errors import AckboundError
    from harness.cli._paths import check_output_dir
    from harness.cli._run import config_from_args
    from harness.run import check_new_run_dir

    try:
        opts, argv = _options(config)
        run_config, target = config_from_args(opts, ["pytest", *argv])
        if run_config.report_dir is not None:
            check_new_run_dir(run_config.report_dir, "--ackbound-report-dir")
            check_output_dir("--ackbound-report-dir", run_config.report_dir)
    except AckboundError as exc:
        raise pytest.UsageError(f"ackbound: {_plugin_flags(str(exc))}") from None
    # As the command line says it, once (here, in pytest's warnings summary).
    if (note := run_config.dropped_faults_note(target.name)) is not None:
        warnings.warn(pytest.PytestWarning(note), stacklevel=1)
    config.stash[_SETUP_KEY] = (run_config, target)


class _Parser(argparse.ArgumentParser):
    """``ackbound run``'s parser, whose errors are pytest usage errors (not an exit)."""

    def error(self, message: str) -> NoReturn:
        raise pytest.UsageError(f"ackbound: {message.replace('argument --', '--ackbound-')}")


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
    parser = _Parser(prog="pytest --ackbound-*")
    register(parser)
    return parser.parse_args(argv), argv


def check_distribution(config: Any) -> None:
    """Under pytest-xdist every worker given an item would run a whole conformance run of
    its own: refuse, on the controller, a distribution that does not keep them together
    (``--dist loadgroup`` does: the items share an ``xdist_group``)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    dist = config.getoption("dist", "no")
    spread = config.getoption("numprocesses", None) or config.getoption("tx", None)
    if (spread or dist != "no") and dist != "loadgroup":  # -n N, or -d --tx ...
        raise pytest.UsageError(
            "ackbound: the ackbound items must run on one pytest-xdist worker; add "
            "--dist loadgroup, or run them without -n"
        )


def make_items(session: Any, config: Any) -> list[pytest.Item]:
    """The items of the conformance run: (mode, property) for every applicable pair."""
    from harness.checker import applicable
    from models import Mode

    _setup(config)
    modes = config.stash[_SETUP_KEY][0].modes
    items: list[pytest.Item] = []
    for mode in modes:
        for prop in applicable(Mode(mode)):
            item = AckboundItem.from_parent(
                session,
                name=f"ackbound[{config.getoption('--ackbound-target')}-{mode}-{prop.name}]",
                mode=mode,
                prop=prop.name,
            )
            item.add_marker(pytest.mark.xdist_group("ackbound"))  # one worker runs them all
            items.append(item)
    return items
