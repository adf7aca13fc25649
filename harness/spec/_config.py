"""The spec's model-checking configurations: *.cfg files and specs/manifest.json.

A ``.cfg`` file sets the constants of ``specs/Durability.tla`` and names the invariants TLC
checks. :func:`read_cfg` reads the subset of TLC's config language the specs use
(``CONSTANTS`` with ``name = value``, ``INIT``, ``NEXT``, ``SPECIFICATION``,
``INVARIANT(S)``, ``\\*`` comments) and :func:`params_from_cfg` turns it into the
:class:`models.Params` of the same model, so the Python model can be explored on exactly the
constants TLC checks.

``specs/manifest.json`` lists every configuration with its tier and pinned result::

    {"module": "MC", "configs": [
      {"name": "sync-small", "tier": "small", "expect": "pass",
       "distinct_states": 76984, "depth": 22},
      {"name": "promote-stale", "tier": "buggy", "expect": "AckedWritesSurvive",
       "distinct_states": 303, "trace_length": 7}, ...]}

Tiers: ``small`` (checked in CI, a minute at most), ``large`` (long runs, on demand) and
``buggy`` (a bug switched on; TLC must refute ``expect`` with a counterexample). Buggy
configs run on one TLC worker, so the state count at which TLC stops and the counterexample
(a shortest one) are deterministic.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._errors import AckboundError
from harness.spec._values import ModelValue, TlaSyntaxError, parse_value

__all__ = [
    "TIERS",
    "Cfg",
    "ConfigEntry",
    "Manifest",
    "default_specs_dir",
    "load_manifest",
    "params_from_cfg",
    "read_cfg",
]

TIERS = ("small", "large", "buggy")

_KEYWORDS = {
    "CONSTANT",
    "CONSTANTS",
    "INIT",
    "NEXT",
    "SPECIFICATION",
    "INVARIANT",
    "INVARIANTS",
}


@dataclass(frozen=True, kw_only=True)
class Cfg:
    """A parsed .cfg file: constant values (as :func:`parse_value` returns them) and the
    names of the initial predicate, next-state action and invariants."""

    path: Path
    constants: dict[str, Any]
    init: str | None
    next: str | None
    specification: str | None
    invariants: tuple[str, ...]


def read_cfg(path: Path) -> Cfg:
    """Parse a TLC config file of the subset the specs use; AckboundError on anything else."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AckboundError(f"cannot read the TLC config {path}: {exc.strerror}") from None
    # Drop comments, then split into keyword sections.
    text = re.sub(r"\(\*.*?\*\)", " ", text, flags=re.S)
    text = "\n".join(line.split("\\*", 1)[0] for line in text.splitlines())
    words = re.split(r"\b(" + "|".join(sorted(_KEYWORDS, key=len, reverse=True)) + r")\b", text)
    constants: dict[str, Any] = {}
    single: dict[str, str] = {}
    invariants: list[str] = []
    if words[0].strip():
        raise AckboundError(
            f"{path}: {words[0].strip()[:40]!r} comes before any keyword; "
            "start each section with CONSTANTS, INIT, NEXT, SPECIFICATION or INVARIANTS"
        )
    for keyword, body in zip(words[1::2], words[2::2], strict=True):
        if keyword in ("CONSTANT", "CONSTANTS"):
            for m in re.finditer(
                r"([A-Za-z_]\w*)\s*=\s*(.*?)(?=\s+[A-Za-z_]\w*\s*=|\Z)", body, re.S
            ):
                name, value = m.group(1), m.group(2).strip()
                try:
                    constants[name] = parse_value(value)
                except TlaSyntaxError as exc:
                    raise AckboundError(f"{path}: constant {name}: {exc}") from None
            leftover = re.sub(
                r"([A-Za-z_]\w*)\s*=\s*(.*?)(?=\s+[A-Za-z_]\w*\s*=|\Z)", "", body, flags=re.S
            )
            if leftover.strip():
                raise AckboundError(
                    f"{path}: cannot read {leftover.strip()[:40]!r} under {keyword}; "
                    "this reader supports 'Name = value' only"
                )
        elif keyword in ("INVARIANT", "INVARIANTS"):
            invariants.extend(body.split())
        else:
            names = body.split()
            if len(names) != 1:
                raise AckboundError(f"{path}: {keyword} needs exactly one name, got {names}")
            single[keyword] = names[0]
    return Cfg(
        path=path,
        constants=constants,
        init=single.get("INIT"),
        next=single.get("NEXT"),
        specification=single.get("SPECIFICATION"),
        invariants=tuple(invariants),
    )


_REQUIRED = (
    "Zones",
    "InitPrimary",
    "Mode",
    "SyncReplicas",
    "LagLimit",
    "SyncTimeout",
    "MaxWrites",
    "MaxTime",
    "MaxCrashes",
    "CuttableLinks",
    "Bugs",
)


