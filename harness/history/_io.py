"""Reading and writing ``history.ndjson``.

Reading is strict: a line that is not a JSON object, a missing or mistyped field, an unknown
op type or a non-increasing index stops the load with :class:`HistoryError`, whose one-line
message names the file, the line and the fix. Writing is streaming (:class:`HistoryWriter`
flushes every line) so that an interrupted run keeps everything recorded so far.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import gzip
import io
import json
import math
import operator
import os
import re
import threading
import time
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, compress, repeat
from pathlib import Path
from typing import IO, Any, cast

from harness._errors import AckboundError
from harness.history._op import FORMAT, OBSERVER, OP_TYPES, VERSION, WORKLOADS, Header, Op, Process


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    x = float(text)
    if x in (math.inf, -math.inf):
        raise ValueError(f"{text} does not fit a 64-bit float")
    return x


def _strict_loads(raw: bytes | str) -> Any:
    """The stdlib's JSON, held to what orjson accepts: no NaN or Infinity, no number out of
    a float's range, no lone surrogate (an escape such as \\ud800 that is no character)."""
    obj = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    if isinstance(raw, bytes):
        suspect = b"\\ud" in raw or b"\\uD" in raw
    else:
        suspect = "\\ud" in raw or "\\uD" in raw
    if suspect:
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                "a \\ud800-style escape that is no character (a lone surrogate)"
            ) from None
    return obj


try:  # orjson parses ndjson about three times faster; the stdlib path always works.
    import orjson as _orjson

    _loads: Any = _orjson.loads
except ImportError:  # pragma: no cover - exercised when orjson is absent
    _loads = _strict_loads

__all__ = [
    "Columns",
    "History",
    "HistoryError",
    "HistoryWriter",
    "dump_history",
    "gc_paused",
    "load_history",
    "parse_lines",
    "read_history",
]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of acyclic objects.

    Ops and their values never form cycles, but each allocation burst would trigger a
    full collection over every object built so far, making a long load quadratic.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class HistoryError(AckboundError):
    """A history file that cannot be read; the message names the file, line and fix."""


# The ops as columns: one sequence per field of Op, in Op's field order: lists, but for the
# index and time, which are arrays of 64-bit ints where they fit (see _ints).
Columns = tuple[
    Sequence[int],  # index
    Sequence[int],  # time
    list[Process],  # process
    list[str],  # type
    list[str],  # f
    list[str | None],  # workload
    list[str | None],  # key
    list[Any],  # value
    list[str | None],  # error
    list[str | None],  # node
    list[bool],  # final
]
_make_op = functools.partial(tuple.__new__, Op)


def _ints(values: list[int]) -> Sequence[int]:
    """``values`` as an array of 64-bit ints, or as they are when one does not fit.

    Not a million int objects: those lie wherever their ops were built, scattered among the
    rest, so every pass over them misses the caches; the ints read from an array are fresh
    and laid out in the order they are read. (The bulk reader fills its arrays as it goes.)
    """
    try:
        return array("q", values)
    except OverflowError:
        return values


