"""Following a run to its end, printing every state it passes through with its time.

Polling the status alone misses the states a run crosses between two polls (a quick command
goes ACTIVE → TRIGGER → STARTED → RUNNING → SUCCESS in a few milliseconds); the run's events
keep every one, so we print the events we have not printed yet."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.client.http import TERMINAL
from app.client.runs import RunHandle


def event_line(event: dict[str, Any]) -> str:
    detail = f"  {event['detail']}" if event.get("detail") else ""
    attempt = event.get("attempt")
    tried = f"  attempt {attempt}" if attempt and attempt > 1 else ""
    return f"  {event['status']:<16} {event['at']}{tried}{detail}"


def follow_run(
    handle: RunHandle,
    emit: Callable[[str], None],
    *,
    timeout: float | None = None,
    poll: float = 0.2,
) -> str:
    """Print each new event of the run until it ends; returns its final status. Raises
    TimeoutError after `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    printed = 0
    while True:
        events = list(handle.data.get("events") or [])
        for event in events[printed:]:
            emit(event_line(event))
        printed = max(printed, len(events))
        if handle.status in TERMINAL:
            return handle.status
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {handle.id} still {handle.status} after {timeout}s")
        time.sleep(poll)
        handle.refresh()
