"""The history format: what a run did and saw, as flat Jepsen-style ops.

Read docs/history.md for the format. In short: ``load_history(path)`` reads
``history.ndjson`` (or a gzip of it), ``read_history(stream)`` one from a stream such as
standard input; ``HistoryWriter`` records a run as it happens; ``pair_ops`` pairs each
invocation with its completion; ``parse_text`` reads the tiny text language used in tests.
"""

from harness.history._io import (
    Columns,
    History,
    HistoryError,
    HistoryWriter,
    dump_history,
    gc_paused,
    load_history,
    parse_lines,
    read_history,
)
from harness.history._op import (
    COMPLETIONS,
    FORMAT,
    NEMESIS,
    OBSERVER,
    OP_TYPES,
    VERSION,
    WAIT_FAILED,
    WAIT_SHORT,
    WORKLOADS,
    Header,
    Op,
    OpType,
    Process,
    applied_error,
)
from harness.history._pairs import Pair, pair_ops
from harness.history._text import parse_text

__all__ = [
    "COMPLETIONS",
    "FORMAT",
    "NEMESIS",
    "OBSERVER",
    "OP_TYPES",
    "VERSION",
    "WAIT_FAILED",
    "WAIT_SHORT",
    "WORKLOADS",
    "Columns",
    "Header",
    "History",
    "HistoryError",
    "HistoryWriter",
    "Op",
    "OpType",
    "Pair",
    "Process",
    "applied_error",
    "dump_history",
    "gc_paused",
    "load_history",
    "pair_ops",
    "parse_lines",
    "parse_text",
    "read_history",
]
