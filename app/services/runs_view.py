"""Run rows as the API shows them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.db.runs import duration_seconds
from app.db.tables import Run, RunEvent
from app.models.schemas import RunDetail, RunEventPublic, RunPublic


def run_public(run: Run) -> RunPublic:
    return RunPublic(
        id=run.id or 0,
        task=run.task_id,
        task_name=run.spec.get("task_name"),
        group_run=run.group_run_id,
        batch_id=run.batch_id,
        status=run.status,
        reason=run.reason,
        trigger_kind=run.trigger_kind,
        trigger_time=run.trigger_time,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=duration_seconds(run),
        agent=run.agent,
        exit_code=run.exit_code,
        attempt=run.attempt,
        command=run.spec.get("command"),
        instance=run.instance,
        created_by=run.created_by,
        business_date=run.business_date,
        params=dict(run.params or {}),
        results=dict(run.results or {}),
        priority=run.priority,
        task_version=run.task_version,
    )


def run_detail(
    run: Run,
    events: Sequence[RunEvent],
    waiting: list[dict[str, Any]] | None = None,
    *,
    spec: dict[str, Any] | None = None,
) -> RunDetail:
    """`spec`: `spec` and `spec_digest` as env_view.run_spec_fields gives them."""
    return RunDetail(
        **run_public(run).model_dump(),
        waiting_for=waiting or [],
        allocation=run.allocation,
        **(spec or {}),
        events=[
            RunEventPublic(status=e.status, at=e.at, detail=e.detail, attempt=e.attempt)
            for e in events
        ],
    )
