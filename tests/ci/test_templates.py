"""The CI templates in ci/, rendered from their YAML and run here against the bundled target.

Each test reads a template (PyYAML), takes the commands and environment of one job as the CI
would (installs skipped: ackbound is installed already), runs them with bash in a fresh
working directory, and checks what the CI relies on: the exit code is ackbound's, and the
run directory and JUnit file are where the template uploads them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from _deps import missing, need_valkey

from harness.cluster._cluster import _free_ports
from harness.faults import FAULTS
from harness.targets import load_target

from . import _fake_docker

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "ci"
BIN = str(Path(sys.executable).parent)
# A short run: one mode, two examples. Everything else is the template's own setting.
SHORT = {"ACKBOUND_BUDGET": "8", "ACKBOUND_MODE": "none", "ACKBOUND_EXAMPLES": "2"}
VERDICT_OF_EXIT = {0: True, 1: False, 2: "unknown"}


@dataclass
class Job:
    """One CI job as the CI would run it: its environment, commands and uploads."""

    env: dict[str, str]
    commands: list[str]
    uploads: list[str]  # paths the CI uploads as artifacts
    junit: list[str]  # paths the CI reads as JUnit
    cache: list[str]  # paths the CI caches between runs
    services: dict[str, Any] = field(default_factory=dict)


_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _github_expr(text: str, env: Mapping[str, str], services: Mapping[str, str]) -> str:
    """Evaluate the few GitHub expressions the templates use in values we need."""

    def value(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("env."):
            return env[expr[4:]]
        service = re.fullmatch(r"job\.services\.([\w-]+)\.id", expr)
        if service:
            return services[service.group(1)]
        return m.group(0)  # github.*: not needed to run the job

    return _EXPR.sub(value, text)


def github_job(name: str, services: Mapping[str, str] | None = None) -> Job:
    doc = yaml.safe_load((CI / "github-actions.yml").read_text())
    job = doc["jobs"][name]
    env: dict[str, str] = {k: str(v) for k, v in doc.get("env", {}).items()}
    for k, v in job.get("env", {}).items():
        env[k] = _github_expr(str(v), env, services or {})
    commands, uploads, junit, cache = [], [], [], []
    for step in job["steps"]:
        uses = step.get("uses", "")
        with_ = {k: _github_expr(str(v), env, {}) for k, v in step.get("with", {}).items()}
        if "run" in step and "pip install" not in step["run"]:
            commands.append(step["run"])
        elif uses.startswith("actions/upload-artifact"):
            uploads += with_["path"].split()
        elif uses.startswith("EnricoMi/publish-unit-test-result-action"):
            junit += with_["files"].split()
        elif uses.startswith("actions/cache"):
            cache += with_["path"].split()
    return Job(env, commands, uploads, junit, cache, job.get("services", {}))


def gitlab_job(name: str) -> Job:
    doc = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    job = doc[name]
    env = {k: str(v) for k, v in {**doc.get("variables", {}), **job.get("variables", {})}.items()}
    commands = [c for c in job["script"] if "pip install" not in c]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always", "the run must be uploaded when it fails too"
    return Job(
        env,
        commands,
        [p.rstrip("/") for p in artifacts["paths"]],
        [artifacts["reports"]["junit"]],
        [p.rstrip("/") for p in job["cache"]["paths"]],
    )


def run_job(job: Job, cwd: Path, **overrides: str) -> list[subprocess.CompletedProcess[str]]:
    """Run the job's commands in ``cwd`` as the CI would; stop at the first that fails."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ACKBOUND") and k not in ("GITHUB_STEP_SUMMARY", "DOCKER_HOST")
    }
    env.update(job.env)
    env.update(overrides)
    env["PATH"] = f"{overrides.get('PATH', '')}:{BIN}:{os.environ['PATH']}".lstrip(":")
    done = []
    for command in job.commands:
        p = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        done.append(p)
        if p.returncode != 0:
            break
    return done


