"""``ackbound check HISTORY.ndjson``: judge a recorded history."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from harness._errors import (
    EXIT_UNKNOWN,
    EXIT_VALID,
    EXIT_VIOLATED,
    AckboundError,
)

MODES = ("none", "sync", "async")


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a non-negative number of seconds")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return v


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("history", help="path to a history.ndjson (docs/history.md)")
    p.add_argument(
        "--mode",
        help="durability mode the history was recorded in: none, sync or async "
        "(default: the history header's)",
    )
    p.add_argument("--lag-limit", type=_seconds, metavar="S", help="async lag limit L (s)")
    p.add_argument("--tolerance", type=_seconds, metavar="S", help="timing tolerance ε (s)")
    p.add_argument("--sync-replicas", type=_positive_int, metavar="K", help="sync K")
    p.add_argument("--sync-timeout", type=_seconds, metavar="S", help="sync timeout (s)")
    p.add_argument(
        "--recovery", type=_seconds, metavar="S", help="recovery allowance after heal (s)"
    )
    p.add_argument(
        "--json", metavar="OUT", help="also write the result as JSON to OUT ('-' = stdout)"
    )
    p.add_argument("--quiet", action="store_true", help="print only the verdict line")


def params_from(header_mode: str | None, header_params: dict[str, Any], args: Any) -> Any:
    from harness.checker import Params
    from models import Mode

    mode_name = args.mode or header_mode
    if mode_name is None:
        raise AckboundError(
            "the history does not say its durability mode; pass --mode none|sync|async"
        )
    if mode_name not in MODES:
        raise AckboundError(f"unknown mode {mode_name!r}; use --mode none, sync or async")

    def pick(flag: float | int | None, key: str, default: float, scale: float) -> int:
        if flag is not None:
            return round(float(flag) * 1e9)
        if key in header_params:
            v = header_params[key]
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise AckboundError(
                    f"the history header's params.{key} must be a non-negative number; got {v!r}"
                )
            return round(float(v) * scale)
        return round(default * 1e9)

    k = (
        args.sync_replicas
        if args.sync_replicas is not None
        else header_params.get("sync_replicas", 1)
    )
    if not isinstance(k, int) or k < 1:
        raise AckboundError("sync_replicas must be a whole number ≥ 1; pass --sync-replicas K")
    return Params(
        mode=Mode(mode_name),
        sync_replicas=k,
        sync_timeout=pick(args.sync_timeout, "sync_timeout_ms", 1.0, 1e6),
        lag_limit=pick(args.lag_limit, "lag_limit_ms", 10.0, 1e6),
        tolerance=pick(args.tolerance, "tolerance_ms", 0.25, 1e6),
        recovery=pick(args.recovery, "recovery_ms", 10.0, 1e6),
    )


def verdict_exit(valid: object) -> int:
    if valid is True:
        return EXIT_VALID
    if valid is False:
        return EXIT_VIOLATED
    return EXIT_UNKNOWN


def run(args: argparse.Namespace) -> int:
    from harness.checker import check
    from harness.history import load_history
    from harness.report import print_check_result

    if args.mode is not None and args.mode not in MODES:
        raise AckboundError(f"unknown mode {args.mode!r}; use --mode none, sync or async")
    history = load_history(args.history)
    params = params_from(history.header.mode, history.header.params, args)
    result = check(history, params, source=str(args.history))
    if args.json:
        text = json.dumps(result, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            try:
                Path(args.json).write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise AckboundError(
                    f"cannot write {args.json}: {exc.strerror}; pick a writable --json path"
                ) from None
    if args.json != "-":
        print_check_result(result, quiet=args.quiet, source=str(args.history))
    return verdict_exit(result["valid"])