def params_from_cfg(cfg: Cfg) -> Any:
    """The :class:`models.Params` with the constants of ``cfg``.

    Nodes keep their model-value names. The spec's AZs are anonymous (``Zones`` is a
    partition of the nodes); they are named ``az1``, ``az2``, ... in the order of each AZ's
    smallest node name. Nodes are listed in name order.
    """
    from models._exact import Node, Params

    c = cfg.constants
    missing = [k for k in _REQUIRED if k not in c]
    if missing:
        raise AckboundError(
            f"{cfg.path}: constants {', '.join(missing)} are not set; set every constant "
            "Durability.tla declares"
        )

    def nat(name: str) -> int:
        v = c[name]
        if not isinstance(v, int) or isinstance(v, bool):
            raise AckboundError(f"{cfg.path}: {name} = {v!r} must be a natural number")
        return v

    zones = c["Zones"]
    if not isinstance(zones, frozenset) or not all(
        isinstance(z, frozenset) and all(isinstance(n, ModelValue) for n in z) for z in zones
    ):
        raise AckboundError(
            f"{cfg.path}: Zones must be a set of sets of node model values, e.g. {{{{n1}}, {{n2}}}}"
        )
    ordered = sorted(zones, key=lambda z: min(z))
    az_of = {str(n): f"az{i}" for i, z in enumerate(ordered, start=1) for n in z}
    links = c["CuttableLinks"]
    if not isinstance(links, frozenset) or not all(isinstance(pair, frozenset) for pair in links):
        raise AckboundError(
            f"{cfg.path}: CuttableLinks must be a set of node pairs, e.g. {{{{n1, n2}}}}"
        )
    bugs = c["Bugs"]
    if not isinstance(bugs, frozenset) or not all(
        isinstance(b, str) and not isinstance(b, ModelValue) for b in bugs
    ):
        raise AckboundError(f'{cfg.path}: Bugs must be a set of strings, e.g. {{"skip-entry"}}')
    try:
        return Params(
            nodes=tuple(Node(name=n, az=az_of[n]) for n in sorted(az_of)),
            primary=str(c["InitPrimary"]),
            mode=c["Mode"],
            sync_replicas=nat("SyncReplicas"),
            lag_limit=nat("LagLimit"),
            sync_timeout=nat("SyncTimeout"),
            max_writes=nat("MaxWrites"),
            max_time=nat("MaxTime"),
            max_crashes=nat("MaxCrashes"),
            cuttable=frozenset(frozenset(str(n) for n in pair) for pair in links),
            bugs=frozenset(bugs),
        )
    except ValueError as exc:
        raise AckboundError(f"{cfg.path}: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class ConfigEntry:
    """One configuration of the manifest and its pinned result.

    ``expect`` is ``"pass"`` or the name of the invariant TLC must report violated.
    ``distinct_states`` is TLC's distinct-state count (for a buggy config: when it stopped,
    on one worker); ``depth`` the search depth of a passing config; ``trace_length`` the
    number of states in a buggy config's counterexample.
    """

    name: str
    tier: str
    cfg: Path
    expect: str
    distinct_states: int | None
    depth: int | None
    trace_length: int | None
    note: str

    @property
    def buggy(self) -> bool:
        return self.tier == "buggy"


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """specs/manifest.json: the module TLC checks and every configuration."""

    path: Path
    specs_dir: Path
    module: str
    configs: tuple[ConfigEntry, ...]

    def get(self, name: str) -> ConfigEntry:
        for c in self.configs:
            if c.name == name:
                return c
        raise AckboundError(
            f"no configuration {name!r} in {self.path}; "
            f"choose one of {', '.join(c.name for c in self.configs)}"
        )

    def tier(self, *tiers: str) -> tuple[ConfigEntry, ...]:
        return tuple(c for c in self.configs if c.tier in tiers)


# What every error about missing or unreadable spec files tells the user to do.
SPECS_FIX = "pass --specs DIR naming ackbound's specs/ directory"


def default_specs_dir() -> Path:
    """The spec files installed with this harness: in a checkout, a link to its specs/
    directory; in an installed wheel, their copy."""
    return (Path(__file__).parent / "specs").resolve()


def _opt_int(entry: dict[str, Any], key: str, where: str) -> int | None:
    v = entry.get(key)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise AckboundError(f"{where}: {key} must be a non-negative integer or absent, got {v!r}")
    return v


def load_manifest(specs_dir: Path | None = None) -> Manifest:
    """Read ``specs_dir/manifest.json`` (default: :func:`default_specs_dir`)."""
    specs = default_specs_dir() if specs_dir is None else specs_dir
    path = specs / "manifest.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AckboundError(f"no manifest at {path}; {SPECS_FIX}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AckboundError(f"cannot read {path} ({exc}); {SPECS_FIX}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("configs"), list):
        raise AckboundError(f"{path} must be an object with a 'configs' list")
    entries: list[ConfigEntry] = []
    for i, e in enumerate(raw["configs"]):
        where = f"{path}: configs[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            raise AckboundError(f"{where} must be an object with a 'name'")
        tier = e.get("tier")
        if tier not in TIERS:
            raise AckboundError(f"{where} ({e['name']}): tier must be one of {', '.join(TIERS)}")
        expect = e.get("expect")
        if not isinstance(expect, str):
            raise AckboundError(f"{where} ({e['name']}): expect must be 'pass' or an invariant")
        if (expect == "pass") == (tier == "buggy"):
            raise AckboundError(
                f"{where} ({e['name']}): a {tier} config must expect "
                + ("a violated invariant" if tier == "buggy" else "'pass'")
            )
        cfg = specs / str(e.get("cfg", f"{e['name']}.cfg"))
        if not cfg.is_file():
            raise AckboundError(f"{where} ({e['name']}): no such file {cfg}; fix the manifest")
        entries.append(
            ConfigEntry(
                name=e["name"],
                tier=tier,
                cfg=cfg,
                expect=expect,
                distinct_states=_opt_int(e, "distinct_states", where),
                depth=_opt_int(e, "depth", where),
                trace_length=_opt_int(e, "trace_length", where),
                note=str(e.get("note", "")),
            )
        )
    names = [c.name for c in entries]
    if len(set(names)) != len(names):
        raise AckboundError(f"{path}: configuration names repeat; name each once")
    return Manifest(
        path=path, specs_dir=specs, module=str(raw.get("module", "MC")), configs=tuple(entries)
    )
