"""``ackbound check`` end to end, as a user runs it: exit codes, output, one-line errors.

Exit codes: 0 valid, 1 a property violated, 2 unknown, 3 could not run. Every "could not
run" prints exactly one line on stderr naming the problem and the fix, and no traceback.
"""

from __future__ import annotations

import gzip
import json
import os
import pty
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "data" / "histories"
VALID = CORPUS / "valid--sync-failover-with-recorded-candidates.ndjson"
VIOLATED = CORPUS / "writes-resume-after-heal--async-no-write-accepted-after-heal.ndjson"
HEADER_ONLY = CORPUS / "unknown--empty-history-with-header.ndjson"
JUST_OVER = CORPUS / "loss-window-bounded--loss-window-just-over-the-bound.txt"
SYNC_HEADER = {
    "format": "ackbound-history",
    "version": 1,
    "mode": "sync",
    "topology": {"nodes": [{"name": "n1", "az": "a"}, {"name": "n2", "az": "b"}]},
}
WRITE = {
    "index": 0,
    "time": 0,
    "process": 0,
    "type": "invoke",
    "f": "write",
    "workload": "list",
    "key": "l",
    "value": "w1",
}


def ackbound(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "check", *map(str, args)],
        capture_output=True,
        input=stdin,
        timeout=120,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def ndjson(path: Path, *objs: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def could_not_run(done: subprocess.CompletedProcess[str]) -> str:
    """Assert exit 3 with one stderr line and nothing on stdout; return the line."""
    assert done.returncode == 3, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# -- verdicts and exit codes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "extra", "code", "verdict"),
    [
        (VALID, [], 0, "valid"),
        (VIOLATED, [], 1, "violated"),
        (HEADER_ONLY, [], 2, "unknown"),
        (CORPUS / "unknown--empty-history.txt", [], 2, "unknown"),
        (CORPUS / "no-holes--replica-skips-an-entry-during-partial-resync.txt", [], 1, "violated"),
    ],
)
def test_exit_code_is_the_verdict(path: Path, extra: list[str], code: int, verdict: str) -> None:
    done = ackbound(path, "--quiet", *extra)
    assert (done.returncode, done.stdout, done.stderr) == (code, f"verdict: {verdict}\n", "")


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_a_history_on_standard_input_is_judged_as_the_file(packed: bool) -> None:
    data = VIOLATED.read_bytes()
    by_path = ackbound(VIOLATED, "--json", "-")
    by_stdin = ackbound("-", "--json", "-", stdin=gzip.compress(data) if packed else data)
    assert by_stdin.returncode == by_path.returncode == 1
    assert by_stdin.stderr == ""
    got, want = json.loads(by_stdin.stdout), json.loads(by_path.stdout)
    assert got["properties"] == want["properties"] and got["stats"] == want["stats"]
    table = ackbound("-", stdin=data)
    assert table.returncode == 1 and "writes-resume-after-heal" in table.stdout


def test_a_gzipped_history_file_is_judged_as_the_plain_one(tmp_path: Path) -> None:
    packed = tmp_path / "history.ndjson.gz"
    packed.write_bytes(gzip.compress(VALID.read_bytes()))
    done = ackbound(packed, "--quiet")
    assert (done.returncode, done.stdout, done.stderr) == (0, "verdict: valid\n", "")


def test_standard_input_that_is_a_terminal_is_refused_not_waited_on() -> None:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "harness", "check", "-", "--mode", "none"],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert could_not_run(done) == (
        "ackbound: error: - reads the history from standard input, which is a terminal "
        "here; pipe a history in (ackbound check - < history.ndjson) or pass its path"
    )


