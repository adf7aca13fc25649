"""``ackbound replay RUN_DIR``: run a failed run's shrunk example again."""

from __future__ import annotations

import argparse

from harness._errors import EXIT_UNKNOWN, EXIT_VALID, EXIT_VIOLATED, AckboundError
from harness.cli._paths import path_arg


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "run_dir",
        type=path_arg,
        help="the directory of a run (it holds results.json), or a results.json",
    )
    p.add_argument("--mode", default=None, help="replay this mode's failure (default: each)")
    p.add_argument(
        "--times",
        type=int,
        default=1,
        metavar="N",
        help="replay N times and report how often it failed (default 1)",
    )


def run(args: argparse.Namespace) -> int:
    from harness.report import print_check_result
    from harness.run._replay import load_failures, replay_program, replay_steps, results_file

    failures = load_failures(args.run_dir)
    run_dir = results_file(args.run_dir).parent  # a replay's files go beside the results
    if args.mode is not None:
        if args.mode not in failures:
            raise AckboundError(
                f"{args.run_dir}: mode {args.mode!r} has no failing example; "
                f"modes with one: {', '.join(failures) or 'none'}"
            )
        failures = {args.mode: failures[args.mode]}
    if not failures:
        print(f"{args.run_dir}: no mode failed; nothing to replay")
        return EXIT_VALID
    if args.times < 1:
        raise AckboundError("--times must be at least 1")
    from harness.run import bundled_bugs

    bugs = {b["name"] for b in bundled_bugs()}
    for mode, info in failures.items():
        bug = info["target"].get("bug")
        if bug is not None and bug not in bugs:
            raise AckboundError(
                f"{args.run_dir}: the {mode} failure was found with the seeded bug {bug!r}, "
                "which this ackbound does not have; replay it with the version that found it"
            )
    worst = EXIT_VALID
    for mode, info in failures.items():
        f = info["failure"]
        opts = info["options"]
        target = info["target"]
        failed = 0
        unknown = False
        for i in range(args.times):
            state = replay_program(
                target=target.get("file") or target["name"],
                mode=mode,
                bug=target.get("bug"),
                run_dir=str(run_dir),
                **opts,  # only replay_program's (load_failures keeps those)
            )
            result = replay_steps(state, f["steps"])
            print(f"replay {i + 1}/{args.times} of {mode} ({len(f['steps'])} steps):")
            print_check_result(result, source=str(state.record.history))
            if result["valid"] is False:
                failed += 1
            unknown = unknown or result["valid"] is not True
        print(f"{mode}: failed {failed} of {args.times} replays")
        # Not reproduced: valid when every replay judged the program and found it sound (a
        # fix, say), unknown when some replay had no evidence either way.
        code = EXIT_VIOLATED if failed else (EXIT_UNKNOWN if unknown else EXIT_VALID)
        worst = max(worst, code)
    return worst
