"""What one open Task Runs page must change when runs change: pure bookkeeping, no I/O.

The stream keeps the ids the page shows (newest first). A changed run already shown is
redrawn in place; on page 1 a run the filters admit and that sorts into the page is inserted
where it belongs, and the rows pushed past the page size are dropped.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.models.schemas import RunPublic
from app.web.runs_list import PAGE_SIZE, RunFilters


@dataclass
class Patch:
    updated: list[RunPublic] = field(default_factory=list)
    # (run, id of the row it goes before; None: at the end of the table)
    inserted: list[tuple[RunPublic, int | None]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.updated or self.inserted or self.removed)


@dataclass
class LivePage:
    filters: RunFilters
    shown: list[int]  # newest first
    page_size: int = PAGE_SIZE

    def apply(self, runs: Sequence[RunPublic], now: datetime) -> Patch:
        patch = Patch()
        for run in sorted(runs, key=lambda r: r.id):
            run_id = run.id
            if run_id in self.shown:
                patch.updated.append(run)
            elif self._belongs(run, now):
                patch.inserted.append((run, self._insert(run_id)))
        while len(self.shown) > self.page_size:
            dropped = self.shown.pop()
            patch.removed.append(dropped)
        if patch.removed:
            gone = set(patch.removed)
            patch.updated = [run for run in patch.updated if (run.id) not in gone]
            patch.inserted = [
                (run, before) for run, before in patch.inserted if (run.id) not in gone
            ]
            patch.inserted = [
                (run, None if before in gone else before) for run, before in patch.inserted
            ]
        return patch

    def _belongs(self, run: RunPublic, now: datetime) -> bool:
        if not self.filters.first_page or not self.filters.admits(run, now):
            return False
        return len(self.shown) < self.page_size or (run.id) > self.shown[-1]

    def _insert(self, run_id: int) -> int | None:
        """Put `run_id` into `shown` (kept newest first); the id it now sits before."""
        ascending = [-i for i in self.shown]
        index = bisect.bisect_left(ascending, -run_id)
        self.shown.insert(index, run_id)
        return self.shown[index + 1] if index + 1 < len(self.shown) else None
