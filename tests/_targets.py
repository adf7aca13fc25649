"""Target files the tests write: an external cluster of two nodes nobody listens on."""

from __future__ import annotations


def two_node_external(name: str, *, more: str = "", mode: str = "sync") -> str:
    """A target file for an external cluster of nodes a and b (ports 9 and 10 of loopback,
    in AZs z1 and z2), with ``more`` (tables) before its replication, and one mode."""
    write = "wait" if mode == "sync" else "plain"
    return f"""\
name = "{name}"
kind = "external"
[external]
primary = "a"
nodes = [
  {{name = "a", host = "127.0.0.1", port = 9, az = "z1"}},
  {{name = "b", host = "127.0.0.1", port = 10, az = "z2"}},
]
{more}[replication]
replicaof = [["REPLICAOF", "{{primary_host}}", "{{primary_port}}"]]
promote = [["REPLICAOF", "NO", "ONE"]]
[modes.{mode}]
write = "{write}"
"""
