"""Where a command will write, checked before it starts the (possibly long) work.

A run that explores for minutes and then cannot write its verdict has lost that work; these
checks make a bad path one line at the start instead. They cannot promise the write will
succeed (a disk may fill), only that nothing already rules it out.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from harness._errors import AckboundError

__all__ = ["check_copy_of_report", "check_output_dir", "check_output_file", "path_arg"]


def path_arg(text: str) -> Path:
    """An argparse type: a path, but not an empty one (``Path("")`` would be ``.``)."""
    if not text:
        raise argparse.ArgumentTypeError("is empty; pass a path")
    return Path(text)


def check_output_file(
    flag: str, out: str | os.PathLike[str], *, reads: tuple[Path, ...] = ()
) -> None:
    """Fail unless ``out`` can be written as a file, and is none of the files ``reads`` (the
    command's inputs, which writing it would destroy). The check opens ``out`` for appending
    (and removes it again if it did not exist), so it is the filesystem that answers."""
    if str(out) == "":
        raise AckboundError(f"{flag} is empty; pass a file path")
    target = Path(out)
    if target.is_dir():
        raise AckboundError(
            f"{flag} {out} is a directory; pass the path of a file (one in it, say)"
        )
    for src in reads:
        if target.exists() and src.exists() and os.path.samefile(target, src):
            raise AckboundError(
                f"{flag} {out} is the input {src}; writing it would destroy the input, so pass "
                "another path"
            )
    parent = target.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise AckboundError(f"cannot write {flag} {out}: {parent} {what}; create it first")
    existed = target.exists()
    try:  # non-blocking: a FIFO without a reader fails here instead of hanging
        os.close(os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644))
    except OSError as exc:
        raise AckboundError(
            f"cannot write {flag} {out} ({exc.strerror or exc}); pick a writable path"
        ) from None
    if not existed:
        with contextlib.suppress(OSError):
            target.unlink()


def check_copy_of_report(flag: str, out: str | os.PathLike[str], run_dir: Path) -> None:
    """Fail if writing the copy ``out`` of a report (``--json``, ``--junit``) would lose
    something of a run: ``out`` is the run directory ``run_dir`` (or a directory above it),
    which the run creates, or an existing file in another run's directory (its results.json,
    say: replay would then read this run's). Any other existing file is overwritten, as a
    copy is meant to be (CI writes ackbound-runs/junit.xml on every job)."""
    target = Path(os.path.abspath(out))
    here = Path(os.path.abspath(run_dir))
    if (target == here or target in here.parents) and not target.is_dir():  # a dir: said later
        what = "is the run directory" if target == here else f"holds the run directory {run_dir}"
        raise AckboundError(
            f"{flag} {out} {what}, which the run creates; pass the path of a file outside it"
        )
    if target.parent == here or not os.path.lexists(target) or target.is_dir():
        return
    from harness.run import earlier_run

    # What only a run directory holds: copies of results.json and junit.xml are written
    # anywhere (ackbound-runs/junit.xml by CI, say), and a directory of such copies is no run.
    found = earlier_run(target.parent, ignore=("results.json", "junit.xml"))
    if found is not None:
        raise AckboundError(
            f"{flag} {out} is a file of the run in {Path(out).parent} (it holds {found.name}); "
            "overwriting it would lose that run's, so pass a path outside that directory"
        )


def check_output_dir(flag: str, path: str | os.PathLike[str]) -> None:
    """Fail unless ``path`` is a directory or can be made one (it is made, as the command
    would make it anyway)."""
    if str(path) == "":
        raise AckboundError(f"{flag} is empty; pass a directory")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise AckboundError(f"{flag} {path} is a file, not a directory; pass a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AckboundError(
            f"cannot create {flag} {path} ({exc.strerror or exc}); pick a writable directory"
        ) from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise AckboundError(f"cannot write in {flag} {path}: permission denied; pick another")