def workspace(tmp_path: Path) -> Path:
    """A fresh working directory holding the repository's ci/, as a user's checkout would."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "ci").symlink_to(CI)
    return work


def assert_a_verdict_run(p: subprocess.CompletedProcess[str], job: Job, work: Path) -> None:
    """Exit code 0/1/2, equal to what ackbound recorded, and every upload in place."""
    out = p.stdout + p.stderr
    assert p.returncode in VERDICT_OF_EXIT, out
    run_dir = work / job.env["ACKBOUND_REPORT_DIR"]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["exit_code"] == p.returncode, out
    assert results["valid"] == VERDICT_OF_EXIT[p.returncode], out
    assert f"conformance.sh: exit {p.returncode} (" in p.stdout
    for path in job.uploads + job.junit:
        assert (work / path).exists(), f"{path} is uploaded by the template but missing\n{out}"
    assert (run_dir / "conformance.log").read_text().strip()
    suites = ET.parse(work / job.env["ACKBOUND_JUNIT"]).getroot()
    assert suites.tag == "testsuites"
    failures = int(suites.get("failures", "0"))
    assert (failures > 0) == (p.returncode == 1), ET.tostring(suites, encoding="unicode")
    # The failure store lives in the run directory's parent: that is what is cached.
    assert job.cache == [str(Path(job.env["ACKBOUND_REPORT_DIR"]).parent / ".ackbound-db")]


def test_the_github_workflow_runs_against_the_bundled_target(tmp_path: Path) -> None:
    job = github_job("conformance")
    assert job.commands == ["bash ci/conformance.sh"]
    assert job.env["ACKBOUND_TARGET"] == "bundled"
    work = workspace(tmp_path)
    (p,) = run_job(job, work, **SHORT)
    assert_a_verdict_run(p, job, work)
    assert job.uploads == [job.env["ACKBOUND_REPORT_DIR"], job.env["ACKBOUND_JUNIT"]]


def test_the_gitlab_job_runs_against_the_bundled_target(tmp_path: Path) -> None:
    job = gitlab_job("ackbound-conformance")
    assert job.commands == ["bash ci/conformance.sh"]
    assert job.env["ACKBOUND_TARGET"] == "bundled"
    # GitLab's artifact paths are literal: they must name the directories the script uses.
    assert job.uploads == [job.env["ACKBOUND_REPORT_DIR"], job.env["ACKBOUND_JUNIT"]]
    assert job.junit == [job.env["ACKBOUND_JUNIT"]]
    work = workspace(tmp_path)
    (p,) = run_job(job, work, **SHORT)
    assert_a_verdict_run(p, job, work)


# -- conformance.sh: exit codes and prerequisites ------------------------------------------------

STUB = """#!{python}
# A stand-in for ackbound: `run` records STUB_RECORD in results.json and exits STUB_EXIT.
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
if args[:1] == ["targets"] or "--help" in args:
    print("{{}}")
    sys.exit(0)
opt = {{args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}}
run_dir = Path(opt["--report-dir"])
run_dir.mkdir(parents=True, exist_ok=True)
if os.environ["STUB_RECORD"]:
    doc = {{"schema": "ackbound-results/1", "exit_code": int(os.environ["STUB_RECORD"])}}
    (run_dir / "results.json").write_text(json.dumps(doc, indent=2))
    Path(opt["--junit"]).write_text('<testsuites name="ackbound" tests="1" failures="0"/>')
