"""Clusters: run a target as a primary and replicas (local processes or Docker) and break it.

``start_cluster(target, backend=..., mode=..., run_dir=..., history=...)`` starts nodes in
AZs, routes every replication and client link through the fault proxy, and returns a
:class:`Cluster` — a context manager that always tears everything down. The cluster applies
faults by name (``cluster.apply("partition", node="n2")``), records each as a ``nemesis`` op
with its effects, runs client ops with the target's write protocol (``cluster.perform``), and
waits for recovery. See docs/faults.md for what each fault does and records.
"""

from harness.cluster._backend import (
    Backend,
    ClusterError,
    ExitExplained,
    Killable,
    NodeSpec,
    Pausable,
    Wipeable,
)
from harness.cluster._client import (
    CLIENT_FACTORIES,
    ClientAuthError,
    ClientConnectionError,
    ClientError,
    ClientRefused,
    ClientTimeout,
    ClientTLSError,
    ConnectOptions,
    RespClient,
    ServerError,
    client_version,
    connect,
)
from harness.cluster._cluster import (
    BACKENDS,
    CLIENT,
    Cluster,
    NodeInfo,
    history_header,
    start_cluster,
    topology,
)
from harness.cluster._perform import Outcome, perform

__all__ = [
    "BACKENDS",
    "CLIENT",
    "CLIENT_FACTORIES",
    "Backend",
    "ClientAuthError",
    "ClientConnectionError",
    "ClientError",
    "ClientRefused",
    "ClientTLSError",
    "ClientTimeout",
    "Cluster",
    "ClusterError",
    "ConnectOptions",
    "ExitExplained",
    "Killable",
    "NodeInfo",
    "NodeSpec",
    "Outcome",
    "Pausable",
    "RespClient",
    "ServerError",
    "Wipeable",
    "client_version",
    "connect",
    "history_header",
    "perform",
    "start_cluster",
    "topology",
]
