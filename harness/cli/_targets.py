"""``ackbound targets``: list the targets, show one, validate target files."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness._errors import EXIT_COULD_NOT_RUN, EXIT_VALID, AckboundError

__all__ = ["register", "run"]


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("list", help="list built-in and plugin targets (the default)")
    show = sub.add_parser("show", help="validate a target and print what it says")
    show.add_argument("target", help="bundled, valkey, redis, a plugin name or a TOML file")
    show.add_argument("--json", action="store_true", help="print JSON")
    check = sub.add_parser("check", help="validate target files; exit 3 on the first error")
    check.add_argument("files", nargs="+", metavar="FILE")


def _summary(spec: str) -> dict[str, Any]:
    from harness.targets import load_target

    t = load_target(spec)
    binary: str | None = None
    binary_error: str | None = None
    if t.binary is not None:
        try:
            binary = t.locate_binary()
        except AckboundError as exc:
            binary_error = str(exc)
    return {
        "name": t.name,
        "description": t.description,
        "source": t.source,
        "kind": t.kind,
        "client": t.client,
        "modes": {
            m: {"write": t.modes[m].write, "setup": [list(c) for c in t.modes[m].setup]}
            for m in t.supported_modes
        },
        "lag_limit": {"granularity_ms": t.lag_limit_granularity_ms, "min_ms": t.lag_limit_min_ms},
        "reports_lag": t.lag is not None,
        "tolerance_s": t.tolerance_s,
        "recovery_s": t.recovery_s,
        "durable_restart": t.durable_restart,
        "docker_image": t.docker.image if t.docker else None,
        "binary": binary,
        "binary_error": binary_error,
        "capabilities": sorted(t.capabilities()),
        "errors": dict(sorted(t.errors.entries.items())),
        "tls": None if t.tls is None else {k: v for k, v in asdict(t.tls).items() if v},
        # where the password is, never the password
        "auth": None
        if t.auth is None
        else {"user": t.auth.user or "default", "password_from": t.auth.where()},
        "glide": None if t.glide is None else asdict(t.glide),
    }


def run(args: argparse.Namespace) -> int:
    from harness.targets import available_targets, load_target_file

    action = args.action or "list"
    if action == "list":
        rows = []
        for name, source in available_targets().items():
            status = source
            if name != "external":
                try:
                    s = _summary(name)
                    status = f"{', '.join(s['modes'])}; " + (
                        s["binary"] or s["binary_error"] or "no binary needed"
                    )
                except AckboundError as exc:
                    status = f"cannot load: {exc}"
            rows.append((name, status))
        width = max(len(r[0]) for r in rows)
        for name, status in rows:
            print(f"{name:<{width}}  {status}")
        return EXIT_VALID
    if action == "show":
        s = _summary(args.target)
        if args.json:
            print(json.dumps(s, indent=2))
            return EXIT_VALID
        print(f"{s['name']}: {s['description']}")
        print(f"  source          {s['source']} ({s['kind']})")
        for mode, m in s["modes"].items():
            setup = "; ".join(" ".join(c) for c in m["setup"]) or "(nothing)"
            print(f"  mode {mode:<10} write={m['write']}; setup: {setup}")
        print(
            f"  lag limit       step {s['lag_limit']['granularity_ms']} ms, "
            f"min {s['lag_limit']['min_ms']} ms; reports lag: {'yes' if s['reports_lag'] else 'no'}"
        )
        print(f"  tolerance       {s['tolerance_s']:g} s; recovery allowance {s['recovery_s']:g} s")
        print(f"  durable restart {'yes' if s['durable_restart'] else 'no'}")
        print(f"  client          {s['client']}")
        if s["tls"] is not None:
            verify = (
                "no verification"
                if s["tls"].get("insecure")
                else (f"CA {s['tls'].get('ca_file', 'the system store')}")
            )
            mtls = "; client certificate" if s["tls"].get("cert_file") else ""
            print(f"  tls             yes; {verify}{mtls}")
        if s["auth"] is not None:
            print(
                f"  auth            user {s['auth']['user']}, password from {s['auth']['password_from']}"
            )
        if s["binary"] or s["binary_error"]:
            print(f"  binary          {s['binary'] or s['binary_error']}")
        if s["docker_image"]:
            print(f"  docker image    {s['docker_image']}")
        print(f"  capabilities    {', '.join(s['capabilities'])}")
        return EXIT_VALID
    for path in args.files:
        if path in available_targets() and not Path(path).exists():
            raise AckboundError(
                f"{path!r} is a target name, not a file: 'targets check' validates target "
                f"files; use 'ackbound targets show {path}' to see it validated"
            )
        t = load_target_file(path)
        if t.auth is not None and t.auth.password_file is not None:
            # The file is part of the target (a run refuses the target without it); the
            # variable of password_env is the environment's, set where the run runs.
            t.auth.resolve()
        print(f"ok: {path} (target {t.name!r}; modes {', '.join(t.supported_modes)})")
    return EXIT_VALID if args.files else EXIT_COULD_NOT_RUN
