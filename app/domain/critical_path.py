"""The critical path of one group run, and the spans each of its task runs spent queued
(behind its upstreams), waiting (for a slot or an agent) and running. Pure: no I/O.

The critical path of a run that happened is the chain of task runs that decided when it
ended: start from the run that ended last, step back to the upstream that ended last before
it (the one that released it), and so on to a root. Shortening any other run would not
have ended the group run sooner.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

SpanKind = Literal["queued", "waiting", "running"]


@dataclass(frozen=True, kw_only=True)
class RunTimes:
    """What a task run's timestamps say (None: it has not got there)."""

    created: datetime
    dispatched: datetime | None = None  # sent to an agent (TRIGGER)
    started: datetime | None = None
    finished: datetime | None = None


@dataclass(frozen=True)
class Span:
    kind: SpanKind
    start: datetime
    end: datetime


def critical_path(
    ends: Mapping[int, datetime], upstreams: Mapping[int, Collection[int]]
) -> list[int]:
    """The task ids on the critical path, first to last.

    `ends`: when each task run that ran ended (or `now` while it runs); task runs that never
    ran are left out. `upstreams`: task id -> its upstream task ids. Ties go to the lower id,
    so the answer is the same on every call.
    """
    if not ends:
        return []
    node = min(ends, key=lambda tid: (-ends[tid].timestamp(), tid))
    path = [node]
    seen = {node}
    while True:
        candidates = [u for u in upstreams.get(node, ()) if u in ends and u not in seen]
        if not candidates:
            break
        node = min(candidates, key=lambda tid: (-ends[tid].timestamp(), tid))
        path.append(node)
        seen.add(node)
    path.reverse()
    return path


def ready_at(
    task: int, upstreams: Mapping[int, Collection[int]], ends: Mapping[int, datetime | None]
) -> datetime | None:
    """When every upstream of `task` had ended (None while one has not); a root is ready
    from the start (the caller's `created`)."""
    times = [ends.get(u) for u in upstreams.get(task, ())]
    if any(t is None for t in times):
        return None
    return max((t for t in times if t is not None), default=None)


def spans(times: RunTimes, ready: datetime | None, now: datetime) -> list[Span]:
    """Queued from its creation until its upstreams were done (`ready`), waiting from then
    until it was dispatched, running from then until it finished (or `now`)."""
    end = times.finished or now
    launched = times.dispatched or times.started
    if launched is not None:
        launched = min(max(launched, times.created), end)
    queue_end = launched if launched is not None else end
    if ready is not None:
        ready = min(max(ready, times.created), queue_end)
    found: list[Span] = []
    if ready is None:
        found.append(Span("queued", times.created, queue_end))
    else:
        found.append(Span("queued", times.created, ready))
        found.append(Span("waiting", ready, queue_end))
    if launched is not None:
        found.append(Span("running", launched, end))
    return [s for s in found if s.end > s.start]
