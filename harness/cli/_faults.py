"""``ackbound faults``: the fault registry — every fault, its parameters and what it needs."""

from __future__ import annotations

import argparse
import json

from harness._errors import EXIT_VALID

__all__ = ["register", "run"]


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    lst = sub.add_parser("list", help="list every fault (the default)")
    lst.add_argument("--json", action="store_true", help="print the registry as JSON")
    desc = sub.add_parser("describe", help="describe one fault: parameters, needs, effects")
    desc.add_argument("fault", help="a fault name, e.g. partition")
    desc.add_argument("--json", action="store_true", help="print JSON")


def _params(spec_params: list[dict[str, object]]) -> str:
    parts = []
    for p in spec_params:
        text = f"{p['name']}:{p['type']}"
        if "choices" in p:
            text += "=" + "|".join(map(str, p["choices"]))  # type: ignore[call-overload]
        if not p["required"]:
            text = f"[{text}]"
        parts.append(text)
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from harness.faults import FAULTS, get_fault

    action = args.action or "list"
    if action == "list":
        if getattr(args, "json", False):
            print(json.dumps([f.to_json() for f in FAULTS.values()], indent=2))
            return EXIT_VALID
        width = max(len(n) for n in FAULTS)
        for name, spec in FAULTS.items():
            params = _params(spec.to_json()["params"])
            print(f"{name:<{width}}  {params}".rstrip())
        print("\n'ackbound faults describe NAME' says what a fault does and records.")
        return EXIT_VALID
    spec = get_fault(args.fault)
    data = spec.to_json()
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_VALID
    print(f"{spec.name}: {spec.description}")
    if not spec.params:
        print("  parameters: none")
    for p in data["params"]:
        bits = [str(p["type"]), "required" if p["required"] else "optional"]
        if "default" in p:
            bits.append(f"default {p['default']}")
        if "choices" in p:
            bits.append("one of " + ", ".join(map(str, p["choices"])))
        if "min" in p or "max" in p:
            bits.append(f"range {p.get('min', '')}..{p.get('max', '')}")
        print(f"  {p['name']} ({'; '.join(bits)}): {p['description']}")
    print(f"  needs:   {', '.join(data['needs']) or 'nothing'}")
    print(f"  effects: {', '.join(data['effects'])}")
    return EXIT_VALID
