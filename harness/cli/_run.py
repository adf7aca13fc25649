"""``ackbound run``: the conformance run (the main job)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from harness._errors import EXIT_INTERRUPTED, AckboundError
from harness.cli._check import _positive_int, _seconds, int_in
from harness.cli._paths import (
    check_copy_of_report,
    check_output_dir,
    check_output_file,
    path_arg,
)

_MOST_NODES = 32  # a cluster on one machine's loopback; more is a typo


def _budget(text: str) -> float:
    v = _seconds(text)
    if v == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} leaves no time for a single example; pass seconds > 0 (default 60)"
        )
    return v


def _target_arg(text: str) -> str:
    """An argparse type: a target name or file, but not an empty one (``Path("")`` is ``.``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty; pass bundled, valkey, redis, a plugin name or a TOML target file"
        )
    return text


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        type=_target_arg,
        default="bundled",
        help="bundled, valkey, redis, a plugin name, or a TOML target file (default bundled)",
    )
    p.add_argument("--backend", default="local", choices=("local", "docker"))
    p.add_argument(
        "--mode",
        default=None,
        help="none, sync, async, all or a comma-separated list (default: every mode the "
        "target supports; with --bug, the mode where the bug shows)",
    )
    p.add_argument(
        "--faults",
        default="default",
        help="comma-separated faults to use, 'none' or 'default' (every fault the target can do)",
    )
    p.add_argument(
        "--budget",
        type=_budget,
        default=60.0,
        metavar="SECONDS",
        help="time to explore, shared by the modes (default 60)",
    )
    p.add_argument(
        "--examples",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop each mode after N examples (default: as many as the budget allows)",
    )
    p.add_argument("--seed", type=int, default=None, metavar="N", help="Hypothesis seed")
    p.add_argument(
        "--lag-limit",
        type=_seconds,
        default=None,
        metavar="S",
        help="async lag limit L in seconds (default 0.5, rounded to the target's granularity)",
    )
    p.add_argument(
        "--sync-timeout-ms", type=int_in(1, 86_400_000, "a day"), default=None, metavar="MS"
    )
    p.add_argument("--sync-replicas", type=int_in(1, _MOST_NODES - 1), default=1, metavar="K")
    p.add_argument("--nodes", type=int_in(1, _MOST_NODES), default=None, metavar="N")
    p.add_argument("--azs", type=int_in(1, _MOST_NODES), default=None, metavar="N")
    p.add_argument("--image", default=None, help="container image for --backend docker")
    p.add_argument(
        "--steps",
        type=_positive_int,
        default=8,
        metavar="N",
        help="most steps in one example (default 8)",
    )
    p.add_argument(
        "--no-canon",
        dest="canon",
        action="store_false",
        help="skip the textbook scenarios each mode starts with; only explore",
    )
    p.add_argument(
        "--shrink-budget",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="time allowed to shrink a failing example (default max(60, budget/modes))",
    )
    p.add_argument(
        "--report-dir",
        type=path_arg,
        default=None,
        metavar="DIR",
        help="where to write the run: a new directory (default ./ackbound-runs/<time>-<target>)",
    )
    p.add_argument(
        "--junit", type=path_arg, default=None, metavar="FILE", help="also write JUnit XML here"
    )
    p.add_argument(
        "--json", type=path_arg, default=None, metavar="FILE", help="also write results.json here"
    )
    p.add_argument(
        "--bug",
        default=None,
        metavar="NAME",
        help="run the bundled server with a seeded bug (to validate the harness); the bugs "
        "are listed by 'python -m harness.server --list-bugs' and in docs/server.md",
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")


def config_from_args(args: argparse.Namespace, argv: list[str]) -> tuple[Any, Any]:
    """Validate the flags into a RunConfig and load the target (raises AckboundError)."""
    from harness.run import RunConfig, bundled_bugs, faults_for, parse_modes
    from harness.run._runner import check_bug_target, check_topology
    from harness.targets import image_problem, load_target

    target = load_target(args.target)
    modes: tuple[str, ...] | None = parse_modes(args.mode) if args.mode is not None else None
    nodes, azs = args.nodes, args.azs
    if args.bug is not None:
        check_bug_target(target, args.bug)
        bugs = {b["name"]: b for b in bundled_bugs()}
        if args.bug not in bugs:
            raise AckboundError(
                f"--bug {args.bug!r} is not a seeded bug; use one of {', '.join(sorted(bugs))}"
            )
        hint = bugs[args.bug]
        if modes is None and hint.get("mode") in ("none", "sync", "async"):
            modes = (hint["mode"],)
        topo = hint.get("topology") or {}
        if nodes is None and azs is None and topo:
            nodes, azs = topo.get("nodes"), topo.get("azs")
    if modes is None:  # every mode the target supports
        modes = tuple(m for m in parse_modes("all") if m in target.supported_modes)
    unsupported = [m for m in modes if m not in target.supported_modes]
    if unsupported:
        raise AckboundError(
            f"target {target.name!r} does not support mode(s) {', '.join(unsupported)}; "
            f"use --mode {','.join(target.supported_modes)}"
        )
    if args.image is not None and args.backend != "docker":
        raise AckboundError(
            "--image is for --backend docker; add --backend docker, or drop --image"
        )
    if args.image is not None and (problem := image_problem(args.image)) is not None:
        raise AckboundError(f"--image {problem}, or drop --image for the target's own")
    if args.backend == "docker" and target.docker is None:
        raise AckboundError(
            f"target {target.name!r} has no [docker] section; use --backend local or add one"
        )
    faults, dropped = faults_for(target, args.faults)
    config = RunConfig(
        target=args.target,
        backend=args.backend,
        modes=modes,
        faults=faults,
        dropped_faults=dropped,
        budget_s=args.budget,
        examples=args.examples,
        seed=args.seed,
        lag_limit_s=args.lag_limit,
        sync_timeout_ms=args.sync_timeout_ms,
        sync_replicas=args.sync_replicas,
        nodes=nodes,
        azs=azs,
        report_dir=args.report_dir,
        junit=args.junit,
        json=args.json,
        bug=args.bug,
        image=args.image,
        steps=args.steps,
        canon=args.canon,
        shrink_budget_s=args.shrink_budget,
        command=tuple(argv),
    )
    check_topology(target, config)
    return config, target


def default_run_dir(config: Any) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = config.target if "/" not in config.target else Path(config.target).stem
    suffix = f"-{config.bug}" if config.bug else ""
    return Path("ackbound-runs") / f"{stamp}-{name}{suffix}"


def _found_before(run_dir: Path) -> list[str]:
    """One line per mode whose failure the partial reports hold: what was violated, and
    where its program is (what a run interrupted after finding a violation must not hide)."""
    from harness.report._write import PROGRAM
    from harness.run._replay import load_failures

    try:
        failures = load_failures(run_dir)
    except AckboundError:  # the reports' own line already said where they are
        return []
    lines = []
    for mode, info in failures.items():
        f = info["failure"]
        what = ", ".join(f["violated"]) or "an example"
        lines.append(
            f"ackbound: violated before the interruption: {what} in mode {mode} (example "
            f"{f['example']}); replay it: {run_dir / PROGRAM} or ackbound replay {run_dir}"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    from harness.report import RunProgress, print_run_result
    from harness.run import check_new_run_dir, claim_run_dir, run_conformance
    from harness.run._runner import lag_limit_note

    config, target = config_from_args(args, sys.argv[1:])
    if (note := config.dropped_faults_note(target.name)) is not None:
        print(note, file=sys.stderr)
    if (note := lag_limit_note(target, config)) is not None:
        print(note, file=sys.stderr)
    from harness.report._write import HTML, JUNIT, PROGRAM, RESULTS

    run_dir = config.report_dir or default_run_dir(config)
    if config.report_dir is not None:
        check_new_run_dir(run_dir, "--report-dir")
    # Before the run, not after it: a verdict that cannot be written is a run lost.
    own = {(run_dir / name).absolute(): name for name in (RESULTS, JUNIT, PROGRAM, HTML)}
    for flag, out in (("--junit", config.junit), ("--json", config.json)):
        if out is None:
            continue
        clash = own.get(Path(os.path.abspath(out)))
        same = {"--junit": JUNIT, "--json": RESULTS}[flag]  # the same file, the same text
        if clash is not None and clash != same:
            raise AckboundError(
                f"{flag} {out} is the run directory's own {clash}, which the run writes too; "
                "pass a path outside the run directory, or another name"
            )
        check_copy_of_report(flag, out, run_dir)
        if config.report_dir is not None and Path(os.path.abspath(out)).parent == Path(
            os.path.abspath(run_dir)
        ):
            check_output_dir("--report-dir", run_dir)  # the run makes it anyway: make it now
        check_output_file(flag, out)
    if (
        config.json is not None
        and config.junit is not None
        and os.path.abspath(config.json) == os.path.abspath(config.junit)
    ):
        raise AckboundError(
            f"--json and --junit both name {config.json}; the second would overwrite the "
            "first, so give each its own file"
        )
    if config.report_dir is None:
        run_dir = claim_run_dir(run_dir)
    else:
        check_output_dir("--report-dir", run_dir)
    progress = RunProgress(
        modes=list(config.modes), budget_s=config.budget_s, enabled=not args.quiet
    )
    progress.start()
    try:
        result = run_conformance(config, progress=progress, run_dir=run_dir, target=target)
    except KeyboardInterrupt:
        progress.stop()
        if (run_dir / RESULTS).is_file():
            print(f"ackbound: interrupted; partial reports in {run_dir}", file=sys.stderr)
            for line in _found_before(run_dir):
                print(line, file=sys.stderr)
        else:  # a second Ctrl-C stopped the reports themselves
            print(
                f"ackbound: interrupted before the reports were written; the histories "
                f"gathered are in {run_dir}",
                file=sys.stderr,
            )
        return EXIT_INTERRUPTED
    finally:
        progress.stop()
    files = getattr(result, "report_files", None)
    print_run_result(
        result,
        run_dir=run_dir,
        files=None if files is None else files.written,
        errors=None if files is None else files.errors,
    )
    return int(result.exit_code)
