"""The optimised checker and loader against their slow reference (``_checker_reference``).

The checker is tuned for million-op histories (docs/perf-checker.md): columnar passes,
memoised presence, cached intermediate results. None of that may change a verdict, a
witness, a count or a line of text. So every result here is compared as a whole — the
entire result dict, serialised, key order included — with the result of the plain
pre-optimisation code on the same input:

- messy histories from a Hypothesis strategy: overlapping clients on every workload,
  phantom, duplicated and premature read values, reads of rejected writes, counters with
  and without distinct powers of two, writes sent to a named node or to "the primary",
  operations that never complete, faults of every effect kind (completed, failed or
  indeterminate), lag observations, final reads on several nodes that disagree, with or
  without a topology — judged in every mode with a range of parameters;
- realistic histories from the benchmark's generator (bench/checker_bench.py) at small
  sizes and several seeds, judged with their own parameters and with tighter ones that turn
  most properties into violations;
- the hand-written corpus (tests/data/histories/);
- ndjson lines, valid and damaged, for the loader: the same ops or the same one-line error.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any

import _checker_reference as ref
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness.checker._properties as _properties
from harness.checker import Params, check
from harness.history import (
    Header,
    History,
    HistoryError,
    Op,
    dump_history,
    load_history,
    parse_lines,
    parse_text,
)
from harness.report._plot import params_from_json
from models import Mode

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "histories"
MS = 1_000_000
NODES = ("n1", "n2", "n3")
AZS = {"n1": "a", "n2": "b", "n3": "c"}
# m0 and m1 are written by two workloads each: a key shared across workloads is judged
# per (key, workload).
KEYS = {
    "register": ("r0", "r1", "m0"),
    "list": ("l0", "l1", "m0"),
    "set": ("s0", "m1"),
    "counter": ("c0", "c1", "m1"),
}


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "checker_bench", ROOT / "bench" / "checker_bench.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("checker_bench", mod)
    spec.loader.exec_module(mod)
    return mod


def _canon(x: Any) -> str:
    return json.dumps(x, default=repr, ensure_ascii=False)


def outcome(fn: Any, *args: Any) -> str:
    """A function's result or the one-line error it raised, as comparable text."""
    try:
        return _canon(fn(*args))
    except HistoryError as exc:
        return f"HistoryError: {exc}"


def _judged(checker: Any, history: History, params: Params) -> dict[str, Any]:
    result: dict[str, Any] = checker(history, params, "h")
    for prop in result["properties"].values():
        # A crashed property carries its traceback, which names the implementation's lines.
        if "error" in prop:
            prop["notes"] = [n.splitlines()[-1] for n in prop.get("notes", [])]
    return result


def assert_same(history: History, params: Params) -> None:
    new = outcome(_judged, check, history, params)
    old = outcome(_judged, ref.check, history, params)
    assert new == old


# -- messy histories ----------------------------------------------------------------------


EFFECTS: list[Any] = [
    *({"down": n} for n in NODES),
    *({"up": n} for n in NODES),
    *({"lose-data": n} for n in NODES),
    *({"synced": n} for n in NODES),
    *(
        {k: [a, b]}
        for k in ("cut", "heal-link", "slow", "fast")
        for a in NODES
        for b in NODES
        if a != b
    ),
    {"cut": ["client", "n1"]},
    {"heal-link": ["client", "n1"]},
    *({"promote": n, "by": "offset", "candidates": {m: 5 for m in NODES if m != n}} for n in NODES),
    *({"promote": n, "by": "named"} for n in NODES),
    {"promote": "n2"},
    {"promote": "n3", "candidates": ["n3"]},
    *({"replicate": a, "from": b} for a in NODES for b in NODES if a != b),
]
# Whole faults as a harness records them (the primary is n1 until a failover).
BUNDLES: list[list[Any]] = [
    [{"cut": ["n1", r]} for r in ("n2", "n3")] + [{"cut": [r, "n1"]} for r in ("n2", "n3")],
    [{"heal-link": ["n1", r]} for r in ("n2", "n3")]
    + [{"heal-link": [r, "n1"]} for r in ("n2", "n3")],
    [{"cut": ["n1", "n2"]}, {"cut": ["n2", "n1"]}],
    [{"down": "n1"}],
    [
        {"promote": "n2", "candidates": {"n2": 9, "n3": 4}, "by": "offset"},
        {"replicate": "n3", "from": "n2"},
    ],
    [{"lose-data": "n1"}, {"up": "n1"}, {"replicate": "n1", "from": "n2"}],
    [{"synced": "n2"}, {"synced": "n3"}],
    [{"down": "n2"}, {"down": "n3"}],
    [{"up": "n2"}, {"up": "n3"}],
]
DAMAGE = (
    "truncate",
    "drop-field",
    "bad-type",
    "unknown-field",
    "swap-index",
    "repeat-index",
    "time-back",
    "blank",
    "not-object",
)
FAULTS = ("kill", "failover", "partition", "heal", "recover", "pause", "restart", "az-outage")