print("stub ran:", " ".join(args))
sys.exit(int(os.environ["STUB_EXIT"]))
"""


@pytest.fixture
def stub(tmp_path: Path) -> Path:
    path = tmp_path / "stub-ackbound"
    path.write_text(STUB.format(python=sys.executable))
    path.chmod(0o755)
    return path


def conformance(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    job = Job(env={}, commands=["bash ci/conformance.sh"], uploads=[], junit=[], cache=[])
    (p,) = run_job(job, cwd, **env)
    return p


@pytest.mark.parametrize(
    ("exit_code", "recorded", "expected"),
    [
        (0, "0", 0),
        (1, "1", 1),
        (2, "2", 2),
        (3, "", 3),  # could not run: no results.json, no JUnit
        (1, "", 3),  # a crash (Python exits 1 on a traceback) is not a violation
        (1, "2", 3),  # an exit code that is not the one ackbound recorded
        (130, "2", 3),  # interrupted
        (130, "130", 3),  # interrupted, as results.json now records it
    ],
)
def test_the_exit_code_is_ackbounds_when_it_reached_a_verdict(
    tmp_path: Path, stub: Path, exit_code: int, recorded: str, expected: int
) -> None:
    work = workspace(tmp_path)
    p = conformance(
        work, ACKBOUND=str(stub), STUB_EXIT=str(exit_code), STUB_RECORD=recorded, ACKBOUND_SEED="7"
    )
    assert p.returncode == expected, p.stdout + p.stderr
    assert "--seed 7 " in p.stdout
    assert (work / "ackbound-runs/run/conformance.log").read_text().startswith("stub ran: run ")
    junit = ET.parse(work / "ackbound-runs/junit.xml").getroot()
    errors = junit.findall(".//error")
    assert bool(errors) == (not recorded), "conformance.sh writes JUnit only when ackbound did not"
    if expected == 3 and recorded:
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("conformance.sh: error: ackbound")


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"ACKBOUND_MODE": "sometimes"}, "ackbound: error: "),
        ({"ACKBOUND_BUDGET": "0"}, "ackbound run: error: argument --budget: '0'"),  # its flags
    ],
)
def test_ackbound_refusing_to_run_exits_3_with_its_reason_in_junit(
    tmp_path: Path, env: dict[str, str], said: str
) -> None:
    work = workspace(tmp_path)
    p = conformance(work, **env)
    assert p.returncode == 3, p.stdout + p.stderr
    (error,) = ET.parse(work / "ackbound-runs/junit.xml").getroot().iter("error")
    assert error.get("message", "").startswith(said)
    assert next(iter(env.values())) in error.get("message", "")
    assert (work / "ackbound-runs/run/conformance.log").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ACKBOUND": "/nowhere/ackbound"},
            "the ackbound command '/nowhere/ackbound' is not on PATH; fix: pip install ackbound",
        ),
        ({"ACKBOUND_BUDGET": "1m"}, "ACKBOUND_BUDGET='1m' is not a number of seconds; fix: "),
        ({"ACKBOUND_SEED": "abc"}, "ACKBOUND_SEED='abc' is not an integer; fix: "),
        ({"ACKBOUND_EXAMPLES": "0"}, "ACKBOUND_EXAMPLES='0' is not a positive integer; fix: "),
        ({"ACKBOUND_BACKEND": "k8s"}, "ACKBOUND_BACKEND='k8s' is not a backend; fix: "),
        (
            {"ACKBOUND_TARGET": "mine.toml"},
            "ACKBOUND_TARGET='mine.toml' cannot be used: mine.toml: no such target file; pass ",
        ),
        (
            {"ACKBOUND": "ackbound --bogus"},
            "ACKBOUND='ackbound --bogus' does not run ackbound (unrecognized arguments: --bogus",
        ),
        ({"ACKBOUND_TARGET": "-x"}, "ACKBOUND_TARGET='-x' is not a target; fix: "),
        (
            {"ACKBOUND_EXTRA_ARGS": "--steps 3 --report-dir elsewhere"},
            "ACKBOUND_EXTRA_ARGS sets --report-dir, which this script sets from "
            "ACKBOUND_REPORT_DIR; fix: set ACKBOUND_REPORT_DIR instead",
        ),
        (
            {"ACKBOUND_EXTRA_ARGS": "--help"},
            "ACKBOUND_EXTRA_ARGS holds --help; fix: it takes flags for the run",
        ),
    ],
)
def test_a_missing_prerequisite_is_one_line_with_its_fix(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    work = workspace(tmp_path)
    p = conformance(work, **env)
    assert (p.returncode, p.stdout) == (3, ""), p.stderr
    assert len(p.stderr.splitlines()) == 1, p.stderr
    assert p.stderr.startswith(f"conformance.sh: error: {message}"), p.stderr
    # Even so, the CI finds a run directory and a JUnit file that says why.
    (error,) = ET.parse(work / "ackbound-runs/junit.xml").getroot().iter("error")
    assert error.get("message") == p.stderr.removeprefix("conformance.sh: error: ").strip()
    assert (work / "ackbound-runs/run/conformance.log").read_text() == p.stderr


def test_a_run_directory_that_holds_a_run_is_refused(tmp_path: Path, stub: Path) -> None:
    work = workspace(tmp_path)
    (work / "ackbound-runs/run").mkdir(parents=True)
    (work / "ackbound-runs/run/results.json").write_text("{}")
    p = conformance(work, ACKBOUND=str(stub), STUB_EXIT="0", STUB_RECORD="0")
    assert (p.returncode, p.stdout) == (3, "")
    assert p.stderr == (
        "conformance.sh: error: ACKBOUND_REPORT_DIR='ackbound-runs/run' already holds a run; "
        "fix: remove it, or set ACKBOUND_REPORT_DIR to a new directory\n"
    )
    assert (work / "ackbound-runs/run/results.json").read_text() == "{}"


def test_a_junit_file_left_by_an_earlier_job_is_never_taken_for_this_ones(
    tmp_path: Path, stub: Path
) -> None:
    """A passing JUnit file from before, at the same path: a run that cannot even start, and
    one that crashes before writing its own, both replace it with their error."""
    work = workspace(tmp_path)
    junit = work / "ackbound-runs/junit.xml"
    for env in (
        {"ACKBOUND_BUDGET": "soon"},  # refused before the run
        {"ACKBOUND": str(stub), "STUB_EXIT": "1", "STUB_RECORD": ""},  # a crash in the run
    ):
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text('<testsuites name="ackbound" tests="6" failures="0"/>')
        p = conformance(work, **env)
        assert p.returncode == 3, p.stdout + p.stderr
        (error,) = ET.parse(junit).getroot().iter("error")
        assert error.get("type") == "could-not-run"
        shutil.rmtree(work / "ackbound-runs/run", ignore_errors=True)


# -- the service-container job --------------------------------------------------------------------


def _published(service: Mapping[str, Any]) -> int:
    (mapping,) = service["ports"]
    host, container = str(mapping).split(":")
    assert container == "6379"
    return int(host)


def test_the_service_container_target_file_matches_the_workflow() -> None:
    job = github_job("conformance-valkey-service", {n: f"ctr-{n}" for n in ("n1", "n2", "n3")})
    target = load_target(str(ROOT / job.env["ACKBOUND_TARGET"]))
    assert target.kind == "external" and target.external is not None
    assert {(n.name, n.host, n.port) for n in target.external.nodes} == {
        (name, "127.0.0.1", _published(s)) for name, s in job.services.items()
    }
    for name in job.services:
        assert job.env[f"ACKBOUND_SERVICE_{name}"] == f"ctr-{name}"
    # Every fault the job asks for is one the hooks make possible.
    for fault in job.env["ACKBOUND_FAULTS"].split(","):
        assert FAULTS[fault].missing(target.capabilities()) == frozenset(), fault
    assert job.commands == [
        "bash ci/targets/valkey-service-hooks.sh init",
        "bash ci/conformance.sh",
    ]


@pytest.fixture
def containers(tmp_path: Path) -> Iterator[tuple[Path, dict[str, int]]]:
    """Three fake service containers (valkey-server processes) behind a fake docker CLI."""
    binary = need_valkey()
    ports = dict(zip(("n1", "n2", "n3"), _free_ports(3), strict=True))
    state = tmp_path / "docker.json"
    state.write_text(
        json.dumps(
            {
                "binary": binary,
                "containers": {
                    f"ctr-{n}": {"port": p, "dir": str(tmp_path / "containers" / n)}
                    for n, p in ports.items()
                },
            }
        )
    )
    shim = tmp_path / "bin" / "docker"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} {_fake_docker.__file__} {state} "$@"\n')
    shim.chmod(0o755)
    try:
        for n, port in ports.items():
            subprocess.run([shim, "start", f"ctr-{n}"], check=True, timeout=30)
            assert _fake_docker.wait_listening(port), f"fake container {n} did not listen"
        yield shim.parent, ports
    finally:
        for box in json.loads(state.read_text())["containers"].values():
            with contextlib.suppress(OSError, TypeError):
                os.kill(box.get("pid"), signal.SIGKILL)


def test_the_service_container_job_runs_against_containers(
    tmp_path: Path, containers: tuple[Path, dict[str, int]]
) -> None:
    shim_dir, ports = containers
    job = github_job("conformance-valkey-service", {n: f"ctr-{n}" for n in ports})
    # The user's checkout: ci/ as in the repository, but the target file names the ports the
    # fake containers listen on instead of 7001-7003.
    work = tmp_path / "work"
    (work / "ci" / "targets").mkdir(parents=True)
    (work / "ci" / "conformance.sh").symlink_to(CI / "conformance.sh")
    hooks = "targets/valkey-service-hooks.sh"
    (work / "ci" / hooks).symlink_to(CI / hooks)
    text = (CI / "targets" / "valkey-service.toml").read_text()
    for name, service in job.services.items():
        text = re.sub(rf"\bport = {_published(service)}\b", f"port = {ports[name]}", text)
    (work / job.env["ACKBOUND_TARGET"]).write_text(text)
    addresses = {f"ACKBOUND_SERVICE_ADDR_{n}": f"127.0.0.1 {p}" for n, p in ports.items()}
    done = run_job(
        job,
        work,
        PATH=str(shim_dir),
        ACKBOUND_SERVICE_STATE=str(tmp_path / "primary"),
        **addresses,
        # Each fault is a few docker commands here: one shorter example is enough.
        **{**SHORT, "ACKBOUND_EXAMPLES": "1", "ACKBOUND_EXTRA_ARGS": "--steps 5"},
    )
    init, run = done
    assert init.returncode == 0, init.stderr
    assert_a_verdict_run(run, job, work)
    results = json.loads((work / job.env["ACKBOUND_REPORT_DIR"] / "results.json").read_text())
    assert results["target"]["name"] == "valkey-service"
    fired = results["modes"]["none"]["faults_fired"]
    assert sum(fired.values()) > 0, f"no fault was applied through the hooks: {fired}"


def test_the_scripts_are_executable_bash() -> None:
    for script in ("conformance.sh", "targets/valkey-service-hooks.sh"):
        path = CI / script
        assert os.access(path, os.X_OK), f"{path} is not executable; fix: chmod +x {path}"
        assert path.read_text().startswith("#!/usr/bin/env bash\n")
        p = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    assert shutil.which("bash")


def test_a_missing_server_binary_is_one_line_with_its_fix(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    (work / "nobin.toml").write_text(
        'extends = "valkey"\nname = "nobin"\n[binary]\nfind = ["no-such-server"]\n'
        'install = "apt-get install no-such-server"\n'
    )
    p = conformance(work, ACKBOUND_TARGET="nobin.toml")
    assert (p.returncode, p.stdout) == (3, "")
    assert p.stderr == (
        "conformance.sh: error: ACKBOUND_TARGET='nobin.toml' needs its server binary: target "
        "'nobin': no server binary found (looked for no-such-server); install it: "
        "apt-get install no-such-server\n"
    )


def test_an_unreachable_docker_engine_is_one_line_with_its_fix(tmp_path: Path) -> None:
    if shutil.which("docker") is None:
        missing("the docker CLI", "apt-get install docker.io")
    work = workspace(tmp_path)
    sock = tmp_path / "no-engine.sock"
    p = conformance(work, ACKBOUND_BACKEND="docker", DOCKER_HOST=f"unix://{sock}")
    assert (p.returncode, p.stdout) == (3, "")
    assert p.stderr == (
        "conformance.sh: error: ACKBOUND_BACKEND=docker but the Docker engine does not answer "
        f"(DOCKER_HOST='unix://{sock}'); fix: start the engine or set DOCKER_HOST, or use "
        "ACKBOUND_BACKEND=local\n"
    )
