"""A user-written target file (the bundled server under another name, tests/data/targets/
mystore.toml) works end to end: start, every mode, faults, lag observations, reset, close."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _deps import need_bundled

from harness.cluster import history_header, start_cluster
from harness.history import HistoryWriter, load_history
from harness.targets import load_target

from ._util import nemesis_pairs, pids_with_cwd_under, poll, read, write

MYSTORE = Path(__file__).parents[1] / "data" / "targets" / "mystore.toml"


def test_a_user_target_file_runs_end_to_end(tmp_path: Path) -> None:
    need_bundled()
    target = load_target(str(MYSTORE))
    path = tmp_path / "history.ndjson"
    header = history_header(target, "sync", {"sync_replicas": 2, "sync_timeout_ms": 300})
    assert header.target == "mystore" and header.params["tolerance_ms"] == 300
    with (
        HistoryWriter(path, header) as history,
        start_cluster(
            target,
            mode="sync",
            params={"sync_replicas": 2, "sync_timeout_ms": 300},
            run_dir=tmp_path,
            history=history,
        ) as cluster,
    ):
        assert cluster.target.name == "mystore"
        assert write(cluster, "s1")[0] == "ok"
        cluster.apply("partition", node="n3")
        typ, _, error = write(cluster, "s2")
        assert typ == "info" and error is not None and error.startswith("SYNCTIMEOUT")
        cluster.heal()
        cluster.wait_recovered(5)

        cluster.configure("async", {"lag_limit_ms": 123})
        assert cluster.params.lag_limit_ms == 130  # the file's 10 ms granularity
        cluster.apply("partition", node="n2")
        cluster.apply("partition", node="n3")

        def rejected() -> bool:
            outcome = write(cluster, "a")
            return outcome[0] == "fail" and cluster.classify_error(str(outcome[2])) == "rejected"

        poll(rejected, "async writes to be rejected once the lag passes 130 ms", timeout=5)
        lag = cluster.observe_lag()
        assert lag is not None and lag >= 130
        cluster.heal()
        poll(lambda: write(cluster, "a2")[0] == "ok", "writes to resume after heal", timeout=5)

        cluster.apply("kill", node="n1")
        promote = cluster.apply("failover")[0]
        assert promote["promote"] in ("n2", "n3")
        cluster.heal()
        cluster.wait_recovered(5)
        assert "s1" in read(cluster, "n1")
        cluster.reset(mode="none")
        assert cluster.primary == "n1" and read(cluster, "n2") == []
    assert not pids_with_cwd_under(tmp_path)
    history_ops = load_history(path)
    assert history_ops.header.target == "mystore"
    assert [op.f for op in history_ops.ops if op.process == "observer" and op.type == "ok"] == [
        "lag"
    ]
    assert [f for f, typ, _, _ in nemesis_pairs(path)] == [
        "partition",
        "heal",
        "recover",
        "partition",
        "partition",
        "heal",
        "kill",
        "failover",
        "heal",
        "recover",
    ]


def test_the_user_target_file_validates_from_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "targets", "check", str(MYSTORE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"ok: {MYSTORE} (target 'mystore'; modes none, sync, async)\n"


def test_bundled_bugs_are_passed_to_every_node(tmp_path: Path) -> None:
    need_bundled()
    target = load_target("bundled")
    with start_cluster(
        target,
        mode="sync",
        bug="sync-ack-before-replication",
        run_dir=tmp_path,
        history=HistoryWriter(None, history_header(target, "sync")),
    ) as cluster:
        assert len(cluster.nodes) == 3
    for node in ("n1", "n2", "n3"):
        log = (tmp_path / "nodes" / node / "log").read_text()
        assert "--bug sync-ack-before-replication" in log.splitlines()[0]


def test_without_mode_a_run_takes_every_mode_the_target_has(tmp_path: Path) -> None:
    """The default is the target's own modes: a target of mode none only used to be refused
    ('does not support mode(s) sync, async') though no mode was asked for."""
    import json
    import re

    need_bundled()
    text = MYSTORE.read_text(encoding="utf-8")
    text = re.sub(r"\[modes\.(sync|async)\]\n(?:(?!\n\[).)*", "", text, flags=re.DOTALL)
    assert "[modes.none]" in text and "[modes.sync]" not in text and "[modes.async]" not in text
    target = tmp_path / "noneonly.toml"
    target.write_text(text, encoding="utf-8")
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            "--target",
            str(target),
            "--budget",
            "3",
            "--examples",
            "1",
            "--no-canon",
            "--faults",
            "none",
            "--quiet",
            "--report-dir",
            str(run_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 2), done.stdout + done.stderr
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert list(results["modes"]) == ["none"]
