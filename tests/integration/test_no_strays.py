"""No stray server processes, whatever ends the harness: Ctrl-C, a failing test, SIGKILL.

Local nodes run with their working directory under the run dir, so a process whose cwd is
under it is a stray.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _deps import need_valkey
from _holder import holding_a_cluster

from ._util import pids_with_cwd_under, poll


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"]
)
def test_no_stray_nodes_when_the_harness_is_interrupted_or_killed(
    tmp_path: Path, sig: signal.Signals
) -> None:
    need_valkey()
    with holding_a_cluster(tmp_path) as proc:
        assert len(pids_with_cwd_under(tmp_path)) == 6  # 3 nodes and their 3 standbys
        proc.send_signal(sig)
        proc.wait(30)
    # Ctrl-C unwinds the with-block; SIGTERM/SIGKILL leave it to PR_SET_PDEATHSIG.
    poll(lambda: not pids_with_cwd_under(tmp_path), "every node to be gone", timeout=10)


_FAILING_TEST = textwrap.dedent(
    """
    import os
    from harness.cluster import start_cluster, history_header
    from harness.history import HistoryWriter
    from harness.targets import load_target

    def test_fails_with_a_cluster_running():
        t = load_target("valkey")
        with start_cluster(t, mode="none", run_dir=os.environ["RUN_DIR"],
                           history=HistoryWriter(None, history_header(t, "none"))) as c:
            c.apply("kill", node="n2")
            assert c.primary == "n2", "this test fails on purpose"

    def test_interrupted_with_a_cluster_running():
        t = load_target("valkey")
        with start_cluster(t, mode="none", run_dir=os.environ["RUN_DIR"] + "-2",
                           history=HistoryWriter(None, history_header(t, "none"))) as c:
            c.apply("pause", node="n3")
            raise KeyboardInterrupt
    """
)


def test_no_stray_nodes_after_a_failing_or_interrupted_test(tmp_path: Path) -> None:
    need_valkey()
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(_FAILING_TEST)
    run_dir = tmp_path / "run"
    env = dict(os.environ, RUN_DIR=str(run_dir))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert "this test fails on purpose" in done.stdout, done.stdout + done.stderr
    assert "KeyboardInterrupt" in done.stdout, done.stdout + done.stderr
    assert done.returncode != 0
    assert (run_dir / "nodes" / "n1" / "log").is_file()
    assert not pids_with_cwd_under(tmp_path)