class History:
    """A header plus ops in recorded order.

    Immutable. A loaded history holds its ops as columns (:meth:`columns`), which is how the
    checker reads them, and builds the ``Op`` tuples only when ``ops`` is first used.
    """

    __slots__ = ("_columns", "_ops", "header")
    header: Header
    _ops: tuple[Op, ...] | None
    _columns: Columns | None

    def __init__(self, *, header: Header, ops: tuple[Op, ...]) -> None:
        object.__setattr__(self, "header", header)
        object.__setattr__(self, "_ops", tuple(ops))
        object.__setattr__(self, "_columns", None)

    @classmethod
    def from_columns(cls, header: Header, columns: Columns) -> History:
        """A history whose ops are ``columns`` (see :meth:`columns`); the sequences are kept."""
        h = cls.__new__(cls)
        object.__setattr__(h, "header", header)
        object.__setattr__(h, "_ops", None)
        object.__setattr__(h, "_columns", columns)
        return h

    @property
    def ops(self) -> tuple[Op, ...]:
        ops = self._ops
        if ops is None:
            cols = self._columns
            assert cols is not None
            ops = tuple(map(_make_op, zip(*cols, strict=True)))
            object.__setattr__(self, "_ops", ops)
        return ops

    def columns(self) -> Columns:
        """The ops as columns: one sequence per ``Op`` field, in field order (index, time,
        process, type, f, workload, key, value, error, node, final). Built once; never
        modify them."""
        cols = self._columns
        if cols is None:
            ops = self._ops
            assert ops is not None
            index, times, *rest = (
                [list(col) for col in zip(*ops, strict=True)] if ops else [[] for _ in Op._fields]
            )
            cols = cast(Columns, (_ints(index), _ints(times), *rest))
            object.__setattr__(self, "_columns", cols)
        assert cols is not None
        return cols

    def __len__(self) -> int:
        if self._ops is not None:
            return len(self._ops)
        assert self._columns is not None
        return len(self._columns[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        return self.header == other.header and self.ops == other.ops

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"History(header={self.header!r}, ops={self.ops!r})"

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


_OP_TYPES = frozenset(OP_TYPES)
_FIELDS = (
    "index",
    "time",
    "process",
    "type",
    "f",
    "workload",
    "key",
    "value",
    "error",
    "node",
    "final",
)
_KNOWN_FIELDS = frozenset(_FIELDS)
_WORKLOADS = frozenset(WORKLOADS)
# What a write carries, per workload (docs/history.md): a unique string, or a counter's delta.
_WRITE_VALUE: dict[str, type] = {"register": str, "list": str, "set": str, "counter": int}
# The parsers' "line 1 column 25 (char 24)" counts within the one line being parsed.
_JSON_POSITION = re.compile(r"(?: at)?:? line \d+ column (\d+) \(char \d+\)")


def _json_problem(exc: ValueError) -> str:
    """The JSON parser's complaint, with its position given as a column of this line."""
    return _JSON_POSITION.sub(r" at column \1", str(exc))


def _header_from(obj: dict[str, Any], where: str) -> Header:
    version = obj.get("version")
    if type(version) is not int or version < 1:
        raise HistoryError(f"{where}: header has no 'version' ≥ 1; write {VERSION}")
    if version > VERSION:
        raise HistoryError(
            f"{where}: history format version {version} is newer than this ackbound reads "
            f"({VERSION}); upgrade ackbound"
        )
    mode = obj.get("mode")
    if mode is not None and not isinstance(mode, str):
        raise HistoryError(f"{where}: header 'mode' must be a string such as \"sync\"")
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise HistoryError(f"{where}: header 'params' must be an object")
    topology = obj.get("topology")
    if topology is not None:
        nodes = topology.get("nodes") if isinstance(topology, dict) else None
        if not isinstance(nodes, list) or not all(
            isinstance(n, dict) and isinstance(n.get("name"), str) and isinstance(n.get("az"), str)
            for n in nodes
        ):
            raise HistoryError(
                f"{where}: header 'topology' must be "
                '{"nodes": [{"name": "n1", "az": "az1"}, ...], "primary": "n1"}'
            )
        primary = topology.get("primary")
        names = [n["name"] for n in nodes]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise HistoryError(
                f"{where}: header topology names node {twice[0]!r} twice; give each node its "
                "own name"
            )
        if primary is not None and primary not in names:
            raise HistoryError(
                f"{where}: header topology's primary {primary!r} is not one of its nodes "
                f"({', '.join(names) or 'none'}); name one of them"
            )
    durable_restart = obj.get("durable_restart", False)
    if durable_restart is not True and durable_restart is not False:
        raise HistoryError(
            f"{where}: header 'durable_restart' must be true or false; got {durable_restart!r}"
        )
    known = {"format", "version", "mode", "params", "topology", "target", "durable_restart"}
    return Header(
        mode=mode,
        params=params,
        topology=topology,
        target=obj.get("target"),
        durable_restart=durable_restart,
        extra={k: v for k, v in obj.items() if k not in known},
    )


def _bad(where: str, message: str) -> HistoryError:
    return HistoryError(f"{where}: {message}")


def parse_lines(lines: Iterable[bytes | str], source: str = "<history>") -> History:
    """Parse ndjson lines into a :class:`History`; raises :class:`HistoryError`.

    A file a run wrote is read in bulk (:func:`_parse_bulk`); anything that pass does not
    accept — an error, but also a blank line or a second header — is read again line by
    line (:func:`_parse_line_by_line`), which names the first problem exactly.
    """
    raw = lines if isinstance(lines, list) else list(lines)
    if raw:  # a byte-order mark some editors write: read the same with or without orjson
        first = raw[0]
        if isinstance(first, bytes) and first.startswith(b"\xef\xbb\xbf"):
            raw = [first[3:], *raw[1:]]
        elif isinstance(first, str) and first.startswith("\ufeff"):
            raw = [first[1:], *raw[1:]]
    history = _parse_bulk(raw, source)
    if history is None:
        history = _parse_line_by_line(raw, source)
    return history


# Canonical objects for the fields with few values: the bulk reader maps each op's value to
# one of these, which validates it and lets every later comparison hit the same object.
_TYPE_OF: dict[Any, str] = {t: t for t in OP_TYPES}
_WORKLOAD_OF: dict[Any, str | None] = {None: None, **{w: w for w in WORKLOADS}}
_STR_OR_NONE = frozenset((str, type(None)))
_INT_OR_STR = frozenset((int, str))


def _parse_bulk(raw: list[bytes | str], source: str) -> History | None:
    """Read ``raw`` in one loop that parses each line and files its fields into columns,
    then check whole columns; ``None`` when any line is not exactly as a run writes it
    (then the line-by-line reader decides)."""
    header = Header()
    lines = iter(raw)
    first = next(lines, None)
    if first is None:
        return History.from_columns(header, tuple([] for _ in Op._fields))  # type: ignore[arg-type]
    try:
        obj = _loads(first)
    except (ValueError, RecursionError):
        return None
    if type(obj) is dict and "format" in obj:
        if obj["format"] != FORMAT:
            return None
        header = _header_from(obj, f"{source}:1")
    else:
        lines = chain((first,), lines)
    # Index and time as arrays of 64-bit ints, as _ints makes them; one that does not fit
    # (OverflowError) leaves the history to the line-by-line reader.
    index = array("q")
    times = array("q")
    process: list[Any] = []
    types: list[Any] = []
    fs: list[Any] = []
    workload: list[Any] = []
    key: list[Any] = []
    value: list[Any] = []
    error: list[Any] = []
    node: list[Any] = []
    final: list[Any] = []
    loads = _loads
    known = _KNOWN_FIELDS
    # The fields of each line, in order: few distinct tuples (a writer writes them alike).
    layouts: set[tuple[str, ...]] = set()
    layout = layouts.add
    # Strings that repeat (f, key, node, error) are kept once: one object per distinct
    # value, so that the checker's many comparisons and lookups of them stay cheap. (A
    # non-string value this maps to another equal one is rejected below all the same.)
    once = {None: None}.setdefault
    type_of = _TYPE_OF.__getitem__  # KeyError: not an op type
    workload_of = _WORKLOAD_OF.__getitem__  # KeyError: not a workload
    last_index = -1
    last_time = 0  # times are nanoseconds of a monotonic clock: never negative
    try:
        for line in lines:
            o = loads(line)
            get = o.get  # AttributeError: not an object
            i = o["index"]
            t = o["time"]
            if type(i) is not int or i <= last_index or type(t) is not int or t < last_time:
                return None
            index.append(i)
            times.append(t)
            last_index = i
            last_time = t
            process.append(o["process"])
            types.append(type_of(o["type"]))
            f = o["f"]
            fs.append(once(f, f))
            workload.append(workload_of(get("workload")))
            k = get("key")
            key.append(once(k, k))
            value.append(get("value"))
            e = get("error")
            error.append(once(e, e))
            n = get("node")
            node.append(once(n, n))
            final.append(get("final", False))
            layout(tuple(o))
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError):
        return None
    if not known.issuperset(chain.from_iterable(layouts)):
        return None  # an unknown field (or a second header)
    # Each check below is one the line-by-line reader makes of every op; the columns they
    # read hold few distinct objects.
    if not _INT_OR_STR.issuperset(map(type, process)) or not {str}.issuperset(map(type, fs)):
        return None
    for col in (key, error, node):
        if not _STR_OR_NONE.issuperset(map(type, col)):
            return None
    if not {bool}.issuperset(map(type, final)):
        return None
    if _holds_float(value):
        return None  # maybe an int beyond 64 bits, which orjson reads as a float
    wanted = _WRITE_VALUE
    if not all(
        [
            type(v) is wanted[w]
            for f, w, v in zip(fs, workload, value, strict=True)
            if f == "write" and w is not None
        ]
    ):
        return None
    lags = compress(zip(types, process, value, strict=True), map(operator.eq, fs, repeat("lag")))
    if not all([type(v) is int for t, p, v in lags if t == "ok" and p == OBSERVER]):
        return None
    columns: Columns = (index, times, process, types, fs, workload, key, value, error, node, final)
    return History.from_columns(header, columns)


def _holds_float(values: Sequence[Any]) -> bool:
    """Whether ``values`` (an op's fields, or a column of values) hold a float, themselves
    or among a read's items."""
    types = set(map(type, values))
    if float in types:
        return True
    return list in types and float in set(
        map(type, chain.from_iterable(v for v in values if type(v) is list))
    )


def _parse_line_by_line(lines: list[bytes | str], source: str) -> History:
    """The strict reader, one line at a time: the first problem, named exactly."""
    header = Header()
    ops: list[Op] = []
    append = ops.append
    last_index = -1
    last_time = 0
    lineno = 0
    header_line = 0
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = _loads(raw)
            if (
                _loads is not _strict_loads
                and type(obj) is dict
                and _holds_float(list(obj.values()))
            ):
                obj = _strict_loads(raw)  # orjson reads an int beyond 64 bits as a float
        except ValueError as exc:
            where = f"{source}:{lineno}"
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            if "\ufffd" in text or "\x00" in text:  # not UTF-8 text at all
                hint = "the line is not text; is this a history file?"
            elif not text.endswith("\n"):
                hint = "the file is truncated"
            else:
                hint = "fix or remove the line"
            raise _bad(where, f"not valid JSON ({_json_problem(exc)}); {hint}") from None
        except RecursionError:
            raise _bad(
                f"{source}:{lineno}",
                "JSON nested too deeply to read; a history's values are flat lists at most",
            ) from None
        if type(obj) is not dict:
            raise _bad(f"{source}:{lineno}", "each line must be a JSON object")
        if "format" in obj:
            if obj["format"] != FORMAT or ops:
                raise _bad(
                    f"{source}:{lineno}",
                    f'a header line must come first and have "format": "{FORMAT}"',
                )
            if header_line:
                raise _bad(
                    f"{source}:{lineno}",
                    f"a second header line (the first is line {header_line}); keep one",
                )
            header = _header_from(obj, f"{source}:{lineno}")
            header_line = lineno
            continue
        try:
            index = obj["index"]
            t = obj["time"]
            process: Process = obj["process"]
            typ = obj["type"]
            f = obj["f"]
        except KeyError as exc:
            raise _bad(
                f"{source}:{lineno}",
                f"op is missing the field {exc.args[0]!r}; every op needs index, time, process, type and f",
            ) from None
        if type(index) is not int or index <= last_index:
            if type(index) is not int:
                problem = f"'index' must be an integer; got {index!r}"
            elif index < 0:
                problem = f"'index' must be ≥ 0; got {index}"
            else:
                problem = (
                    f"'index' {index} does not follow the previous op's {last_index}; "
                    "indices increase line by line"
                )
            raise _bad(f"{source}:{lineno}", problem)
        if type(t) is not int:
            raise _bad(f"{source}:{lineno}", f"'time' must be integer nanoseconds; got {t!r}")
        if t < 0:
            raise _bad(
                f"{source}:{lineno}",
                f"'time' must be ≥ 0 (nanoseconds of a monotonic clock); got {t}; shift every "
                "op's time by the same amount",
            )
        if t < last_time:
            raise _bad(
                f"{source}:{lineno}",
                f"'time' goes backwards ({t} < {last_time}); ops must be in recorded order",
            )
        if type(typ) is not str or typ not in _OP_TYPES:
            raise _bad(
                f"{source}:{lineno}",
                f"'type' must be one of invoke, ok, fail, info; got {typ!r}",
            )
        if type(process) is not int and type(process) is not str:
            raise _bad(f"{source}:{lineno}", "'process' must be an integer client id or a string")
        if type(f) is not str:
            raise _bad(f"{source}:{lineno}", "'f' must be a string")
        if not _KNOWN_FIELDS.issuperset(obj):
            unknown = ", ".join(repr(k) for k in sorted(set(obj) - _KNOWN_FIELDS))
            raise _bad(
                f"{source}:{lineno}",
                f"unknown field {unknown}; an op's fields are {', '.join(_FIELDS)} "
                "(docs/history.md)",
            )
        get = obj.get
        workload = get("workload")
        key = get("key")
        error = get("error")
        node = get("node")
        final = get("final", False)
        if workload is not None and (type(workload) is not str or workload not in _WORKLOADS):
            raise _bad(
                f"{source}:{lineno}",
                f"'workload' must be one of {', '.join(WORKLOADS)}; got {workload!r}",
            )
        if (
            (key is not None and type(key) is not str)
            or (error is not None and type(error) is not str)
            or (node is not None and type(node) is not str)
        ):
            name, bad = next(
                (n, v)
                for n, v in (("key", key), ("error", error), ("node", node))
                if v is not None and type(v) is not str
            )
            raise _bad(f"{source}:{lineno}", f"{name!r} must be a string; got {bad!r}")
        if final is not True and final is not False:
            raise _bad(f"{source}:{lineno}", f"'final' must be true or false; got {final!r}")
        value = get("value")
        if f == "write" and workload is not None and type(value) is not _WRITE_VALUE[workload]:
            want = "an integer delta" if workload == "counter" else 'a string such as "w17"'
            raise _bad(
                f"{source}:{lineno}", f"a {workload} write's value must be {want}; got {value!r}"
            )
        last_index = index
        last_time = t
        if f == "lag" and typ == "ok" and process == OBSERVER and type(value) is not int:
            raise _bad(
                f"{source}:{lineno}",
                f"a lag observation's value is whole milliseconds (an integer); got {value!r}",
            )
        append(Op(index, t, process, typ, f, workload, key, value, error, node, final))
    return History(header=header, ops=tuple(ops))


_GZIP_MAGIC = b"\x1f\x8b"


def _gunzip(data: bytes, source: str) -> bytes:
    """``data``, a gzip stream, decompressed; one that ends early or is corrupt is a
    one-line :class:`HistoryError` naming ``source``."""
    try:
        return gzip.decompress(data)
    except EOFError:
        what = "is truncated (the compressed stream ends early)"
    except (OSError, zlib.error) as exc:
        what = f"is not a readable gzip stream ({exc})"
    raise HistoryError(f"{source}: {what}; compress the history again, or pass it uncompressed")


def load_history(path: str | os.PathLike[str]) -> History:
    """Load ``history.ndjson`` (or a gzip of it, such as ``history.ndjson.gz``: told by its
    first bytes, whatever its name); every problem is a one-line :class:`HistoryError`."""
    p = Path(path)
    try:
        with p.open("rb") as raw:
            return _parse_stream(raw, str(p))
    except HistoryError:
        if _is_results_json(p):
            raise HistoryError(
                f"{p}: this is a run's results.json, not a history; pass a history.ndjson "
                "from the run directory (its failure.history names the failing example's)"
            ) from None
        raise
    except FileNotFoundError:
        raise HistoryError(f"{p}: no such file; pass the path of a history.ndjson") from None
    except IsADirectoryError:
        raise HistoryError(
            f"{p}: is a directory; pass its history.ndjson (e.g. {p / 'history.ndjson'})"
        ) from None
    except PermissionError:
        raise HistoryError(f"{p}: permission denied; make the file readable") from None
    except UnicodeDecodeError as exc:
        raise HistoryError(f"{p}: not UTF-8 text ({exc.reason}); is this a history?") from None


def read_history(stream: IO[bytes], source: str = "<stdin>") -> History:
    """Read a history from a binary ``stream`` to its end (standard input, say): ndjson, or
    a gzip of it; every problem is a one-line :class:`HistoryError` naming ``source``."""
    try:
        if not isinstance(stream, io.BufferedReader):  # it cannot peek (a BytesIO, say)
            return _parse_stream(io.BufferedReader(io.BytesIO(stream.read())), source)
        return _parse_stream(stream, source)
    except OSError as exc:
        raise HistoryError(f"{source}: cannot be read ({exc.strerror}); pass a file") from None


def _parse_stream(raw: io.BufferedReader, source: str) -> History:
    """The history in ``raw``, ndjson or a gzip of it: told by its first bytes, peeked
    rather than read and sought back, as a pipe cannot seek (bash's ``<(zcat ...)``)."""
    with gc_paused():
        if not raw.peek(2).startswith(_GZIP_MAGIC):
            return parse_lines(raw, source=source)
        return parse_lines(_gunzip(raw.read(), source).splitlines(keepends=True), source=source)


def _is_results_json(p: Path) -> bool:
    """Whether ``p`` holds a run's results.json (a history's reader fails on its first line)."""
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and str(doc.get("schema", "")).startswith("ackbound-results/")


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)


