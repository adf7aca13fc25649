"""``ackbound check HISTORY.ndjson``: judge a recorded history.

A path ending in ``.txt`` is read as the text language of ``harness.history.parse_text``,
so a history written by hand (a bug report, a corpus case) can be checked directly.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness._errors import (
    EXIT_UNKNOWN,
    EXIT_VALID,
    EXIT_VIOLATED,
    AckboundError,
)
from harness.cli._paths import check_output_file

MODES = ("none", "sync", "async")
MAX_SECONDS = 1e9  # about 31 years: any larger time would not fit the checker's nanoseconds


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a non-negative number of seconds")
    if v > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} is too large; pass at most {MAX_SECONDS:.0f} s")
    return v


def whole_count(noun: str | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number of at least 1; its errors count ``noun``, if given."""
    of, one = (f" of {noun}s", f" {noun}") if noun else ("", "")

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{of}") from None
        if v < 1:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least 1{one}")
        return v

    return parse


_positive_int = whole_count()


def int_in(low: int, high: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in ``[low, high]``, ``low`` ≥ 1 (``what`` says why
    the upper bound)."""

    def parse(text: str) -> int:
        v = _positive_int(text)
        if v < low:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {low}")
        if v > high:
            why = f" ({what})" if what else ""
            raise argparse.ArgumentTypeError(f"{text!r} must be at most {high}{why}")
        return v

    return parse


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "history",
        help="path to a history.ndjson (docs/history.md; gzipped too, e.g. "
        "history.ndjson.gz), '-' to read one from standard input, or a .txt history in the "
        "text language (harness.history.parse_text)",
    )
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
            "the history does not say its durability mode (its header has no 'mode'); "
            "pass --mode none, sync or async"
        )
    if mode_name not in MODES:
        if args.mode:
            raise AckboundError(f"unknown mode {mode_name!r}; use --mode none, sync or async")
        raise AckboundError(
            f"the history header's mode {mode_name!r} is unknown; fix the header or pass "
            "--mode none, sync or async"
        )

    def pick(flag: float | int | None, key: str, option: str, default: float) -> int:
        if flag is not None:
            return round(float(flag) * 1e9)
        if key in header_params:
            v = header_params[key]
            if (
                not isinstance(v, int | float)
                or isinstance(v, bool)
                or not 0 <= v <= MAX_SECONDS * 1000
            ):
                raise AckboundError(
                    f"the history header's params.{key} must be a non-negative number of ms; "
                    f"got {v!r}; fix the header or pass {option} S"
                )
            return round(float(v) * 1e6)
        return round(default * 1e9)

    k = (
        args.sync_replicas
        if args.sync_replicas is not None
        else header_params.get("sync_replicas", 1)
    )
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise AckboundError(
            f"the history header's params.sync_replicas must be a whole number ≥ 1; got {k!r}; "
            "fix the header or pass --sync-replicas K"
        )
    return Params(
        mode=Mode(mode_name),
        sync_replicas=k,
        sync_timeout=pick(args.sync_timeout, "sync_timeout_ms", "--sync-timeout", 1.0),
        lag_limit=pick(args.lag_limit, "lag_limit_ms", "--lag-limit", 10.0),
        tolerance=pick(args.tolerance, "tolerance_ms", "--tolerance", 0.25),
        recovery=pick(args.recovery, "recovery_ms", "--recovery", 10.0),
    )


def verdict_exit(valid: object) -> int:
    if valid is True:
        return EXIT_VALID
    if valid is False:
        return EXIT_VIOLATED
    return EXIT_UNKNOWN


def _load(path: str, source: str = "<stdin>") -> Any:
    """The history at ``path`` (``-``: standard input, named ``source`` in messages)."""
    from harness.history import HistoryError, load_history, parse_text, read_history

    if path == "-":
        if sys.stdin is None or sys.stdin.isatty():
            what = "closed" if sys.stdin is None else "a terminal"
            raise HistoryError(
                f"- reads the history from standard input, which is {what} here; pipe "
                "a history in (ackbound check - < history.ndjson) or pass its path"
            )
        return read_history(sys.stdin.buffer, source=source)
    if not path.lower().endswith(".txt"):  # (.TXT too: a text history whatever the case)
        return load_history(path)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HistoryError(f"{p}: no such file; pass the path of a history") from None
    except IsADirectoryError:
        raise HistoryError(f"{p}: is a directory; pass a history file") from None
    except UnicodeDecodeError as exc:
        raise HistoryError(f"{p}: not UTF-8 text ({exc.reason}); is this a history?") from None
    except PermissionError:
        raise HistoryError(f"{p}: permission denied; make the file readable") from None
    return parse_text(text, source=str(p))


def run(args: argparse.Namespace) -> int:
    from harness.checker import check
    from harness.report import print_check_result

    if args.mode is not None and args.mode not in MODES:
        raise AckboundError(f"unknown mode {args.mode!r}; use --mode none, sync or async")
    if not args.history:
        raise AckboundError("the history path is empty; pass the path of a history.ndjson")
    if args.json == "":
        raise AckboundError("--json is empty; pass a file path, or - for standard output")
    from_stdin = args.history == "-"
    source = "<stdin>" if from_stdin else str(args.history)
    if args.json and args.json != "-":
        check_output_file("--json", args.json, reads=() if from_stdin else (Path(args.history),))
    history = _load(args.history, source)
    params = params_from(history.header.mode, history.header.params, args)
    recorded = history.header.mode
    if args.mode is not None and recorded is not None and args.mode != recorded:
        print(  # the verdicts below answer another question than the recorded run asked
            f"ackbound: note: judging as mode {args.mode}; the history was recorded in mode "
            f"{recorded} (its header's); drop --mode to judge it as recorded",
            file=sys.stderr,
        )
    result = check(history, params, source=source)
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
        print_check_result(result, quiet=args.quiet, source=source)
    return verdict_exit(result["valid"])
