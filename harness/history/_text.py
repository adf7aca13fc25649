r"""A tiny text language for writing histories by hand (in tests and bug reports).

One operation per line; ``#`` starts a comment (outside quotes, after a space: a ``#``
inside an unquoted word, or a backslash outside quotes, is refused rather than read as
the shell would read it). Directives first::

    mode sync                      # none | sync | async
    params K=1 L=1000 timeout=500 tolerance=100 recovery=2000   # times in ms
    nodes n1@az1 n2@az2 n3@az3     # name@az; the first is the primary unless `primary` says
    primary n1                     # (after `nodes`: it names one of them)
    durable-restart no             # does a restart keep every write? (default no)

Then operations, ``TIME PROCESS ACTION ARGS... [-> OUTCOME] [@NODE] [final]``, in order of
invocation time (directives may not follow the first operation):

- ``TIME`` is milliseconds: ``5`` (invoked and completed at 5) or ``5..9`` (invoked at 5,
  completed at 9); fractions are fine (``2.5``).
- ``PROCESS`` is ``p0``, ``p1``, … for clients, ``nemesis`` for faults, ``observer`` for metrics.
- Client writes: ``set KEY V`` (register), ``append KEY V`` (list), ``add KEY V`` (set),
  ``incr KEY D`` (counter). Reads: ``get KEY``, ``lrange KEY``, ``smembers KEY``,
  ``count KEY``; a read's value follows ``ok``: ``-> ok [w1 w2]``, ``-> ok {w1 w2}``,
  ``-> ok w3``, ``-> ok nil``, ``-> ok 12`` (a list or set: words within one pair of
  brackets). A written value is one word as reads show it: no spaces, brackets or quotes,
  and a register's not ``nil`` or ``null``. Nothing follows ``-> ok`` on a write, nor
  ``-> pending``.
- ``OUTCOME``: ``ok`` (the default), ``fail [ERROR TEXT]``, ``info [ERROR TEXT]`` or
  ``pending`` (never completed); quote error text that holds an apostrophe
  (``-> fail "READONLY You can't write against a read only replica."``). A client process
  runs one operation at a time: its next line may not start before its last one completed.
- Faults (the effects are derived as the fault layer records them; see docs/history.md):
  ``kill N``, ``pause N``, ``resume N``, ``restart N``, ``wipe-restart N``, ``partition N``
  (cut N from every node and from the clients, both ways), ``cut A B``, ``heal-link A B``,
  ``slow-link A B``, ``failover N`` (promote N, the most up-to-date replica),
  ``failover-to N`` (promote N by name), ``az-outage AZ``, ``rejoin N``, ``synced N``, ``heal``.
- Observations: ``observer lag N MS`` (node N reported a lag of MS milliseconds).
  Fault and observer lines always succeed: they take no ``-> OUTCOME`` and no ``@NODE``;
  like a client, the nemesis (and the observer) does one thing at a time.

Example — a sync write acknowledged, then a failover to a replica that lacks it::

    mode sync
    nodes n1@a n2@b n3@c
    0..2   p0 append l w1
    3      nemesis kill n1
    4      nemesis failover n2
    10..11 p0 lrange l -> ok [] final
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from harness.history._io import History, HistoryError
from harness.history._op import Header, Op

__all__ = ["parse_text"]


def _altered_unquoted(line: str) -> str | None:
    """What shell-style splitting would silently change in ``line`` outside quotes: a ``#``
    inside a word starts a comment there (``w#1`` would read as ``w``), and a backslash
    escapes the next character (``a\\b`` would read as ``ab``). ``None``: nothing."""
    quote = ""
    prev = " "
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"':
                prev = ch
                continue
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            if not prev.isspace():
                return (
                    f"a '#' inside a word (column {i + 1}) would start a comment there and cut "
                    "the word; quote the word, or put a space before the comment"
                )
            return None  # the rest is a comment
        elif ch == "\\":
            return (
                f"a backslash outside quotes (column {i + 1}) would escape the next character; "
                "quote the word"
            )
        prev = ch
    return None


_WRITES = {"set": "register", "append": "list", "add": "set", "incr": "counter"}
_READS = {"get": "register", "lrange": "list", "smembers": "set", "count": "counter"}
_FAULTS = (
    "kill, pause, resume, restart, wipe-restart, partition, cut, heal-link, slow-link, "
    "failover, failover-to, az-outage, rejoin, synced, heal"
)
_DIRECTIVES = ("mode", "params", "nodes", "primary", "durable-restart")
_TIME = re.compile(r"^(\d+(?:\.\d+)?)(?:\.\.(\d+(?:\.\d+)?))?$")
_PARAM_KEYS = {
    "K": ("sync_replicas", 1),
    "L": ("lag_limit_ms", 1),
    "timeout": ("sync_timeout_ms", 1),
    "tolerance": ("tolerance_ms", 1),
    "recovery": ("recovery_ms", 1),
}


_MAX_NS = 1 << 62  # later times are written as this (the ndjson reader takes any int)


def _ns(ms: str) -> int:
    value = float(ms)
    return round(value * 1_000_000) if value < _MAX_NS / 1_000_000 else _MAX_NS


_WORD = re.compile(r"[^\s\[\]{}\"']+")  # a value as reads show it
_EMPTY = ("nil", "null")  # what a register read shows when it holds nothing


def _read_value(tokens: list[str], workload: str, where: str) -> Any:
    text = " ".join(tokens).strip()
    if workload == "counter":
        if not re.fullmatch(r"-?\d+", text):
            raise HistoryError(f"{where}: a counter read's value is an integer, e.g. '-> ok 12'")
        return int(text)
    if workload == "register":
        if not text or text in _EMPTY:
            return None
        if " " in text:
            raise HistoryError(f"{where}: a register read's value is one word or nil")
        return text
    items = text[1:-1].split()
    if text[:1] + text[-1:] not in ("[]", "{}") or not all(map(_WORD.fullmatch, items)):
        raise HistoryError(
            f"{where}: a {workload} read's value is written [a b] or {{a b}}: words "
            "within one pair of brackets"
        )
    return items


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.mode: str | None = None
        self.params: dict[str, Any] = {}
        self.nodes: list[dict[str, str]] = []
        self.primary: str | None = None
        self.durable_restart = False
        self.events: list[tuple[int, int, int | str, str, str, dict[str, Any]]] = []
        self.last_invoke = 0
        self.initial_primary: str | None = None
        # What the nemesis has done so far, to derive `heal` and `rejoin` effects.
        self.down: set[str] = set()
        self.killed: set[str] = set()
        self.cuts: set[tuple[str, str]] = set()
        self.slow: set[tuple[str, str]] = set()
        # Client process -> (completion time of its last op, None if pending; its line).
        # (nemesis and observer too: each does one thing at a time, like a client.)
        self.busy: dict[int | str, tuple[int | None, str]] = {}
        self.seen_op = False

    # -- helpers -------------------------------------------------------------------------
    def emit(self, t: int, process: int | str, typ: str, f: str, **fields: Any) -> None:
        self.events.append((t, len(self.events), process, typ, f, fields))

    def ops(self) -> tuple[Op, ...]:
        """Events ordered by time; lines at the same time keep their written order."""
        ordered = sorted(self.events, key=lambda e: (e[0], e[1]))
        return tuple(
            Op(index=i, time=t, process=proc, type=typ, f=f, **fields)
            for i, (t, _seq, proc, typ, f, fields) in enumerate(ordered)
        )

    def node_names(self) -> list[str]:
        return [n["name"] for n in self.nodes]

    def claim(
        self, proc: int | str, t0: int, t1: int | None, where: str, who: str, fix: str
    ) -> None:
        """``proc`` runs one thing at a time: busy from ``t0`` until ``t1`` (``None``: for
        good), unless its last line still runs then."""
        busy = self.busy.get(proc)
        if busy is not None and (busy[0] is None or t0 < busy[0]):
            until = "never completes" if busy[0] is None else f"runs until {busy[0] / 1e6:g} ms"
            raise HistoryError(
                f"{where}: {who} is still busy: its line {busy[1]} {until}; it does one thing "
                f"at a time, so {fix}"
            )
        self.busy[proc] = (t1, where)

    def check_node(self, name: str, where: str) -> str:
        if self.nodes and name not in self.node_names():
            raise HistoryError(f"{where}: unknown node {name!r}; declare it with 'nodes'")
        return name

    # -- directives ----------------------------------------------------------------------
    def directive(self, words: list[str], where: str) -> bool:
        head = words[0]
        if head in _DIRECTIVES and self.seen_op:
            raise HistoryError(
                f"{where}: '{head}' is a directive; move it above the first operation"
            )
        if head == "mode":
            if len(words) != 2 or words[1] not in ("none", "sync", "async"):
                raise HistoryError(f"{where}: write 'mode none', 'mode sync' or 'mode async'")
            self.mode = words[1]
        elif head == "params":
            for w in words[1:]:
                k, _, v = w.partition("=")
                pattern = r"[1-9]\d*" if k == "K" else r"\d+(\.\d+)?"
                if k not in _PARAM_KEYS or not re.fullmatch(pattern, v):
                    raise HistoryError(
                        f"{where}: bad param {w!r}; use K=<whole number ≥ 1> and L=, timeout=, "
                        "tolerance=, recovery= in ms"
                    )
                name, _unit = _PARAM_KEYS[k]
                self.params[name] = int(v) if k == "K" else float(v)
        elif head == "nodes":
            if len(words) < 2:
                raise HistoryError(f"{where}: write nodes as name@az, e.g. 'nodes n1@a n2@b'")
            for w in words[1:]:
                name, sep, az = w.partition("@")
                if not sep or not name or not az:
                    raise HistoryError(f"{where}: write nodes as name@az, e.g. 'nodes n1@a n2@b'")
                if name in self.node_names():
                    raise HistoryError(
                        f"{where}: node {name!r} is declared twice; give each node its own name"
                    )
                self.nodes.append({"name": name, "az": az})
            if self.primary is None and self.nodes:
                self.primary = self.nodes[0]["name"]
        elif head == "primary":
            if len(words) != 2:
                raise HistoryError(f"{where}: write 'primary NODE', e.g. 'primary n1'")
            if not self.nodes:
                raise HistoryError(
                    f"{where}: 'primary' names one of the nodes; declare them above it "
                    "('nodes n1@a n2@b')"
                )
            self.primary = self.check_node(words[1], where)
        elif head == "durable-restart":
            if words[1:] not in (["yes"], ["no"]):
                raise HistoryError(f"{where}: write 'durable-restart yes' or 'durable-restart no'")
            self.durable_restart = words[1:] == ["yes"]
        else:
            return False
        return True

    # -- faults --------------------------------------------------------------------------
    def fault_effects(self, f: str, args: list[str], where: str) -> list[dict[str, Any]]:
        everyone = [*self.node_names(), "client"]

        def need(n: int) -> None:
            if len(args) != n:
                raise HistoryError(f"{where}: '{f}' takes {n} argument(s)")

        eff: list[dict[str, Any]] = []
        if f in ("kill", "pause"):
            need(1)
            n = self.check_node(args[0], where)
            self.down.add(n)
            if f == "kill":
                self.killed.add(n)
            eff.append({"down": n})
        elif f == "resume":
            need(1)
            n = self.check_node(args[0], where)
            self.down.discard(n)
            eff.append({"up": n})
        elif f in ("restart", "wipe-restart"):
            need(1)
            n = self.check_node(args[0], where)
            if f == "wipe-restart" or not self.durable_restart:
                eff.append({"lose-data": n})
            self.down.discard(n)
            self.killed.discard(n)
            eff.append({"up": n})
        elif f == "partition":
            need(1)
            n = self.check_node(args[0], where)
            for other in everyone:
                if other != n:
                    for pair in ((n, other), (other, n)):
                        self.cuts.add(pair)
                        eff.append({"cut": list(pair)})
        elif f in ("cut", "heal-link", "slow-link"):
            need(2)
            for n in args:
                if n != "client":
                    self.check_node(n, where)
            pair = (args[0], args[1])
            key = {"cut": "cut", "heal-link": "heal-link", "slow-link": "slow"}[f]
            (self.cuts.add if f == "cut" else self.cuts.discard)(pair)
            if f == "slow-link":
                self.slow.add(pair)
            eff.append({key: list(pair)})
        elif f in ("failover", "failover-to"):
            need(1)
            n = self.check_node(args[0], where)
            eff.append({"promote": n, "by": "offset" if f == "failover" else "named"})
            self.primary = n
        elif f == "az-outage":
            need(1)
            members = [x["name"] for x in self.nodes if x["az"] == args[0]]
            if not members:
                raise HistoryError(f"{where}: no node is in AZ {args[0]!r}")
            for n in members:
                self.down.add(n)
                self.killed.add(n)
                eff.extend([{"down": n}, {"lose-data": n}])
        elif f == "rejoin":
            need(1)
            n = self.check_node(args[0], where)
            eff.append({"replicate": n, "from": self.primary})
        elif f == "synced":
            need(1)
            eff.append({"synced": self.check_node(args[0], where)})
        elif f == "heal":
            need(0)
            for pair in sorted(self.cuts):
                eff.append({"heal-link": list(pair)})
            for pair in sorted(self.slow):
                eff.append({"fast": list(pair)})
            for n in sorted(self.down):
                if n in self.killed and not self.durable_restart:
                    eff.append({"lose-data": n})
                eff.append({"up": n})
            self.cuts.clear()
            self.slow.clear()
            self.down.clear()
            self.killed.clear()
        else:
            raise HistoryError(f"{where}: unknown fault {f!r}; the faults are {_FAULTS}")
        return eff

    # -- one op line ---------------------------------------------------------------------
    def op_line(self, words: list[str], where: str) -> None:
        m = _TIME.match(words[0])
        if m is None:
            raise HistoryError(f"{where}: a line starts with a time in ms ('5' or '5..9')")
        t0 = _ns(m.group(1))
        t1 = _ns(m.group(2)) if m.group(2) else t0
        if max(t0, t1) >= _MAX_NS:
            raise HistoryError(
                f"{where}: a time of 2^62 ns (about 146 years) or more does not fit the clock; "
                "write times in ms from the start of the history"
            )
        if t1 < t0:
            raise HistoryError(f"{where}: completion time precedes invocation time")
        if t0 < self.last_invoke:
            raise HistoryError(
                f"{where}: invocation at {t0 / 1e6:g} ms precedes the line above; "
                "write lines in order of invocation time"
            )
        self.last_invoke = t0
        self.seen_op = True
        if self.initial_primary is None:
            self.initial_primary = self.primary
        if len(words) < 3:
            raise HistoryError(f"{where}: expected TIME PROCESS ACTION ...")
        proc_word, action, rest = words[1], words[2], words[3:]
        final = False
        node: str | None = None
        while rest and (rest[-1] == "final" or rest[-1].startswith("@")):
            tail = rest.pop()
            if tail == "final":
                final = True
            else:
                node = self.check_node(tail[1:], where)
        outcome: list[str] = []
        arrow = "->" in rest
        if arrow:
            i = rest.index("->")
            rest, outcome = rest[:i], rest[i + 1 :]
        misplaced = [w for w in rest if w == "final" or w.startswith("@")]
        if misplaced and outcome:
            raise HistoryError(
                f"{where}: {misplaced[0]!r} comes after the outcome: "
                "TIME PROCESS ACTION ARGS -> OUTCOME @NODE final"
            )
        if proc_word in ("nemesis", "observer") and (outcome or node is not None or final):
            raise HistoryError(
                f"{where}: {proc_word} lines take no '-> OUTCOME', '@NODE' or 'final'; "
                "write only the action and its arguments"
            )
        if proc_word in ("nemesis", "observer"):
            self.claim(proc_word, t0, t1, where, f"the {proc_word}", "start this at or after that")
        if proc_word == "nemesis":
            eff = self.fault_effects(action, rest, where)
            value: dict[str, Any] = {}
            if rest:
                value = {"args": rest}
            self.emit(t0, "nemesis", "invoke", action, value=value or None)
            self.emit(t1, "nemesis", "ok", action, value={**value, "effects": eff})
            return
        if proc_word == "observer":
            if action != "lag" or len(rest) != 2 or not re.fullmatch(r"\d+", rest[1]):
                raise HistoryError(
                    f"{where}: write 'observer lag NODE MS' with MS a whole number of ms"
                )
            n = self.check_node(rest[0], where)
            self.emit(t0, "observer", "invoke", "lag", node=n)
            self.emit(t1, "observer", "ok", "lag", node=n, value=int(rest[1]))
            return
        pm = re.fullmatch(r"p(\d+)", proc_word)
        if pm is None:
            raise HistoryError(f"{where}: process is p0, p1, …, nemesis or observer")
        proc = int(pm.group(1))
        if arrow and not outcome:
            raise HistoryError(f"{where}: '->' needs an outcome: ok, fail, info or pending")
        typ = outcome[0] if outcome else "ok"
        if typ not in ("ok", "fail", "info", "pending"):
            raise HistoryError(f"{where}: outcome is ok, fail, info or pending; got {typ!r}")
        if (typ == "pending" or (typ == "ok" and action in _WRITES)) and outcome[1:]:
            raise HistoryError(
                f"{where}: nothing follows '-> {typ}' here (only a read's value follows ok, "
                f"and an error follows fail or info); got {' '.join(outcome[1:])!r}"
            )
        if action not in _WRITES and action not in _READS:
            raise HistoryError(
                f"{where}: unknown action {action!r}; clients write with set, append, add, incr "
                "and read with get, lrange, smembers, count"
            )
        self.claim(
            proc, t0, None if typ == "pending" else t1, where, proc_word, "use another process"
        )
        err = " ".join(outcome[1:]) or None if typ in ("fail", "info") else None
        if action in _WRITES:
            workload = _WRITES[action]
            if len(rest) != 2:
                raise HistoryError(f"{where}: write '{action} KEY VALUE'")
            key, raw = rest
            wval: Any = raw
            if workload == "counter":
                if not re.fullmatch(r"-?\d+", raw):
                    raise HistoryError(f"{where}: 'incr KEY D' takes an integer D")
                wval = int(raw)
            elif not _WORD.fullmatch(raw) or (workload == "register" and raw in _EMPTY):
                # A read shows values as words (a list's split on spaces, nil for none): a
                # value it could not show would be judged missing, or a phantom.
                raise HistoryError(
                    f"{where}: {raw!r} cannot be read back in this language (a value is one "
                    "word, without brackets or quotes, and not nil or null); use e.g. w1"
                )
            self.emit(t0, proc, "invoke", "write", workload=workload, key=key, value=wval)
            if typ != "pending":
                self.emit(
                    t1,
                    proc,
                    typ,
                    "write",
                    workload=workload,
                    key=key,
                    value=wval,
                    error=err,
                    node=node,
                    final=final,
                )
            return
        if action in _READS:
            workload = _READS[action]
            if len(rest) != 1:
                raise HistoryError(f"{where}: write '{action} KEY -> ok VALUE'")
            key = rest[0]
            self.emit(
                t0, proc, "invoke", "read", workload=workload, key=key, value=None, final=final
            )
            if typ == "pending":
                return
            rval = _read_value(outcome[1:], workload, where) if typ == "ok" else None
            self.emit(
                t1,
                proc,
                typ,
                "read",
                workload=workload,
                key=key,
                value=rval,
                error=err,
                node=node,
                final=final,
            )
            return
        raise AssertionError(f"{where}: unreachable: {action!r}")  # pragma: no cover


def parse_text(text: str, source: str = "<text>") -> History:
    """Parse the text language into a :class:`History` (see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(
            f"parse_text() takes the history's text as a str, not a {type(text).__name__}; "
            "read the file as text (Path.read_text) or decode the bytes first"
        )
    p = _Parser(source)
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write first
    for lineno, line in enumerate(text.splitlines(), start=1):
        where = f"{source}:{lineno}"
        problem = _altered_unquoted(line)
        if problem is not None:
            raise HistoryError(f"{where}: {problem}")
        try:  # (a # outside quotes starts a comment; inside them it is text)
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise HistoryError(
                f"{where}: {exc}; put text holding an apostrophe in double quotes"
            ) from None
        if not words:
            continue
        if p.directive(words, where):
            continue
        p.op_line(words, where)
    topology = None
    if p.nodes:
        first = p.initial_primary or p.primary or p.nodes[0]["name"]
        topology = {"nodes": p.nodes, "primary": first}
    header = Header(
        mode=p.mode, params=p.params, topology=topology, durable_restart=p.durable_restart
    )
    return History(header=header, ops=p.ops())