def test_standard_input_that_is_closed_is_named() -> None:
    done = subprocess.run(  # as a shell's <&- leaves it: no file descriptor 0 at all
        ["bash", "-c", f"{shlex.quote(sys.executable)} -m harness check - --mode none <&-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert could_not_run(done) == (
        "ackbound: error: - reads the history from standard input, which is closed "
        "here; pipe a history in (ackbound check - < history.ndjson) or pass its path"
    )


def test_a_truncated_gzip_on_standard_input_is_named() -> None:
    packed = gzip.compress(VALID.read_bytes())
    assert could_not_run(ackbound("-", stdin=packed[: len(packed) // 2])) == (
        "ackbound: error: <stdin>: is truncated (the compressed stream ends early); "
        "compress the history again, or pass it uncompressed"
    )


def test_an_empty_file_with_a_mode_is_unknown(tmp_path: Path) -> None:
    empty = tmp_path / "history.ndjson"
    empty.write_bytes(b"")
    done = ackbound(empty, "--mode", "sync", "--quiet")
    assert (done.returncode, done.stdout, done.stderr) == (2, "verdict: unknown\n", "")


def test_the_table_names_every_property_and_the_witnesses(tmp_path: Path) -> None:
    done = ackbound(
        CORPUS / "acked-writes-survive--sync-ack-then-failover-to-replica-that-lacks-it.txt"
    )
    assert done.returncode == 1 and done.stderr == ""
    out = done.stdout
    for name in (
        "acked-writes-survive",
        "no-holes",
        "no-phantom-writes",
        "rejected-writes-not-applied",
        "no-loss-without-failure",
        "writes-resume-after-heal",
    ):
        assert name in out
    assert (
        "  - write 'w2' to 'l' (ops 2→3) was acknowledged at 0.005 s, which in sync mode puts "
        "it on nodes that survived every failure, yet it is missing from the final reads\n"
    ) in out
    assert "writes: 2 attempted, 2 acknowledged, 0 rejected, 0 indeterminate, 1 lost" in out
    assert out.endswith("verdict: violated\n")


# -- --json -------------------------------------------------------------------------------

PROPERTY_KEYS = {"valid", "summary", "witnesses", "witness_count", "evidence", "explanation"}


def assert_result_schema(result: dict[str, Any], mode: str) -> None:
    """The documented shape of an ``ackbound-check/1`` result (harness/checker/_check.py)."""
    assert set(result) == {"schema", "valid", "mode", "params", "properties", "stats"}
    assert result["schema"] == "ackbound-check/1"
    assert result["mode"] == mode
    assert result["valid"] in (True, False, "unknown")
    assert set(result["params"]) == {
        "sync_replicas",
        "sync_timeout_s",
        "lag_limit_s",
        "tolerance_s",
        "recovery_s",
    }
    for prop in result["properties"].values():
        assert PROPERTY_KEYS <= set(prop) <= PROPERTY_KEYS | {"error", "notes"}
        assert prop["valid"] in (True, False, "unknown")
        assert prop["witness_count"] >= len(prop["witnesses"])
        assert all(isinstance(w["kind"], str) for w in prop["witnesses"])
    for key in (
        "attempted",
        "acknowledged",
        "rejected",
        "indeterminate",
        "lost",
        "loss_window_s",
        "max_lag_ms",
        "write_latency_ms",
    ):
        assert key in result["stats"]


def test_json_to_stdout_is_the_result_and_nothing_else() -> None:
    done = ackbound(VIOLATED, "--json", "-")
    assert done.returncode == 1 and done.stderr == ""
    result = json.loads(done.stdout)
    assert_result_schema(result, "async")
    assert result["valid"] is False
    assert result["params"] == {
        "sync_replicas": 1,
        "sync_timeout_s": 0.5,
        "lag_limit_s": 1.0,
        "tolerance_s": 0.1,
        "recovery_s": 2.0,
    }
    resume = result["properties"]["writes-resume-after-heal"]
    assert resume["valid"] is False
    assert [(w["kind"], w["heal_ops"], w["first_ok"]) for w in resume["witnesses"]] == [
        ("writes-not-resumed", [8], None)
    ]


def test_json_to_a_file_keeps_the_table(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = ackbound(VALID, "--json", out)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.endswith("verdict: valid\n")
    result = json.loads(out.read_text(encoding="utf-8"))
    assert_result_schema(result, "sync")
    assert {n: p["valid"] for n, p in result["properties"].items()} == {
        "acked-writes-survive": True,
        "no-holes": True,
        "no-phantom-writes": True,
        "rejected-writes-not-applied": True,
        "no-loss-without-failure": True,
        "writes-resume-after-heal": True,
    }


# -- flags override the header ----------------------------------------------------------------


def verdicts(*args: str | Path) -> dict[str, Any]:
    done = ackbound(*args, "--json", "-")
    assert done.stderr == "" or done.stderr.startswith("ackbound: note: judging as mode")
    return {n: p["valid"] for n, p in json.loads(done.stdout)["properties"].items()}


def test_lag_limit_and_tolerance_flags_move_the_bound() -> None:
    # The lost writes span 1.101 s; the header's bound is L + ε = 1 + 0.1 s.
    assert verdicts(JUST_OVER)["loss-window-bounded"] is False
    assert verdicts(JUST_OVER, "--lag-limit", "1.001")["loss-window-bounded"] is True
    assert verdicts(JUST_OVER, "--tolerance", "0.101")["loss-window-bounded"] is True
    assert verdicts(JUST_OVER, "--tolerance", "0.1009")["loss-window-bounded"] is False


def test_mode_flag_overrides_the_header() -> None:
    assert list(verdicts(VALID, "--mode", "none")) == [
        "no-holes",
        "no-phantom-writes",
        "rejected-writes-not-applied",
        "no-loss-without-failure",
        "writes-resume-after-heal",
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sync_or_async_without_a_topology_is_refused_not_judged(tmp_path: Path, mode: str) -> None:
    """Without the nodes and their AZs no acknowledgement could be protected: every one
    would be judged lost."""
    h = tmp_path / "h.txt"
    h.write_text(f"mode {mode}\n0..2 p0 append l w1\n3 p0 lrange l -> ok [w1] final\n")
    assert could_not_run(ackbound(h)) == (
        f"ackbound: error: {h}: the header has no topology, which mode {mode} needs to know "
        "which replicas could acknowledge; add it (docs/history.md; in a .txt history: nodes "
        "n1@a n2@b n3@c)"
    )
    assert ackbound(h, "--mode", "none", "--quiet").stdout == "verdict: unknown\n"


def test_a_text_history_is_read_as_text_whatever_the_case_of_its_suffix(tmp_path: Path) -> None:
    upper = tmp_path / "H.TXT"
    upper.write_text(JUST_OVER.read_text(encoding="utf-8"), encoding="utf-8")
    assert verdicts(upper) == verdicts(JUST_OVER)


def test_a_mode_flag_that_differs_from_the_recorded_one_says_so() -> None:
    done = ackbound(VALID, "--mode", "async", "--quiet")
    assert done.stderr == (
        "ackbound: note: judging as mode async; the history was recorded in mode sync (its "
        "header's); drop --mode to judge it as recorded\n"
    )
    assert done.stdout == "verdict: unknown\n"
    assert ackbound(VALID, "--mode", "sync", "--quiet").stderr == ""


def test_sync_replicas_flag() -> None:
    # Two acks were possible (n2, n3) for each write; with K=3 every ack is unprotected.
    assert verdicts(VALID)["acked-writes-survive"] is True
    assert verdicts(VALID, "--sync-replicas", "3")["acked-writes-survive"] is False


# -- could not run: exit 3, one line, the fix --------------------------------------------------


def test_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "h.ndjson"
    bad.write_text(json.dumps(SYNC_HEADER) + "\n" + json.dumps(WRITE) + "\nnot json\n")
    assert could_not_run(ackbound(bad)) == (
        f"ackbound: error: {bad}:3: not valid JSON (invalid literal, expected 'null' at "
        "column 1); fix or remove the line"
        if _orjson()
        else f"ackbound: error: {bad}:3: not valid JSON (Expecting value at column 1); "
        "fix or remove the line"
    )


def test_truncated_file(tmp_path: Path) -> None:
    text = VIOLATED.read_text(encoding="utf-8")
    cut = tmp_path / "h.ndjson"
    cut.write_text(text[: text.index('"type":"fail"') + 5], encoding="utf-8")
    line = could_not_run(ackbound(cut))
    assert line.startswith(f"ackbound: error: {cut}:9: not valid JSON (")  # op 7, after the header
    assert line.endswith("); the file is truncated")


def test_unknown_field(tmp_path: Path) -> None:
    path = ndjson(tmp_path / "h.ndjson", SYNC_HEADER, {**WRITE, "colour": "red"})
    assert could_not_run(ackbound(path)) == (
        f"ackbound: error: {path}:2: unknown field 'colour'; an op's fields are index, time, "
        "process, type, f, workload, key, value, error, node, final (docs/history.md)"
    )


def test_newer_format_version(tmp_path: Path) -> None:
    path = ndjson(tmp_path / "h.ndjson", {**SYNC_HEADER, "version": 2})
    assert could_not_run(ackbound(path)) == (
        f"ackbound: error: {path}:1: history format version 2 is newer than this ackbound "
        "reads (1); upgrade ackbound"
    )


def test_pairing_error(tmp_path: Path) -> None:
    path = ndjson(tmp_path / "h.ndjson", SYNC_HEADER, {**WRITE, "type": "ok"})
    assert could_not_run(ackbound(path)) == (
        f"ackbound: error: {path}: op 0: ok completion by process 0 has no invocation before "
        "it; add the invoke line"
    )


def test_unknown_mode_flag() -> None:
    assert could_not_run(ackbound(VALID, "--mode", "fast")) == (
        "ackbound: error: unknown mode 'fast'; use --mode none, sync or async"
    )


def test_unknown_mode_in_the_header(tmp_path: Path) -> None:
    path = ndjson(tmp_path / "h.ndjson", {**SYNC_HEADER, "mode": "fast"})
    assert could_not_run(ackbound(path)) == (
        "ackbound: error: the history header's mode 'fast' is unknown; fix the header or pass "
        "--mode none, sync or async"
    )


def test_empty_file_without_a_mode(tmp_path: Path) -> None:
    empty = tmp_path / "h.ndjson"
    empty.write_bytes(b"")
    assert could_not_run(ackbound(empty)) == (
        "ackbound: error: the history does not say its durability mode (its header has no "
        "'mode'); pass --mode none, sync or async"
    )


def test_bad_header_param(tmp_path: Path) -> None:
    path = ndjson(tmp_path / "h.ndjson", {**SYNC_HEADER, "params": {"lag_limit_ms": "x"}})
    assert could_not_run(ackbound(path)) == (
        "ackbound: error: the history header's params.lag_limit_ms must be a non-negative "
        "number of ms; got 'x'; fix the header or pass --lag-limit S"
    )


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ndjson"
    assert could_not_run(ackbound(missing)) == (
        f"ackbound: error: {missing}: no such file; pass the path of a history.ndjson"
    )


def test_directory(tmp_path: Path) -> None:
    assert could_not_run(ackbound(tmp_path)) == (
        f"ackbound: error: {tmp_path}: is a directory; pass its history.ndjson "
        f"(e.g. {tmp_path / 'history.ndjson'})"
    )


def test_bad_text_language_history(tmp_path: Path) -> None:
    path = tmp_path / "h.txt"
    path.write_text("mode sync\n5 p0 push l w1\n", encoding="utf-8")
    assert could_not_run(ackbound(path)) == (
        f"ackbound: error: {path}:2: unknown action 'push'; clients write with set, append, "
        "add, incr and read with get, lrange, smembers, count"
    )


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (
            ["--lag-limit", "abc"],
            "ackbound check: error: argument --lag-limit: 'abc' is not a number of seconds "
            "(see 'ackbound check --help')",
        ),
        (
            ["--tolerance", "-1"],
            "ackbound check: error: argument --tolerance: '-1' must be a non-negative number of "
            "seconds (see 'ackbound check --help')",
        ),
        (
            ["--recovery", "nan"],
            "ackbound check: error: argument --recovery: 'nan' must be a non-negative number of "
            "seconds (see 'ackbound check --help')",
        ),
        (
            ["--sync-timeout", "1e300"],
            "ackbound check: error: argument --sync-timeout: '1e300' is too large; pass at most "
            "1000000000 s (see 'ackbound check --help')",
        ),
        (
            ["--sync-replicas", "0"],
            "ackbound check: error: argument --sync-replicas: '0' must be at least 1 "
            "(see 'ackbound check --help')",
        ),
        (
            ["--sync-replicas", "two"],
            "ackbound check: error: argument --sync-replicas: 'two' is not a whole number "
            "(see 'ackbound check --help')",
        ),
    ],
)
def test_bad_flag_values(flags: list[str], line: str) -> None:
    assert could_not_run(ackbound(VALID, *flags)) == line


def test_unknown_flag() -> None:
    assert could_not_run(ackbound(VALID, "--frobnicate")) == (
        "ackbound: error: unrecognized arguments: --frobnicate (see 'ackbound --help')"
    )


def test_missing_history_argument() -> None:
    assert could_not_run(ackbound()) == (
        "ackbound check: error: the following arguments are required: history "
        "(see 'ackbound check --help')"
    )


def test_json_path_that_cannot_be_written_is_reported_before_checking(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "dir" / "result.json"
    assert could_not_run(ackbound(VALID, "--json", out)) == (
        f"ackbound: error: cannot write --json {out}: {out.parent} does not exist; create it first"
    )
    assert could_not_run(ackbound(VALID, "--json", tmp_path)) == (
        f"ackbound: error: --json {tmp_path} is a directory; pass the path of a file (one in "
        "it, say)"
    )
    history = tmp_path / "valid.ndjson"
    history.write_bytes(Path(VALID).read_bytes())
    assert could_not_run(ackbound(history, "--json", history)) == (
        f"ackbound: error: --json {history} is the input {history}; writing it would destroy "
        "the input, so pass another path"
    )
    assert history.read_bytes() == Path(VALID).read_bytes()
    assert could_not_run(ackbound(VALID, "--json", "")) == (
        "ackbound: error: --json is empty; pass a file path, or - for standard output"
    )


def _orjson() -> bool:
    try:
        import orjson  # noqa: F401
    except ImportError:
        return False
    return True


def test_a_runs_results_json_is_named_for_what_it_is(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"schema": "ackbound-results/1", "modes": {}}, indent=2))
    assert could_not_run(ackbound(results)) == (
        f"ackbound: error: {results}: this is a run's results.json, not a history; pass a "
        "history.ndjson from the run directory (its failure.history names the failing example's)"
    )


def test_an_empty_history_path_is_named() -> None:
    assert could_not_run(ackbound("")) == (
        "ackbound: error: the history path is empty; pass the path of a history.ndjson"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["check", str(VALID), "--json", "-"],
        ["check", str(VALID)],  # the verdict table, printed by rich (exit 1, "violated")
        ["targets", "list"],
        ["targets", "show", "bundled", "--json"],
        ["faults", "list", "--json"],
    ],
)
def test_a_reader_that_went_away_ends_the_command_quietly(args: list[str]) -> None:
    """``ackbound check h --json - | head -1`` said 'Broken pipe; check the path', exit 3."""
    import os

    read, write = os.pipe()
    os.close(read)  # the reader is gone before a byte is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "harness", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")
