"""What the scheduler last did and how late: the health page's "is it keeping up"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class Pulse:
    last_fire_at: datetime | None = None  # when the fire loop last ran a pass
    last_lag_seconds: float | None = None  # the latest occurrence's delay in that pass
    last_maintenance_at: datetime | None = None

    def fired(self, at: datetime, delays: list[float]) -> None:
        self.last_fire_at = at
        if delays:
            self.last_lag_seconds = max(delays)

    def maintained(self, at: datetime) -> None:
        self.last_maintenance_at = at