def dump_history(history: History, fh: IO[str]) -> None:
    """Write a whole history as ndjson."""
    fh.write(_dumps(history.header.to_json()) + "\n")
    for op in history.ops:
        fh.write(_dumps(op.to_json()) + "\n")


class HistoryWriter:
    """Records ops as they happen: assigns index and time, writes each line at once.

    Thread-safe: client workers, the nemesis and the observer share one writer. Times come
    from one clock (``time.monotonic_ns``) so that every op is comparable.
    """

    def __init__(self, path: str | os.PathLike[str] | None, header: Header) -> None:
        self._lock = threading.Lock()
        self._ops: list[Op] = []
        self.header = header
        self._fh: IO[str] | None = None
        if path is not None:
            self._fh = Path(path).open("w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            self._fh.write(_dumps(header.to_json()) + "\n")
            self._fh.flush()

    @staticmethod
    def now() -> int:
        return time.monotonic_ns()

    def record(
        self,
        *,
        process: Process,
        type: str,
        f: str,
        time_ns: int | None = None,
        **fields: Any,
    ) -> Op:
        """Append one op now (or at ``time_ns``, which must not precede the last op)."""
        with self._lock:
            t = self.now() if time_ns is None else time_ns
            if self._ops and t < self._ops[-1].time:
                t = self._ops[-1].time
            op = Op(index=len(self._ops), time=t, process=process, type=type, f=f, **fields)
            self._ops.append(op)
            if self._fh is not None:
                self._fh.write(_dumps(op.to_json()) + "\n")
                self._fh.flush()
            return op

    @property
    def ops(self) -> tuple[Op, ...]:
        with self._lock:
            return tuple(self._ops)

    def history(self) -> History:
        return History(header=self.header, ops=self.ops)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_ops(history: History) -> Iterator[Op]:
    return iter(history.ops)
