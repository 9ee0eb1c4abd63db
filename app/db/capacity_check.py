"""Save-time check of a run request (task, adhoc, submit): one that no agent the database
knows could ever hold, even idle, is refused with the field that is too large."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, select

from app.db.tables import Agent, Task
from app.domain.capacity import capacity_of, never_fits, request_of
from app.errors import InvalidInput

# What a task asks of an agent: a change to one of these is checked again.
REQUEST_FIELDS = frozenset({"target", "labels", "cpus", "memory", "gpus", "gpu_count", "numa_node"})


def task_request(task: Task) -> dict[str, Any]:
    return {key: getattr(task, key) for key in REQUEST_FIELDS}


def check_fits_somewhere(session: Session, spec: Mapping[str, Any]) -> None:
    """Raises InvalidInput naming the field when every agent that the target and labels
    allow reports a capacity too small for the request. Nothing known (no such agent yet,
    or one that reports no capacity): nothing is refused."""
    request = request_of(spec)
    if request.empty and request.numa_node is None:
        return
    target = spec.get("target")
    selector = spec.get("labels") or {}
    rows = session.exec(select(Agent.name, Agent.labels, Agent.resources)).all()
    shortfalls: list[tuple[str, str, str]] = []
    for name, labels, resources in sorted(rows):
        if target and name != target:
            continue
        if any((labels or {}).get(k) != v for k, v in selector.items()):
            continue
        if "cpus" not in (resources or {}):
            return  # an agent that reports no capacity: it may hold it
        short = never_fits(request, capacity_of(resources))
        if short is None:
            return
        shortfalls.append((name, *short))
    if not shortfalls:
        return
    field = shortfalls[0][1]
    shown = ", ".join(f"{name} has {what}" for name, _, what in shortfalls[:5])
    more = f" (+{len(shortfalls) - 5} more)" if len(shortfalls) > 5 else ""
    raise InvalidInput(
        field, f"asks {request.words()}: no agent could ever hold it ({shown}{more})"
    )
