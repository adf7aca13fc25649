"""Per-client figures: what valkey-py and Valkey GLIDE do when async writes are rejected.

    python bench/client_retries.py [--repeat 3] [--lag-limit-ms 300] [--json FILE]

For each client configuration, runs ``harness.cluster._probe.probe_client`` against a fresh
bundled cluster in async mode (one writer, 10 ms between writes): healthy for 1 s, both
replicas partitioned for 2 s (the lag passes the limit and the primary answers CLUSTERDOWN),
healed for 3 s (the lag drains), then the primary killed for 1 s and restarted for 3 s. It
prints, per client: the rejections the primary counted against the rejected calls the
writer saw (a difference would be retries hidden inside the client), the time from the heal
(and from the restart) to the first accepted write, and per phase the outcomes and call
latencies (median over the repeats of each figure). docs/clients.md quotes its output.
A script that prints figures, never a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.cluster._probe import ClientProbe, probe_client
from harness.targets import Target, load_target, parse_target

CONFIGS: dict[str, dict[str, Any]] = {
    "valkey-py": {},
    "glide (timeouts = the target's 3000 ms)": {"client": "glide"},
    "glide (request and connection 250 ms, reconnect 5 x 50 ms)": {
        "client": "glide",
        "glide": {
            "request_timeout_ms": 250,
            "connection_timeout_ms": 250,
            "reconnect": {"retries": 5, "factor_ms": 50},
        },
    },
}


def _target(overrides: dict[str, Any]) -> Target:
    if not overrides:
        return load_target("bundled")
    return parse_target(
        {"extends": "bundled", "name": "bundled-client", **overrides}, "bench:client_retries"
    )


def _median(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return None if not present else round(statistics.median(present), 2)


def _row(label: str, probes: list[ClientProbe]) -> dict[str, Any]:
    phases: dict[str, dict[str, Any]] = {}
    for name in [p.phase for p in probes[0].phases]:
        mine = [next(ph for ph in p.phases if ph.phase == name) for p in probes]
        errors: dict[str, list[int]] = {}
        for ph in mine:
            for word, count in ph.errors.items():
                errors.setdefault(word, []).append(count)
        phases[name] = {
            "writes": _median([ph.writes for ph in mine]),
            "ok": _median([ph.ok for ph in mine]),
            "fail": _median([ph.fail for ph in mine]),
            "info": _median([ph.info for ph in mine]),
            "p50_ms": _median([ph.p50_ms for ph in mine]),
            "p99_ms": _median([ph.p99_ms for ph in mine]),
            "max_ms": _median([ph.max_ms for ph in mine]),
            "errors": {w: _median(c) for w, c in errors.items()},
        }
    return {
        "config": label,
        "client": probes[0].client,
        "settings": probes[0].settings,
        "server_rejections": _median([p.server_rejections for p in probes]),
        "rejected_calls": _median([p.client_rejections for p in probes]),
        "hidden_retries": [p.hidden_retries for p in probes],
        "first_ok_after_heal_ms": _median([p.first_ok_after_heal_ms for p in probes]),
        "first_ok_after_restart_ms": _median([p.first_ok_after_restart_ms for p in probes]),
        "phases": phases,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lag-limit-ms", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ackbound-clients-") as tmp:
        for i, (label, overrides) in enumerate(CONFIGS.items()):
            probes = [
                probe_client(
                    _target(overrides),
                    run_dir=Path(tmp) / f"c{i}-r{r}",
                    lag_limit_ms=args.lag_limit_ms,
                )
                for r in range(args.repeat)
            ]
            rows.append(_row(label, probes))
            print(f"done: {label}", file=sys.stderr)
    print(f"lag limit {args.lag_limit_ms} ms; median of {args.repeat} runs per figure\n")
    print(
        "| client | server rejections | rejected calls | hidden retries | first ok after drain ms | first ok after restart ms |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['config']} | {r['server_rejections']} | {r['rejected_calls']} | "
            f"{', '.join(map(str, r['hidden_retries']))} | {r['first_ok_after_heal_ms']} | "
            f"{r['first_ok_after_restart_ms']} |"
        )
    print()
    print("| client | phase | writes | ok | fail | info | p50 ms | p99 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        for name, ph in r["phases"].items():
            errors = ", ".join(f"{w} {c:g}" for w, c in ph["errors"].items()) or "-"
            print(
                f"| {r['config']} | {name} | {ph['writes']:g} | {ph['ok']:g} | {ph['fail']:g} | "
                f"{ph['info']:g} | {ph['p50_ms']} | {ph['p99_ms']} | {ph['max_ms']} | {errors} |"
            )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
