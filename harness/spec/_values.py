"""Reading the TLA+ values TLC prints (trace states, dumps) and writes in configs.

TLC prints values in a small, regular subset of TLA+:

=========================  ===============================  ======================
TLA+                       example                          Python
=========================  ===============================  ======================
integer                    ``-3``                           ``int``
string                     ``"ok"``                         ``str``
boolean                    ``TRUE``                         ``bool``
model value                ``n1``                           :class:`ModelValue`
set                        ``{n1, n2}``                     ``frozenset``
sequence / tuple           ``<<1, 2>>``                     ``tuple``
record                     ``[at |-> 0, term |-> 1]``       ``dict`` (str keys)
function                   ``(n1 :> TRUE @@ n2 :> FALSE)``  ``dict``
=========================  ===============================  ======================

A set whose elements are not hashable (records) becomes a tuple in the order printed.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ModelValue", "TlaSyntaxError", "format_value", "parse_value"]


class ModelValue(str):
    """A TLC model value (an uninterpreted constant such as a node name)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"ModelValue({str(self)!r})"


class TlaSyntaxError(ValueError):
    """Text that is not a TLA+ value of the subset TLC prints."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>-?\d+)
      | (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<sym><<|>>|\|->|:>|@@|[{}\[\](),])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise TlaSyntaxError(
                f"unexpected {text[pos : pos + 20]!r} at offset {pos} in a TLA+ value"
            )
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise TlaSyntaxError(f"the TLA+ value {self.text!r} ends early")
        if expected is not None and tok[1] != expected:
            raise TlaSyntaxError(f"expected {expected!r} but found {tok[1]!r} in {self.text!r}")
        self.i += 1
        return tok

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return int(text)
        if kind == "str":
            return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if kind == "name":
            if text == "TRUE":
                return True
            if text == "FALSE":
                return False
            return ModelValue(text)
        if text == "{":
            items = self.items("}")
            try:
                return frozenset(items)
            except TypeError:
                return tuple(items)
        if text == "<<":
            return tuple(self.items(">>"))
        if text == "[":
            record: dict[str, Any] = {}
            if self.peek() == ("sym", "]"):
                self.take()
                return record
            while True:
                _, field = self.take()
                self.take("|->")
                record[field] = self.value()
                if self.take()[1] == "]":
                    return record
        if text == "(":
            fn: dict[Any, Any] = {}
            while True:
                key = self.value()
                self.take(":>")
                fn[key] = self.value()
                sep = self.take()[1]
                if sep == ")":
                    return fn
                if sep != "@@":
                    raise TlaSyntaxError(f"expected '@@' or ')' but found {sep!r}")
        raise TlaSyntaxError(f"unexpected {text!r} in the TLA+ value {self.text!r}")

    def items(self, close: str) -> list[Any]:
        items: list[Any] = []
        if self.peek() == ("sym", close):
            self.take()
            return items
        while True:
            items.append(self.value())
            sep = self.take()[1]
            if sep == close:
                return items
            if sep != ",":
                raise TlaSyntaxError(f"expected ',' or {close!r} but found {sep!r}")


def parse_value(text: str) -> Any:
    """The Python value of one TLA+ value as TLC prints it (see the module docstring)."""
    p = _Parser(text)
    v = p.value()
    if p.peek() is not None:
        raise TlaSyntaxError(f"trailing text after the TLA+ value in {text!r}")
    return v


def format_value(v: Any) -> str:
    """The TLA+ text of a value :func:`parse_value` returns (sets and functions sorted)."""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, ModelValue):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, frozenset):
        return "{" + ", ".join(sorted(format_value(x) for x in v)) + "}"
    if isinstance(v, tuple):
        return "<<" + ", ".join(format_value(x) for x in v) + ">>"
    if isinstance(v, dict):
        if all(isinstance(k, str) and not isinstance(k, ModelValue) for k in v):
            return "[" + ", ".join(f"{k} |-> {format_value(x)}" for k, x in v.items()) + "]"
        parts = sorted(f"{format_value(k)} :> {format_value(x)}" for k, x in v.items())
        return "(" + " @@ ".join(parts) + ")"
    raise TypeError(f"{v!r} is not a TLA+ value parse_value returns")
