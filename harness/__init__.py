"""ackbound's harness: everything that talks to servers, judges histories and reports.

The pure reference model lives in the top-level ``models`` package; the harness depends on
it, never the other way round. Subpackages:

- ``harness.resp``     sans-IO RESP2/RESP3 codec (imports nothing else from the repo)
- ``harness.server``   the bundled reference server (imports ``harness.resp`` only)
- ``harness.history``  the history format: ops, ndjson reader/writer, text language
- ``harness.checker``  the durability checker: every property by name, verdicts as data
- ``harness.targets``, ``harness.cluster``, ``harness.faults``  running and breaking servers
- ``harness.run``      the Hypothesis stateful conformance run
- ``harness.cli``      the ``ackbound`` command
"""

__all__: list[str] = []