def _bounds(p: Params) -> list[int]:
    """The spans the checker compares times against: the resume allowance, the loss bound."""
    if p.mode is Mode.ASYNC:
        resume = p.lag_limit + p.tolerance + p.recovery
    elif p.mode is Mode.SYNC:
        resume = p.sync_timeout + p.tolerance + p.recovery
    else:
        resume = p.tolerance + p.recovery
    return [resume, p.lag_limit + p.tolerance]


def _order(x: Any) -> tuple[str, str]:
    """A total order on written values of any type (m1 holds strings and ints)."""
    return type(x).__name__, str(x)


@st.composite
def messy_cases(draw: st.DrawFn) -> tuple[History, Params]:
    """A short history with concurrency, faults, observations and final reads, and the
    parameters to judge it with. Times tie often and steps often equal, or miss by one,
    the spans the checker compares against: that is where a comparison can be off by one."""
    params = draw(params_strategy)
    spans = [d + e for d in _bounds(params) for e in (-1, 0, 1)]
    n_values = draw(st.integers(1, 14))
    # Every value that may be written; reads draw from all of them, written or not yet.
    written: dict[str, list[Any]] = {k: [] for ks in KEYS.values() for k in ks}
    ops: list[Op] = []
    t = 0
    acked: list[int] = []  # completion times of acknowledged writes
    open_ops: dict[Any, Op] = {}
    next_value = 0
    bits: dict[str, int] = {}

    def add(**fields: Any) -> None:
        ops.append(Op(index=len(ops), time=t, **fields))

    def read_value(workload: str, key: str) -> Any:
        # Values written, the next one to be written (a read may see it too early) and
        # any other.
        later = [f"w{next_value + 1}", f"w{draw(st.integers(0, n_values + 2))}"]
        pool = written[key] + later
        if workload == "counter":
            return draw(
                st.one_of(
                    st.just(sum(v for v in written[key] if isinstance(v, int) and v > 0)),
                    st.none(),
                    st.integers(-2, 70),
                    st.sets(st.sampled_from([1, 2, 4, 8, 16, 3])).map(sum),
                    st.just("x"),
                )
            )
        if workload == "register":
            return draw(st.one_of(st.sampled_from(pool), st.none(), st.sampled_from([7, {"a": 1}])))
        honest = written[key][: draw(st.integers(0, len(written[key])))]
        if draw(st.booleans()):
            honest = [x for x in honest if draw(st.integers(0, 5))]  # a hole or two
        items = draw(st.one_of(st.just(honest), st.lists(st.sampled_from(pool), max_size=5)))
        return draw(
            st.sampled_from(
                [
                    items,
                    items,
                    sorted(set(items), key=_order),
                    None,
                    "oops",
                    [*items, 3],
                    [*items, [1], {}],
                ]
            )
        )

    for _ in range(draw(st.integers(0, 60))):
        # Now and then time goes back: a history built in code need not be in time order.
        # Ties are common: they decide many a comparison between an invocation and a
        # completion.
        steps = [0, 0, 0, 1, 1000, 50 * MS, 400 * MS, 2000 * MS, 15_000 * MS, -300 * MS]
        t = max(0, t + draw(st.sampled_from(steps + spans)))
        kind = draw(st.sampled_from(["client", "client", "client", "nemesis", "observer"]))
        if kind == "client":
            p = draw(st.integers(0, 3))
            if p in open_ops:
                inv = open_ops.pop(p)
                typ = draw(st.sampled_from(["ok", "ok", "fail", "info"]))
                node = draw(st.sampled_from([inv.node, inv.node, None, *NODES]))
                assert inv.workload is not None and inv.key is not None
                if inv.f == "write":
                    error = (
                        None
                        if typ == "ok"
                        else draw(st.sampled_from(["ERR lag", "-NOREPLICAS x", " ", None]))
                    )
                    add(process=p, type=typ, f="write", workload=inv.workload, key=inv.key,
                        value=inv.value, error=error, node=node, final=inv.final)  # fmt: skip
                    if typ == "ok":
                        acked.append(t)
                else:
                    value = read_value(inv.workload, inv.key) if typ == "ok" else None
                    add(process=p, type=typ, f="read", workload=inv.workload, key=inv.key,
                        value=value, node=node, final=draw(st.booleans()) and inv.final)  # fmt: skip
                continue
            workload = draw(st.sampled_from(sorted(KEYS)))
            key = draw(st.sampled_from(KEYS[workload]))
            node = draw(st.sampled_from([None, None, *NODES]))
            if draw(st.integers(0, 3)):
                if workload == "counter":
                    b = bits.get(key, 0)
                    bits[key] = b + 1
                    value: Any = draw(st.sampled_from([1 << b] * 6 + [3, 1, -4]))
                else:
                    next_value += 1
                    value = f"w{next_value}"
                written[key].append(value)
                add(process=p, type="invoke", f="write", workload=workload, key=key, value=value, node=node)  # fmt: skip
            else:
                final = draw(st.booleans())
                add(process=p, type="invoke", f="read", workload=workload, key=key, node=node, final=final)  # fmt: skip
            open_ops[p] = ops[-1]
        elif kind == "nemesis":
            f = draw(st.sampled_from(FAULTS))
            add(process="nemesis", type="invoke", f=f, value={})
            t += draw(st.sampled_from([0, 1, 5 * MS, 300 * MS]))
            effects = draw(
                st.one_of(st.lists(st.sampled_from(EFFECTS), max_size=4), st.sampled_from(BUNDLES))
            )
            typ = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info"]))
            add(process="nemesis", type=typ, f=f, value={"effects": effects})
        else:
            add(
                process="observer",
                type="invoke",
                f="lag",
                node=draw(st.sampled_from([None, *NODES])),
            )
            t += draw(st.sampled_from([0, 1, 5 * MS]))
            ms = draw(st.one_of(st.integers(0, 30_000), st.just("x")))
            if acked and draw(st.booleans()):
                # Near the age of an acknowledged write, less the tolerance.
                age = t - draw(st.sampled_from(acked)) - params.tolerance
                ms = max(0, age // MS + draw(st.sampled_from([-1, 0, 1])))
            add(process="observer", type="ok", f="lag", value=ms, node=draw(st.sampled_from([None, *NODES])))  # fmt: skip
    # Close some operations, leave the others in flight.
    for p, inv in list(open_ops.items()):
        if draw(st.booleans()):
            t += 1000
            typ = draw(st.sampled_from(["ok", "info"]))
            assert inv.workload is not None and inv.key is not None
            value = inv.value if inv.f == "write" else (read_value(inv.workload, inv.key) if typ == "ok" else None)  # fmt: skip
            add(process=p, type=typ, f=inv.f, workload=inv.workload, key=inv.key, value=value, node=inv.node)  # fmt: skip
            del open_ops[p]
    # The final phase: reads of every key on some nodes, which need not agree.
    if draw(st.integers(0, 3)):
        p = 9
        readers = draw(st.lists(st.sampled_from([*NODES, None]), max_size=3, unique=True))
        same = draw(st.booleans())
        answers: dict[str, Any] = {}
        for node in readers:
            for workload, keys in KEYS.items():
                for key in keys:
                    if draw(st.integers(0, 4)) == 0:
                        continue
                    if key not in answers or not same:
                        answers[key] = read_value(workload, key)
                    t += 1000
                    got = _twin(answers[key], draw(st.sampled_from(["copy", "copy", "retype"])))
                    add(process=p, type="invoke", f="read", workload=workload, key=key, node=node, final=True)  # fmt: skip
                    add(process=p, type="ok", f="read", workload=workload, key=key, value=got, node=node, final=True)  # fmt: skip
    topology: dict[str, Any] | None = draw(
        st.sampled_from(
            [
                {"nodes": [{"name": n, "az": AZS[n]} for n in NODES], "primary": "n1"},
                {"nodes": [{"name": n, "az": AZS[n]} for n in NODES]},
                {
                    "nodes": [{"name": n, "az": "a" if n != "n3" else "b"} for n in NODES],
                    "primary": "n2",
                },
                None,
            ]
        )
    )
    return History(header=Header(topology=topology), ops=tuple(ops)), params


def _twin(value: Any, how: str) -> Any:
    """Another node's answer: an equal copy, or one whose numbers changed type (1 == 1.0 ==
    True), equal to the first but not the same JSON."""
    if how == "copy" or not isinstance(value, list | int) or isinstance(value, bool):
        return list(value) if isinstance(value, list) else value
    if isinstance(value, int):
        return float(value)
    return [float(x) if type(x) is int else (x == 1 if x in (0, 1) else x) for x in value]


params_strategy = st.builds(
    Params,
    mode=st.sampled_from(list(Mode)),
    sync_replicas=st.integers(1, 2),
    sync_timeout=st.sampled_from([10 * MS, 1000 * MS]),
    lag_limit=st.sampled_from([1, 100 * MS, 1000 * MS, 10_000 * MS]),
    tolerance=st.sampled_from([0, 250 * MS]),
    recovery=st.sampled_from([0, 1000 * MS, 10_000 * MS]),
)


@pytest.fixture(params=["as-is", "no-short-cuts"])
def short_cuts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a test as it is, and again with the checker's size-based short cuts off (the
    paths a long history takes, on small ones)."""
    if request.param == "no-short-cuts":
        monkeypatch.setattr(_properties, "_SHORT", 0)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=messy_cases())
def test_messy_histories_judged_exactly_as_the_reference(
    short_cuts: None, case: tuple[History, Params]
) -> None:
    assert_same(*case)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=messy_cases(), data=st.data())
def test_messy_histories_load_exactly_as_the_reference(
    case: tuple[History, Params], data: st.DataObject
) -> None:
    """The loader: the same ops from the same lines, or the same one-line error."""
    history = case[0]
    buf = io.StringIO()
    dump_history(history, buf)
    lines = buf.getvalue().splitlines(keepends=True)
    # Damage a line or two the way real files get damaged.
    damage = data.draw(
        st.lists(st.tuples(st.integers(0, 1 << 20), st.sampled_from(DAMAGE)), max_size=2)
    )
    for pos, how in damage:
        if not lines:
            break
        i = pos % len(lines)
        try:
            obj = json.loads(lines[i])
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or how == "truncate":
            lines[i] = lines[i][: data.draw(st.integers(0, max(0, len(lines[i]) - 1)))]
            continue
        if how == "blank":
            lines[i] = "\n"
        elif how == "not-object":
            lines[i] = "[1, 2]\n"
        else:
            if how == "drop-field" and obj:
                obj.pop(data.draw(st.sampled_from(sorted(obj))))
            elif how == "bad-type" and obj:
                name = data.draw(st.sampled_from(sorted(obj)))
                obj[name] = data.draw(st.sampled_from([1.5, "x", None, [1], {"a": 1}, True, 7, -1]))
            elif how == "unknown-field":
                obj["extra"] = 1
            elif how == "swap-index":
                obj["index"] = -1
            elif how == "repeat-index":
                obj["index"] = (
                    max(0, obj.get("index", 0) - 1) if type(obj.get("index")) is int else 0
                )
            elif how == "time-back":
                obj["time"] = -5
            lines[i] = json.dumps(obj) + "\n"
    for form in (lines, [ln.encode() for ln in lines]):
        new = outcome(lambda ls: _ops_of(parse_lines(ls, source="f")), form)
        old = outcome(lambda ls: _ops_of(ref.parse_lines(ls, source="f")), form)
        assert new == old


def _ops_of(h: History) -> Any:
    return [h.header.to_json(), [tuple(op) for op in h.ops]]


# -- realistic histories -----------------------------------------------------------------


def _bench_params(bench: Any) -> list[Params]:
    base = bench.PARAMS
    return [
        base,
        Params(mode=Mode.ASYNC, lag_limit=20 * MS, tolerance=0, recovery=100 * MS),
        Params(mode=Mode.SYNC, sync_replicas=1),
        Params(mode=Mode.SYNC, sync_replicas=2, sync_timeout=10 * MS, recovery=0),
        Params(mode=Mode.NONE),
    ]


def _variants(history: History) -> list[History]:
    """The history, and versions of it with a dishonest lag metric and damaged final reads."""
    ops = history.ops
    liar = tuple(
        op._replace(value=0) if op.f == "lag" and op.type == "ok" and op.value else op for op in ops
    )

    def damaged(op: Op) -> Op:
        # On n2, every list read at the end misses its second element; counters lose a bit.
        if not (op.final and op.type == "ok" and op.node == "n2"):
            return op
        if op.workload == "list" and isinstance(op.value, list) and len(op.value) > 2:
            return op._replace(value=[op.value[0], *op.value[2:]])
        if op.workload == "counter" and isinstance(op.value, int) and op.value > 3:
            return op._replace(value=op.value & ~2)
        return op

    return [
        history,
        History(header=history.header, ops=liar),
        History(header=history.header, ops=tuple(damaged(op) for op in ops)),
    ]


def _judge_generated(seed: int, size: int, tmp_path: Path) -> None:
    bench = _bench()
    # A lag limit of 200 ms makes the generated cluster reject writes in most partitions.
    bench.LAG_LIMIT_MS = 200 if seed % 2 else 1000
    path = tmp_path / "h.ndjson"
    bench.generate(path, size, seed)
    history = load_history(path)
    assert _ops_of(history) == _ops_of(ref.parse_lines(path.open("rb"), source=str(path)))
    for variant in _variants(history):
        for params in _bench_params(bench):
            assert_same(variant, params)


@pytest.mark.parametrize("seed", [1, 2])
def test_generated_histories_judged_exactly_as_the_reference(
    short_cuts: None, seed: int, tmp_path: Path
) -> None:
    _judge_generated(seed, 8_000, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_more_generated_histories_judged_exactly_as_the_reference(
    short_cuts: None, seed: int, tmp_path: Path
) -> None:
    _judge_generated(seed, 8_000 + 2_000 * seed, tmp_path)


@pytest.mark.slow
def test_a_long_generated_history_judged_exactly_as_the_reference(tmp_path: Path) -> None:
    bench = _bench()
    path = tmp_path / "h.ndjson"
    bench.generate(path, 150_000, 11)
    history = load_history(path)
    assert_same(history, bench.PARAMS)
    assert_same(history, _bench_params(bench)[1])


# Keys written by several workloads: each (key, workload) is judged on its own, and the
# final reads of the nodes differ (n3 holds a hole: w7 without w4), so that every node's
# presence is worked out afresh.
SHARED_KEYS = """
mode async
params L=1000 tolerance=100 recovery=2000
nodes n1@a n2@b n3@c
0..1    p0 append m w1
1..2    p1 set m w2
2..3    p2 add s w3
3..4    p3 incr s 4
4..5    p0 append m w4
5..6    p1 set m w5
6..7    p2 add s w6
7..8    p3 incr s 8
8..9    p0 append m w7
20..21  p9 lrange m -> ok [w1 w2 w4] @n1 final
21..22  p9 smembers s -> ok {w3} @n1 final
22..23  p9 get m -> ok w5 @n2 final
23..24  p9 count s -> ok 12 @n2 final
24..25  p9 lrange m -> ok [w1 w7] @n3 final
25..26  p9 count s -> ok 4 @n3 final
"""


@pytest.mark.parametrize("mode", list(Mode))
def test_keys_shared_by_workloads_judged_exactly_as_the_reference(mode: Mode) -> None:
    history = parse_text(SHARED_KEYS)
    params = params_from_json(mode.value, {}, history.header.params)
    assert_same(history, params)
    present = check(history, params)["stats"]["acknowledged_judged"]
    assert present > 0  # the shared keys' writes are judged, not left unknown


# n1 (async, L = 1 s, ε = 0.1 s) is cut off from both replicas from 11 ms; w2, at 21 ms, is
# the first write it acknowledges inside that isolation.
N1_ISOLATED = """
mode async
params K=1 L=1000 timeout=500 tolerance=100 recovery=2000
nodes n1@a n2@b n3@c
0..2        p0 add s w1
10          nemesis partition n2
11          nemesis partition n3
20..21      p0 add s w2
"""

# An isolation that other faults interrupt without ending it: each fault starts a new
# knowledge snapshot, and the writes just after one (the first of their snapshot) are
# judged like the rest. A slow link, a pause and its resume come and go among the replicas
# while n1 accepts w4 and w6 past the lag limit (w3, w5: within it).
ISOLATION_INTERRUPTED = (
    N1_ISOLATED
    + """
