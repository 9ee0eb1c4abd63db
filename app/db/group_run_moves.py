"""The one place a group run's status is written: every move checked against its lifecycle
(app/domain/group_run_states.py), its end stamped."""

from __future__ import annotations

from datetime import datetime

from app.db.tables import GroupRun
from app.domain.group_run_states import GROUP_ENDED, GroupRunStatus, can_move
from app.errors import Conflict


def move_group_run(
    group_run: GroupRun, target: GroupRunStatus, *, at: datetime, finished: bool | None = None
) -> None:
    """Move to `target`. `finished_at` is stamped on an ending and cleared on a reopening;
    `finished` says otherwise (a TERMINATED group run ends once its killed runs have)."""
    current = GroupRunStatus(group_run.status)  # a row built in memory may hold the string
    if not can_move(current, target):
        raise Conflict(f"group run {group_run.id} cannot go from {current} to {target}")
    group_run.status = target
    ends = target in GROUP_ENDED if finished is None else finished
    group_run.finished_at = at if ends else None
