"""Human text rendered from verdict data (never the other way round)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.checker._analysis import Analysis
    from harness.checker._properties import PropertyResult

__all__ = ["describe_witness", "explain"]


def _w(w: dict[str, Any]) -> str:
    ops = "→".join(str(i) for i in w["ops"])
    return f"write {w['value']!r} to {w['key']!r} (ops {ops})"


def _t(s: float | None) -> str:
    return "never" if s is None else f"{s:.3f} s"


def describe_witness(w: dict[str, Any]) -> str:
    """One sentence for one witness."""
    kind = w["kind"]
    if kind == "acked-without-eligible-replica":
        wr = w["write"]
        return (
            f"{_w(wr)} was acknowledged at {_t(wr['completed_s'])} although only "
            f"{len(w['possible_ackers'])} of the {w['needed']} eligible replica(s) it needed "
            f"could have received it (eligible: {', '.join(w['eligible']) or 'none'}; "
            f"possibly reachable: {', '.join(w['possible_ackers']) or 'none'})"
        )
    if kind == "acked-write-lost":
        wr = w["write"]
        return (
            f"{_w(wr)} was acknowledged at {_t(wr['completed_s'])}, which in sync mode puts it "
            "on nodes that survived every failure, yet it is missing from the final reads"
        )
    if kind == "replicated-write-lost":
        wr = w["write"]
        return (
            f"{_w(wr)} was acknowledged and held by nodes that survived the failures that "
            "followed, yet it is missing from the final reads: its loss is not bounded by the lag"
        )
    if kind == "acked-while-lag-exceeded":
        wr, w0 = w["write"], w["unreplicated_since"]
        return (
            f"{_w(wr)} was accepted at {_t(wr['invoked_s'])} while the durability lag was at "
            f"least {w['lag_at_least_s']:.3f} s > limit {w['limit_s']:.3f} s: no eligible replica "
            f"could have acknowledged {_w(w0)}, completed at {_t(w0['completed_s'])}"
        )
    if kind == "loss-window-exceeded":
        f, last = w["earliest_lost"], w["latest_lost"]
        return (
            f"the failover ending epoch {w['epoch']} lost acknowledged writes spanning "
            f"{w['window_s']:.3f} s > limit {w['limit_s']:.3f} s: from {_w(f)} completed at "
            f"{_t(f['completed_s'])} to {_w(last)} invoked at {_t(last['invoked_s'])}"
        )
    if kind == "lag-underreported":
        extra = ""
        if "lost_write" in w:
            extra = f" ({_w(w['lost_write'])} was never replicated and later lost)"
        return (
            f"node {w['node']} reported a lag of {w['reported_ms']} ms at "
            f"{_t(w['observed_s'])} (op {w['ops'][0]}) when it was at least "
            f"{w['lag_at_least_ms']:.0f} ms{extra}"
        )
    if kind == "hole":
        lost, surv = w["lost"], w["survived"]
        return (
            f"on node {w['node']}, {_w(lost)} is missing though it was acknowledged at "
            f"{_t(lost['completed_s'])}, before {_w(surv)} was invoked at "
            f"{_t(surv['invoked_s'])}, which survived (same epoch {w['epoch']})"
        )
    if kind == "phantom-value":
        ops = "→".join(str(i) for i in w["ops"])
        where = f"a read of {w['key']!r} on {w['node'] or 'the cluster'} (ops {ops})"
        parts = []
        if w["values"]:
            parts.append(f"returned {w['values']!r}, which no client had written by then")
        if w.get("duplicated"):
            parts.append(f"holds {w['duplicated']!r} twice although each was written once")
        return f"{where} " + " and ".join(parts)
    if kind == "rejected-write-read":
        wr = w["write"]
        ops = "→".join(str(i) for i in w["read_ops"])
        return (
            f"{_w(wr)} was rejected ({wr.get('error') or 'no error text'}) yet a read "
            f"(ops {ops}) returned it"
        )
    if kind == "acked-write-lost-without-failure":
        wr = w["write"]
        return (
            f"{_w(wr)} was acknowledged at {_t(wr['completed_s'])} with no failover or data "
            "loss since, yet it is missing from the final reads"
        )
    if kind == "writes-not-resumed":
        first = w["first_ok"]
        when = (
            f"the first write accepted after it completed at {_t(first['completed_s'])}"
            if first
            else f"none of the {w['attempts_after_heal']} writes tried after it was accepted"
        )
        return (
            f"every fault was healed at {_t(w['healed_s'])} (op {w['heal_ops'][0]}), but "
            f"{when}; the allowance is {w['allowance_s']:.3f} s"
        )
    return repr(w)


def _evidence_item(key: str, value: object) -> str | None:
    """One evidence figure as words: ``max_window_s`` 5.55 → ``max window 5.550 s``; a
    figure that is ``None`` (nothing to measure) is left out."""
    if value is None:
        return None
    for suffix, unit in (("_s", "s"), ("_ms", "ms")):
        if key.endswith(suffix) and isinstance(value, int | float) and not isinstance(value, bool):
            shown = f"{value:.3f}" if unit == "s" else f"{value:g}"
            return f"{key[: -len(suffix)].replace('_', ' ')} {shown} {unit}"
    return f"{key.replace('_', ' ')} {value}"


def explain(name: str, r: PropertyResult, a: Analysis) -> str:
    """A short paragraph: the verdict, why, and the first witnesses."""
    ev = ", ".join(filter(None, (_evidence_item(k, v) for k, v in r.evidence.items())))
    if r.error:
        return f"{name}: unknown — the check failed: {r.error}"
    if r.valid is True:
        return f"{name}: holds ({ev})."
    if r.valid == "unknown":
        return f"{name}: unknown — no evidence either way ({ev})."
    lines = [f"{name}: VIOLATED — {r.witness_count} witness(es) ({ev})."]
    lines += [f"  - {describe_witness(w)}" for w in r.witnesses[:5]]
    if r.witness_count > 5:
        lines.append(f"  … and {r.witness_count - 5} more in the witnesses list")
    return "\n".join(lines)