700         nemesis slow-link n2 n3
700..701    p1 add s w3
1150        nemesis pause n3
1150..1151  p0 add s w4
1160..1161  p1 add s w5 -> fail ERR durability lag above limit
1300        nemesis resume n3
1300..1301  p1 add s w6
1302..1303  p0 add s w7 -> info ConnectionError: Connection reset by peer
2000        nemesis heal
3000..3001  p0 smembers s -> ok {w1 w2 w3 w4 w6} final
"""
)

# n1 stays cut off throughout, through a failover to n2 and another back to n1: one
# isolation of n1, two of its epochs. w2 is of the first epoch, w4 of the last, so w2
# bounds nothing of w4's lag.
ISOLATION_ACROSS_EPOCHS = (
    N1_ISOLATED
    + """
300..310    nemesis failover n2
400..410    nemesis failover n1
1150..1151  p0 add s w4
2000        nemesis heal
3000..3001  p0 smembers s -> ok {w1 w2 w4} final
"""
)


def _loss_window_as_the_reference(text: str) -> dict[str, Any]:
    """Judge ``text``'s history in every mode exactly as the reference does; return its
    ``loss-window-bounded`` result in async mode."""
    history = parse_text(text)
    for mode in Mode:
        assert_same(history, params_from_json(mode.value, {}, history.header.params))
    params = params_from_json("async", {}, history.header.params)
    result: dict[str, Any] = check(history, params)["properties"]["loss-window-bounded"]
    return result


def test_an_interrupted_isolation_judged_exactly_as_the_reference() -> None:
    result = _loss_window_as_the_reference(ISOLATION_INTERRUPTED)
    assert [w["write"]["value"] for w in result["witnesses"]] == ["w4", "w6"]


def test_an_isolation_across_epochs_judged_exactly_as_the_reference() -> None:
    result = _loss_window_as_the_reference(ISOLATION_ACROSS_EPOCHS)
    assert (result["valid"], result["witnesses"]) == (True, [])


# -- the corpus ------------------------------------------------------------------------------


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".txt", ".ndjson"))


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.stem)
def test_corpus_judged_exactly_as_the_reference(path: Path) -> None:
    if path.suffix == ".txt":
        history = parse_text(path.read_text(encoding="utf-8"), source=path.name)
    else:
        history = load_history(path)
        assert _ops_of(history) == _ops_of(ref.parse_lines(path.open("rb"), source=path.name))
    for mode in Mode:
        assert_same(history, Params(mode=mode))
        assert_same(history, params_from_json(mode.value, {}, history.header.params))
