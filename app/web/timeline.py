"""A run's lifecycle timeline for the detail page: its events as steps, then the steps still
ahead on the normal path. Pure: events and "now" in, steps out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from app.models.schemas import RunEventPublic
from app.web.status import CHAIN, status_meta

StepState = Literal["done", "current", "failed", "future"]
_BAD_ENDINGS = frozenset({"FAILED", "TERMINATED", "REJECTED"})


@dataclass(frozen=True, kw_only=True)
class Step:
    status: str
    state: StepState
    at: datetime | None = None
    detail: str = ""
    spent: float | None = None  # seconds until the next step (or until now, when current)

    @property
    def label(self) -> str:
        return status_meta(self.status).label

    @property
    def icon(self) -> str:
        return status_meta(self.status).icon


def timeline(
    events: Sequence[RunEventPublic], status: str, attempt: int, now: datetime
) -> list[Step]:
    mine = [e for e in events if e.attempt == attempt]
    steps: list[Step] = []
    for index, event in enumerate(mine):
        last = index == len(mine) - 1
        following = mine[index + 1].at if not last else None
        if not last:
            state: StepState = "done"
        elif event.status in _BAD_ENDINGS:
            state = "failed"
        elif status_meta(event.status).terminal:
            state = "done"
        else:
            state = "current"
        until = following or (now if state == "current" else None)
        spent = (until - event.at).total_seconds() if until else None
        steps.append(
            Step(status=event.status, state=state, at=event.at, detail=event.detail, spent=spent)
        )
    if not status_meta(status).terminal:
        steps += [Step(status=s, state="future") for s in _ahead(status)]
        steps.append(Step(status="END", state="future"))
    return steps


def _ahead(status: str) -> list[str]:
    """The normal-path steps after `status` (PAUSED resumes to RUNNING: nothing ahead)."""
    if status in CHAIN:
        return list(CHAIN[CHAIN.index(status) + 1 :])
    if status == "PENDING_APPROVAL":
        return list(CHAIN[1:])
    return []


def total_seconds(steps: Sequence[Step]) -> float | None:
    """From the first step to the last one reached."""
    reached = [s for s in steps if s.at is not None]
    if len(reached) < 2:
        return None
    first, last = reached[0].at, reached[-1].at
    assert first is not None and last is not None
    return (last - first).total_seconds()
