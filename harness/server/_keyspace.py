"""The dataset: strings, lists and sets in one dict, with absolute-time expiry.

Expiry is lazy: a key whose deadline passed is treated as missing when looked up. Only a
primary deletes it (and propagates the DEL, so replicas stay byte-identical); a replica just
hides it until its primary's DEL arrives, as Valkey does.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import cast

from harness.resp import encode_command

__all__ = ["Keyspace", "Value", "WrongType", "glob_to_regex"]

Value = bytes | deque[bytes] | set[bytes]


class WrongType(Exception):
    """A command met a key holding another type."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _byte_range(first: int, last: int) -> bytes:
    """A regex class body for Valkey's range ``first-last``, which compares bytes as C's
    signed ``char``: 0x80-0xff sort below 0x00 (``[\xff-a]`` holds 0xff and 0x00-a)."""
    low, high = sorted((first - 256 if first > 127 else first, last - 256 if last > 127 else last))
    spans = []
    if high >= 0:
        spans.append((max(low, 0), high))
    if low < 0:
        spans.append((low + 256, min(high, -1) + 256))
    return b"".join(re.escape(bytes([a])) + b"-" + re.escape(bytes([b])) for a, b in spans)


def glob_to_regex(pattern: bytes) -> re.Pattern[bytes]:
    """Translate a Valkey glob (``*``, ``?``, ``[a-z]``, ``[^x]``, ``\\x``) to a regex.

    Every pattern is one, read as Valkey's ``stringmatchlen`` reads it: a reversed range
    ``[z-a]`` is ``[a-z]`` (bytes compared signed, as C's ``char``), ``[]`` matches nothing and ``[^]`` any one byte, a ``]`` right
    after ``[`` or ``[^`` closes the class, and a class left open runs to the pattern's end;
    the empty string matches the empty pattern only (KEYS ``*`` lists every key without it).

    In linear time, as Valkey's matcher runs: each run of literals between two stars is an
    atomic group that takes its earliest match and is never tried again (the earliest is
    always as good as any later one), so ``*a*a*a*a*a*a b`` against a long key of ``a``s
    does not backtrack through every way of placing its ``a``s.
    """
    parts: list[bytes] = []  # the pattern between its stars, each translated
    out = bytearray()
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # *
            parts.append(bytes(out))
            out = bytearray()
        elif c == 0x3F:  # ?
            out += b"."
        elif c == 0x5C and i + 1 < n:  # backslash: the next byte literally
            i += 1
            out += re.escape(pattern[i : i + 1])
        elif c == 0x5B:  # [
            i += 1
            negate = i < n and pattern[i] == 0x5E  # ^
            if negate:
                i += 1
            members = bytearray()
            while i < n and pattern[i] != 0x5D:  # up to ], or the end of the pattern
                if pattern[i] == 0x5C and i + 1 < n:
                    i += 1
                    members += re.escape(pattern[i : i + 1])
                elif i + 2 < n and pattern[i + 1] == 0x2D:  # x-y (either way round)
                    members += _byte_range(pattern[i], pattern[i + 2])
                    i += 2
                else:
                    members += re.escape(pattern[i : i + 1])
                i += 1
            if members:
                out += b"[" + (b"^" if negate else b"") + bytes(members) + b"]"
            else:
                out += b"." if negate else b"(?!)"
        else:
            out += re.escape(pattern[i : i + 1])
        i += 1
    parts.append(bytes(out))
    body = parts[0]
    if len(parts) > 1:
        body += b"".join(b"(?>.*?" + part + b")" for part in parts[1:-1]) + b".*" + parts[-1]
    if n:  # Valkey matches an empty string only against the empty pattern
        body = b"(?=.)" + body
    return re.compile(body + rb"\Z", re.DOTALL)


class Keyspace:
    """One database (Valkey's db 0)."""

    __slots__ = ("data", "expires", "is_primary", "on_expire")

    def __init__(self) -> None:
        self.data: dict[bytes, Value] = {}
        self.expires: dict[bytes, int] = {}
        self.is_primary = True
        self.on_expire: list[bytes] = []
        """Keys a primary deleted because they expired; the server propagates DELs."""

    def __len__(self) -> int:
        return len(self.data)

    def get(self, key: bytes) -> Value | None:
        value = self.data.get(key)
        if value is None or not self.expires:
            return value
        deadline = self.expires.get(key)
        if deadline is not None and deadline <= _now_ms():
            if self.is_primary:
                del self.data[key]
                del self.expires[key]
                self.on_expire.append(key)
            return None
        return value

    def get_str(self, key: bytes) -> bytes | None:
        value = self.get(key)
        if value is None or type(value) is bytes:
            return value
        raise WrongType

    def get_list(self, key: bytes, create: bool = False) -> deque[bytes] | None:
        value = self.get(key)
        if value is None:
            if not create:
                return None
            fresh: deque[bytes] = deque()
            self.data[key] = fresh
            return fresh
        if type(value) is deque:
            return value
        raise WrongType

    def get_set(self, key: bytes, create: bool = False) -> set[bytes] | None:
        value = self.get(key)
        if value is None:
            if not create:
                return None
            fresh: set[bytes] = set()
            self.data[key] = fresh
            return fresh
        if type(value) is set:
            return value
        raise WrongType

    def set(self, key: bytes, value: Value, expire_at_ms: int | None = None) -> None:
        self.data[key] = value
        if expire_at_ms is not None:
            self.expires[key] = expire_at_ms
        elif self.expires:
            self.expires.pop(key, None)

    def delete(self, key: bytes) -> bool:
        if self.get(key) is None:
            return False
        del self.data[key]
        self.expires.pop(key, None)
        return True

    def flush(self) -> None:
        self.data.clear()
        self.expires.clear()

    def live_keys(self) -> list[bytes]:
        return [k for k in list(self.data) if self.get(k) is not None]

    def dump_commands(self) -> Iterator[bytes]:
        """The dataset as RESP commands that rebuild it (snapshots and AOF rewrites)."""
        for key, value in self.data.items():
            if type(value) is bytes:
                yield encode_command(b"SET", key, value)
            elif type(value) is deque:
                items = iter(value)  # one pass: copying or indexing a deque per chunk is O(n²)
                while chunk := list(islice(items, 512)):
                    yield encode_command(b"RPUSH", key, *chunk)
            else:
                members: list[bytes] = sorted(cast("set[bytes]", value))
                for start in range(0, len(members), 512):
                    yield encode_command(b"SADD", key, *members[start : start + 512])
            deadline = self.expires.get(key)
            if deadline is not None:
                yield encode_command(b"PEXPIREAT", key, deadline)

    def digest(self) -> str:
        """A hex digest of the dataset that does not depend on insertion order (DEBUG DIGEST).

        Forty zeros for an empty dataset, like Valkey.
        """
        if not self.data:
            return "0" * 40
        total = 0
        for key, value in self.data.items():
            h = hashlib.sha1(key)
            if type(value) is bytes:
                h.update(b"\x00s" + value)
            elif type(value) is deque:
                h.update(b"\x00l")
                for item in value:
                    h.update(b"%d:" % len(item) + item)
            else:
                h.update(b"\x00e")
                for member in sorted(cast("set[bytes]", value)):
                    h.update(b"%d:" % len(member) + member)
            deadline = self.expires.get(key)
            if deadline is not None:
                h.update(b"\x00x%d" % deadline)
            total ^= int.from_bytes(h.digest(), "big")
        return f"{total:040x}"
