"""The parameters of a durability mode (docs/history.md header ``params``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from harness._errors import AckboundError

__all__ = ["MODES", "Mode", "ModeParams"]

Mode = Literal["none", "sync", "async"]
MODES: Final = ("none", "sync", "async")


@dataclass(frozen=True, kw_only=True)
class ModeParams:
    """K, the sync timeout and the lag limit L (the semantics of issue 2)."""

    sync_replicas: int = 1
    sync_timeout_ms: int = 1000
    lag_limit_ms: int = 10_000

    def __post_init__(self) -> None:
        if self.sync_replicas < 1:
            raise AckboundError(f"sync_replicas={self.sync_replicas}: must be ≥ 1; pass K ≥ 1")
        if self.sync_timeout_ms < 1:
            raise AckboundError(
                f"sync_timeout_ms={self.sync_timeout_ms}: must be ≥ 1 ms; pass a positive timeout"
            )
        if self.lag_limit_ms < 1:
            raise AckboundError(
                f"lag_limit_ms={self.lag_limit_ms}: must be ≥ 1 ms; pass a positive lag limit"
            )

    @classmethod
    def of(cls, params: ModeParams | dict[str, Any] | None) -> ModeParams:
        if params is None:
            return cls()
        if isinstance(params, ModeParams):
            return params
        unknown = set(params) - {"sync_replicas", "sync_timeout_ms", "lag_limit_ms"}
        if unknown:
            raise AckboundError(
                f"mode params {sorted(unknown)} are unknown; use sync_replicas, "
                "sync_timeout_ms and lag_limit_ms"
            )
        return cls(**params)

    def template_values(self) -> dict[str, int]:
        """Values for ``{sync_replicas}``, ``{sync_timeout_ms}``, ``{lag_limit_ms}``, ``{lag_limit_s}``."""
        return {
            **asdict(self),
            "lag_limit_s": max(1, math.ceil(self.lag_limit_ms / 1000)),
        }

    def to_json(self) -> dict[str, int]:
        return asdict(self)
