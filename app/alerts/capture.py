"""Run endings, as committed, handed to the alert service.

`runs.transition` records each status change as a `RunTransitioned` event; one that ended an
attempt SUCCESS or FAILED carries the run's fields at that moment (`run_changes.snapshot`:
its reason, exit code, agent), even if a retry changes the row later in the same
transaction. The unit of work hands them over once the transaction has committed; a
rollback drops them. The composition root subscribes `endings_to(service.notify)`
(app/wiring.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.db.run_changes import snapshot
from app.domain.events import RunTransitioned

__all__ = ["Ending", "Sink", "endings_to", "snapshot"]


@dataclass(frozen=True)
class Ending:
    """One attempt's end as it was written: the run's public fields at that moment."""

    run_id: int
    attempt: int
    status: str
    run: dict[str, Any]


Sink = Callable[[list[Ending]], None]


def endings_to(sink: Sink) -> Callable[[Sequence[RunTransitioned]], None]:
    """A subscriber that passes the committed endings to `sink` (on the committing thread:
    the sink must only queue them)."""

    def hear(events: Sequence[RunTransitioned]) -> None:
        endings = [
            Ending(run_id=e.run_id, attempt=e.attempt, status=e.status, run=dict(e.ended))
            for e in events
            if e.ended is not None
        ]
        if endings:
            sink(endings)

    return hear
