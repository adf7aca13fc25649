"""Entry point of the ``ackbound`` command.

Each subcommand lives in its own module that defines ``register(subparsers)`` and
``run(args) -> int``. Modules are imported only when their subcommand runs, so
``ackbound check`` never pays for importing Hypothesis, Docker or the server.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from harness._errors import EXIT_COULD_NOT_RUN, EXIT_INTERRUPTED, AckboundError

# name -> (module implementing it, one-line help). Order is the order of `ackbound --help`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("harness.cli._run", "run the conformance test against a target (the main job)"),
    "check": ("harness.cli._check", "judge a recorded history against the durability properties"),
    "replay": ("harness.cli._replay", "re-run the failing example of a previous run"),
    "selftest": ("harness.cli._selftest", "prove the harness catches every seeded server bug"),
    "server": ("harness.server._cli", "start the bundled reference RESP server"),
    "spec": ("harness.cli._spec", "model-check the TLA+ spec, validate runs against it"),
    "matrix": ("harness.cli._matrix", "run the conformance matrix and write docs/matrix.md"),
    "images": ("harness.cli._images", "build the docker backend's images locally (docker import)"),
    "targets": ("harness.cli._targets", "list or validate targets and target files"),
    "faults": ("harness.cli._faults", "list the faults and describe one"),
    "docs": ("harness.cli._docs", "check or rewrite the reference tables in docs/ (developers)"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad flags in one line and exits 3 (could not run), and takes
    flags only as spelled out: ``--report`` for ``--report-dir`` would get past a wrapper
    (ci/conformance.sh) that looks for the flags it sets itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_COULD_NOT_RUN, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ackbound",
        description="Prove or refute the write-durability promises of RESP stores.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        module = importlib.import_module(module_name)
        sp = sub.add_parser(name, help=help_text, description=help_text)
        module.register(sp)
        sp.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = args_list[0] if args_list and args_list[0] in SUBCOMMANDS else None
    parser = build_parser(only=command)
    args = parser.parse_args(args_list)
    if getattr(args, "_module", None) is None:
        parser.print_help()
        return 0 if not args_list else EXIT_COULD_NOT_RUN
    # SIGTERM (a CI job's timeout, kill) stops a command as Ctrl-C does: the cluster is torn
    # down and TLC stopped on the way out, instead of being left running.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler) if main_thread else None
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args._module.run(args)
        sys.stdout.flush()  # here, not at exit: a reader gone is then seen below
    except BrokenPipeError as exc:
        if _stdout_closed():
            return _reader_gone()
        return _os_error(exc)  # a socket's or a pipe's of the command's own
    except AckboundError as exc:
        print(f"ackbound: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        return _os_error(exc)
    except KeyboardInterrupt:
        print("ackbound: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exc:
        # rich's own answer to a reader gone: stdout pointed at /dev/null, then exit 1 —
        # which a caller would read as "violated".
        if exc.code == 1 and _stdout_is_devnull():
            return EXIT_BROKEN_PIPE
        raise
    except Exception as exc:  # a bug of ackbound's: its traceback, then one line, and no verdict
        traceback.print_exc()
        print(
            f"ackbound: error: internal error ({type(exc).__name__}: {exc}); this is a bug in "
            "ackbound: please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_COULD_NOT_RUN
    return code


def _os_error(exc: OSError) -> int:
    """A path the operating system refused where no check named it (a name too long, a
    read-only disk): still one line, naming the path and the reason."""
    where = f"{exc.filename}: " if exc.filename is not None else ""
    print(
        f"ackbound: error: {where}{exc.strerror or exc}; check the path and try again",
        file=sys.stderr,
    )
    return EXIT_COULD_NOT_RUN


def _stdout_closed() -> bool:
    """Whether nobody reads stdout any more (a pipe whose reader exited reports an error
    when polled)."""
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _fd, ev in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # no real stdout, or no poll (Windows)
        return False


def _stdout_is_devnull() -> bool:
    try:
        out, null = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError, AttributeError):
        return False
    return (out.st_dev, out.st_ino, out.st_rdev) == (null.st_dev, null.st_ino, null.st_rdev)


# What a command killed by SIGPIPE exits with, as the shell reports it (128 + 13).
EXIT_BROKEN_PIPE = 141


def _reader_gone() -> int:
    """Whoever read stdout went away (``ackbound check h.txt --json - | head -1``): stop
    quietly, as Unix tools do. stdout is pointed at /dev/null so that Python's flush at
    exit does not fail again on what is left in its buffer."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (captured): nothing left to flush
        pass
    return EXIT_BROKEN_PIPE
