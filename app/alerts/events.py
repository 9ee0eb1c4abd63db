"""What happened to a run, as alert events; and the text that says it. Pure code."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class AlertEvent(StrEnum):
    FAILED = "failed"  # an attempt ended FAILED (retried or not)
    SUCCEEDED = "succeeded"
    TIMEOUT = "timeout"  # FAILED because it ran past max_run_seconds
    RETRIES_EXHAUSTED = "retries_exhausted"  # FAILED, and no further attempt follows
    LATE_START = "late_start"  # not RUNNING `late_minutes` after its trigger time
    AGENT_LOST = "agent_lost"  # FAILED because its agent stopped answering


_LABELS = {
    AlertEvent.FAILED: "failed",
    AlertEvent.SUCCEEDED: "succeeded",
    AlertEvent.TIMEOUT: "timed out",
    AlertEvent.RETRIES_EXHAUSTED: "failed with no retries left",
    AlertEvent.LATE_START: "has not started",
    AlertEvent.AGENT_LOST: "lost its agent",
}


def normalise_event(value: object) -> object:
    """`retries exhausted`, `Late-Start`: the spellings people write, as event names."""
    if isinstance(value, str):
        return value.strip().lower().replace(" ", "_").replace("-", "_")
    return value


def ending_events(status: str, reason: str | None, retried: bool) -> set[AlertEvent]:
    """The events an attempt's end raises. `retried`: a further attempt was scheduled."""
    if status == "SUCCESS":
        return {AlertEvent.SUCCEEDED}
    if status != "FAILED":
        return set()
    found = {AlertEvent.FAILED}
    text = (reason or "").lower()
    if text.startswith("timeout"):
        found.add(AlertEvent.TIMEOUT)
    if text.startswith("agent lost") or text.startswith("agent restarted"):
        found.add(AlertEvent.AGENT_LOST)
    if not retried:
        found.add(AlertEvent.RETRIES_EXHAUSTED)
    return found


def run_label(run: Mapping[str, Any]) -> str:
    name = run.get("task_name")
    if name:
        return f"task {name!r} run {run['id']}"
    return f"adhoc run {run['id']}" if run.get("trigger_kind") == "adhoc" else f"run {run['id']}"


def message(event: AlertEvent, run: Mapping[str, Any], *, late_minutes: float | None = None) -> str:
    """One line for people: `Almanac: task 'load' run 12 failed (exit code 1), attempt 1 on
    agent vm`."""
    text = f"Almanac: {run_label(run)} {_LABELS[event]}"
    if event is AlertEvent.LATE_START:
        text += f" {late_minutes:g} minutes after its trigger time {run.get('trigger_time')}"
        text += f" (status {run.get('status')})"
    elif run.get("reason"):
        text += f" ({run['reason']})"
    details = [f"attempt {run.get('attempt')}"]
    if run.get("agent"):
        details.append(f"on agent {run['agent']}")
    return f"{text}, {' '.join(details)}"
