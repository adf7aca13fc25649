"""A harness process that holds a valkey cluster up until it is signalled: the tests that
interrupt or kill a harness start one, signal it, and look for what it left behind."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

__all__ = ["holding_a_cluster"]

_SCRIPT = textwrap.dedent(
    """
    import signal, sys, time
    # Ctrl-C as at a terminal: a shell that starts its jobs in the background (as CI may)
    # leaves SIGINT ignored, and Python then raises no KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from harness.cluster import start_cluster, history_header
    from harness.history import HistoryWriter
    from harness.targets import load_target
    t = load_target("valkey")
    on_docker = {"backend": "docker", "image": sys.argv[2]} if len(sys.argv) > 2 else {}
    with start_cluster(t, mode="none", run_dir=sys.argv[1], **on_docker,
                       history=HistoryWriter(None, history_header(t, "none"))) as c:
        print("READY", flush=True)
        time.sleep(120)
    """
)


@contextlib.contextmanager
def holding_a_cluster(run_dir: Path, image: str | None = None) -> Iterator[subprocess.Popen[str]]:
    """Start a holder of a three-node valkey cluster in ``run_dir`` (in containers of
    ``image`` when given) and yield it once the cluster is up; kill it at the end if it
    still runs."""
    argv = [sys.executable, "-c", _SCRIPT, str(run_dir), *([image] if image else [])]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "READY", proc.stderr.read() if proc.stderr else line
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
