"""Which leftover containers a docker backend reaps: only those of a harness it can see is
gone. A pid from another PID namespace (a CI job in a container sharing the engine) or
another host means nothing here, and removing that run's containers broke it."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from harness.cluster._docker import LABEL_OWNER, _owner_gone, owner_labels, reap_orphans


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def test_a_live_harness_in_this_namespace_is_not_gone() -> None:
    assert _owner_gone(owner_labels()) is False


def test_a_harness_whose_process_ended_or_was_replaced_is_gone() -> None:
    mine = owner_labels()
    assert _owner_gone({**mine, LABEL_OWNER: str(_dead_pid())}) is True
    # The pid runs, but not the process that labelled it (pids are reused).
    assert _owner_gone({**mine, "ackbound.owner-start": "1"}) is True


def test_a_harness_of_another_pid_namespace_or_host_is_not_ours_to_judge() -> None:
    dead = {**owner_labels(), LABEL_OWNER: str(_dead_pid())}
    assert _owner_gone({**dead, "ackbound.owner-pidns": "pid:[1]"}) is False
    assert _owner_gone({**dead, "ackbound.owner-host": "elsewhere"}) is False


def test_labels_of_an_older_ackbound_are_judged_by_the_pid() -> None:
    assert _owner_gone({LABEL_OWNER: str(_dead_pid())}) is True
    assert _owner_gone({LABEL_OWNER: str(os.getpid())}) is False


class _Thing:
    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.attrs = {"Labels": labels}
        self.removed = False

    def remove(self, force: bool = False) -> None:
        self.removed = True


class _List:
    def __init__(self, things: list[_Thing]) -> None:
        self.things = things

    def list(self, **filters: Any) -> list[_Thing]:
        return self.things


def test_reap_removes_only_the_containers_and_volumes_of_gone_harnesses() -> None:
    gone = {**owner_labels(), LABEL_OWNER: str(_dead_pid())}
    elsewhere = {**gone, "ackbound.owner-pidns": "pid:[1]"}
    containers = [_Thing(gone), _Thing(elsewhere), _Thing(owner_labels())]
    volumes = [_Thing(gone), _Thing(elsewhere)]

    class Client:
        pass

    client: Any = Client()
    client.containers, client.volumes = _List(containers), _List(volumes)
    assert reap_orphans(client) == 1
    assert [c.removed for c in containers] == [True, False, False]
    assert [v.removed for v in volumes] == [True, False]
