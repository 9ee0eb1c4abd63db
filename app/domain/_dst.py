"""What one nominal wall time does on a day with a DST change, by the schedule's DST rules.

A wall time either exists once (plain), is skipped by the clock (gap) or occurs twice (fold).
- Fixed-time schedules: a gap fires at the first instant after it (`dst_gap: run_after_gap`)
  or not at all (`skip`); a fold fires on the `first`, the `second` or `both` passes.
- Interval-like schedules in elapsed time (Vixie cron's rule): a gap time is dropped (the
  interval runs on in real time) and a fold time fires on both passes.
Every moved, doubled or dropped occurrence carries a note saying which rule did it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from app.domain._walltime import gap_end

if TYPE_CHECKING:
    from app.domain._plan import Plan

# Within one instant the plain nominal time wins over a DST-moved or shifted one; a time
# dropped in a gap is listed before the fire at the gap's end (it comes first on the clock).
RANK_DST = 1
RANK_SHIFTED = 2
RANK_SKIP = -1


@dataclass(frozen=True)
class Occurrence:
    at: datetime  # aware UTC
    local: datetime  # aware, in the schedule's timezone
    note: str | None = None  # why it is not the plain nominal time (shift, DST)


@dataclass(frozen=True)
class SkippedOccurrence:
    local: datetime  # the nominal wall time, with the schedule's timezone attached
    reason: str  # "holiday: Christmas Day", "DST gap: 02:30 does not exist ...", "blackout: x"
    kind: str = "calendar"  # calendar | dst | blackout
    at: datetime | None = None  # the instant it would have fired (orders it in the walk)


Ranked = tuple[datetime, int, Occurrence | SkippedOccurrence]


def wall_events(plan: Plan, day: date, wall: time, shift_note: str | None) -> list[Ranked]:
    """The fires and DST skips of `wall` on `day` (a day whose offset may change)."""
    zone = plan.zone
    naive = datetime.combine(day, wall)
    rank = RANK_SHIFTED if shift_note else 0
    if plan.exact:  # an aware `once`: its fold bit already names the pass
        instant = naive.replace(tzinfo=zone).astimezone(UTC)
        return [_fire(instant, plan, rank, [shift_note])]
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return [_fire(first, plan, rank, [shift_note])]
    clock = clock_text(wall)
    if first.astimezone(zone).replace(tzinfo=None) != naive:  # the clock skips it
        end = gap_end(naive, zone)
        gone = f"DST gap: {clock} does not exist on {day.isoformat()}"
        if plan.elapsed:
            return [_skip(end, plan, naive, f"{gone}; the interval runs on in elapsed time")]
        if plan.dst_gap == "skip":
            return [_skip(end, plan, naive, f"{gone} (dst_gap: skip)")]
        moved = f"DST gap: {clock} does not exist, fires at {clock_text(end.astimezone(zone))}"
        return [_fire(end, plan, rank + RANK_DST, [shift_note, moved])]
    twice = f"DST fold: {clock} occurs twice"
    if plan.elapsed or plan.dst_fold == "both":
        why = "elapsed time" if plan.elapsed else "dst_fold: both"
        return [
            _fire(first, plan, rank, [shift_note, f"{twice}, first pass ({why})"]),
            _fire(second, plan, rank, [shift_note, f"{twice}, fires again ({why})"]),
        ]
    if plan.dst_fold == "second":
        return [
            _skip(first, plan, naive, f"{twice}, first pass not fired (dst_fold: second)"),
            _fire(second, plan, rank, [shift_note, f"{twice}, fires on the second pass"]),
        ]
    return [
        _fire(first, plan, rank, [shift_note]),
        _skip(second, plan, naive, f"{twice}, second pass not fired (dst_fold: first)", fold=1),
    ]


def _fire(instant: datetime, plan: Plan, rank: int, notes: list[str | None]) -> Ranked:
    note = "; ".join(n for n in notes if n) or None
    local = instant.astimezone(plan.zone)
    return instant, rank, Occurrence(at=instant, local=local, note=note)


def _skip(instant: datetime, plan: Plan, naive: datetime, reason: str, fold: int = 0) -> Ranked:
    local = naive.replace(tzinfo=plan.zone, fold=fold)
    return instant, RANK_SKIP, SkippedOccurrence(local=local, reason=reason, kind="dst", at=instant)


def clock_text(wall: time | datetime) -> str:
    return wall.strftime("%H:%M:%S" if wall.second else "%H:%M")
