"""The client's backfills: plan or start one for a task or group, watch and control it.

plan = api.backfills.task(tid, "2026-04-01", "2026-04-30", dry_run=True)
for d in plan["dates"]:
    print(d["date"], d["action"], d["reason"])
made = api.backfills.group(gid, "2026-04-01", "2026-04-30", max_concurrent=3)
api.backfills.wait(made["id"])
"""

from __future__ import annotations

import time
from typing import Any

from app.client.transport import Transport

JSON = dict[str, Any]
ENDED = frozenset({"done", "cancelled", "rejected"})


def backfill_body(
    start: str,
    end: str,
    *,
    mode: str = "missing",
    order: str = "oldest",
    max_concurrent: int = 1,
    params: dict[str, Any] | None = None,
    dry_run: bool = False,
    confirm: bool = False,
) -> JSON:
    return {
        "start": start,
        "end": end,
        "mode": mode,
        "order": order,
        "max_concurrent": max_concurrent,
        "params": params or {},
        "dry_run": dry_run,
        "confirm": confirm,
    }


class Backfills:
    def __init__(self, client: Transport) -> None:
        self._c = client

    def task(self, tid: int, start: str, end: str, **options: Any) -> JSON:
        """Options: mode (missing | failed | all), order (oldest | newest), max_concurrent,
        params, dry_run, confirm (needed past the server's threshold of dates)."""
        result: JSON = self._c.request(
            "POST", f"/tasks/{tid}/backfill", json=backfill_body(start, end, **options)
        )
        return result

    def group(self, gid: int, start: str, end: str, **options: Any) -> JSON:
        """As `task`, one group run per date."""
        result: JSON = self._c.request(
            "POST", f"/groups/{gid}/backfill", json=backfill_body(start, end, **options)
        )
        return result

    def get(self, backfill_id: int) -> JSON:
        """The plan and its progress (`progress`: dates pending, running, done, cancelled)."""
        result: JSON = self._c.request("GET", f"/backfills/{backfill_id}")
        return result

    def list(self, **filters: Any) -> list[JSON]:
        """Filters: task, group, status, page, page_size."""
        params = {k: v for k, v in filters.items() if v is not None}
        result: list[JSON] = self._c.request("GET", "/backfills", params=params)
        return result

    def pause(self, backfill_id: int) -> JSON:
        return self._control(backfill_id, "pause")

    def resume(self, backfill_id: int) -> JSON:
        return self._control(backfill_id, "resume")

    def cancel(self, backfill_id: int) -> JSON:
        return self._control(backfill_id, "cancel")

    def approve(self, backfill_id: int, comment: str = "") -> JSON:
        return self._control(backfill_id, "approve", {"comment": comment})

    def reject(self, backfill_id: int, comment: str = "") -> JSON:
        return self._control(backfill_id, "reject", {"comment": comment})

    def wait(self, backfill_id: int, *, timeout: float = 3600.0, poll: float = 1.0) -> JSON:
        """Poll until the backfill is done, cancelled or rejected (TimeoutError past
        `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.get(backfill_id)
            if current["status"] in ENDED:
                return current
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill {backfill_id} is still {current['status']}")
            time.sleep(poll)

    def _control(self, backfill_id: int, action: str, body: JSON | None = None) -> JSON:
        result: JSON = self._c.request("POST", f"/backfills/{backfill_id}/{action}", json=body)
        return result
