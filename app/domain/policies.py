"""Task policies as enums, and the pure decisions they drive (retries, misfires)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from app.clock import ensure_aware


class ConcurrencyPolicy(StrEnum):
    """What a fire does while the previous run of the same task is still going."""

    SKIP = "skip"
    QUEUE = "queue"
    ALLOW = "allow"


class MisfirePolicy(StrEnum):
    """What happens to occurrences that fell while no scheduler was up."""

    RUN_ONCE = "run_once"
    SKIP = "skip"
    RUN_ALL = "run_all"


# 2**60 times any sane base is far past any cap; stops float overflow on silly attempts.
_MAX_DOUBLINGS = 60


def retry_delay(
    attempt: int, base_seconds: float, exponential: bool, cap_seconds: float = 3600
) -> float:
    """Seconds to wait before attempt `attempt + 1`, after attempt `attempt` (from 1) failed."""
    if attempt < 1:
        raise ValueError(f"attempt: {attempt} (attempts count from 1)")
    if base_seconds < 0 or cap_seconds < 0:
        raise ValueError("base_seconds and cap_seconds must not be negative")
    delay = base_seconds
    if exponential:
        delay = base_seconds * 2.0 ** min(attempt - 1, _MAX_DOUBLINGS)
    return float(min(delay, cap_seconds))


@dataclass(frozen=True)
class MisfireDecision:
    run: list[datetime] = field(default_factory=list)  # to start now, oldest first
    missed: list[datetime] = field(default_factory=list)  # never run
    coalesced: list[datetime] = field(default_factory=list)  # folded into a run


def decide_misfires(
    missed: Sequence[datetime],
    policy: MisfirePolicy,
    now: datetime,
    grace_seconds: float,
    max_replays: int,
) -> MisfireDecision:
    """Split missed occurrences (aware) into run / missed / coalesced by `policy`.

    Older than `now - grace_seconds` is always missed (the grace bound itself is inside).
    Within grace: run_once runs the latest and coalesces the rest; skip runs none;
    run_all runs them oldest first, at most `max_replays`, and the newer rest are missed.
    """
    if grace_seconds < 0:
        raise ValueError("grace_seconds must not be negative")
    if max_replays < 0:
        raise ValueError("max_replays must not be negative")
    deadline = ensure_aware(now) - timedelta(seconds=grace_seconds)
    ordered = sorted(ensure_aware(moment) for moment in missed)
    stale = [moment for moment in ordered if moment < deadline]
    fresh = [moment for moment in ordered if moment >= deadline]
    if not fresh or policy is MisfirePolicy.SKIP:
        return MisfireDecision(missed=ordered)
    if policy is MisfirePolicy.RUN_ONCE:
        return MisfireDecision(run=fresh[-1:], missed=stale, coalesced=fresh[:-1])
    return MisfireDecision(run=fresh[:max_replays], missed=stale + fresh[max_replays:])
