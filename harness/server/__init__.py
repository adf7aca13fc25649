"""The bundled reference server: an asyncio RESP server with primary/replica replication and
the ``none``, ``sync`` and ``async`` durability modes, plus seeded bugs.

The harness starts it as a subprocess (``python -m harness.server --port P ...``), exactly as
it starts valkey-server, and never imports it; docs/server.md is the user manual. This
package imports ``harness.resp`` and the standard library only (hiredis and uvloop when
installed), never ``models``: it is an independent implementation of the semantics.
"""

from __future__ import annotations

from harness.server._bugs import BUGS, Bug
from harness.server._cli import PASSWORD_ENV, register, run
from harness.server._config import ServerConfig

__all__ = ["BUGS", "PASSWORD_ENV", "Bug", "ServerConfig", "register", "run"]
