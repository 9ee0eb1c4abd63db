"""Controls of a whole backfill: pause (no new date starts), resume, cancel, and an
operator's approval or rejection of a backfill a `user` submitted.

Cancel: dates not started never start; runs of the backfill still queued on the server
(ACTIVE, not yet sent to an agent) end TERMINATED with the cancellation as their reason;
runs already on an agent are left to finish (kill them, or terminate their group run, to
stop them). A cancelled backfill cannot be resumed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import backfills as rows
from app.db.backfill_tables import Backfill, BackfillDate
from app.db.engine import session_scope
from app.db.tables import Run
from app.db.unit_of_work import record
from app.domain.events import DispatchWanted
from app.domain.roles import Role
from app.domain.states import RunStatus
from app.errors import Conflict
from app.models.backfill_schemas import BackfillPublic
from app.scheduler.operator import stop_run
from app.services.actor import Actor
from app.services.backfill_view import backfill_public

Action = Literal["pause", "resume", "cancel", "approve", "reject"]

# Where each action may be taken from, and where it leads.
_MOVES: dict[str, tuple[frozenset[str], str]] = {
    "pause": (frozenset({rows.RUNNING}), rows.PAUSED),
    "resume": (frozenset({rows.PAUSED}), rows.RUNNING),
    "cancel": (frozenset({rows.RUNNING, rows.PAUSED, rows.PENDING_APPROVAL}), rows.CANCELLED),
    "approve": (frozenset({rows.PENDING_APPROVAL}), rows.RUNNING),
    "reject": (frozenset({rows.PENDING_APPROVAL}), rows.REJECTED),
}
# Runs still on the server: a cancel ends them here.
_QUEUED = [RunStatus.IDLE.value, RunStatus.ACTIVE.value, RunStatus.PENDING_APPROVAL.value]


def control(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    backfill_id: int,
    action: Action,
    comment: str = "",
) -> BackfillPublic:
    """Pause, resume and cancel: the backfill's owner or an operator; approve and reject:
    an operator."""
    with session_scope(engine) as session:
        row = rows.get_backfill(session, backfill_id, lock=True)
        _allowed(actor, row, action)  # the role first, as every route answers
        actor.scope.check(row.instance, "backfill", backfill_id)
        sources, target = _MOVES[action]
        if row.status not in sources:
            raise Conflict(f"backfill {backfill_id} is {row.status}: it cannot be {_done(action)}")
        before = {"status": row.status}
        detail = f"{_done(action)} by {actor.username}" + (f": {comment}" if comment else "")
        if target in (rows.CANCELLED, rows.REJECTED):
            _stop_queued(session, row, detail, actor.username, now)
        rows.touch(row, target, at=now, reason=detail)
        actor.audit(
            session,
            at=now,
            action=f"backfill.{action}",
            target_kind="backfill",
            target_id=backfill_id,
            before=before,
            after={"status": target},
            instance=row.instance,
            detail=comment,
        )
        if target == rows.RUNNING:
            record(session, DispatchWanted())
        return backfill_public(session, row)


def _allowed(actor: Actor, row: Backfill, action: Action) -> None:
    if action in ("approve", "reject") or row.created_by != actor.username:
        actor.require(Role.OPERATOR)
    else:
        actor.require(Role.USER)


def _done(action: Action) -> str:
    return {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}.get(
        action, f"{action}d" if action.endswith("e") else f"{action}ed"
    )


def _stop_queued(session: Session, row: Backfill, detail: str, who: str, now: datetime) -> None:
    pending = session.exec(
        select(BackfillDate).where(
            BackfillDate.backfill_id == row.id, BackfillDate.state == "pending"
        )
    ).all()
    for item in pending:
        item.state = "cancelled"
    queued = session.exec(
        select(Run)
        .where(Run.backfill_id == row.id, col(Run.status).in_(_QUEUED))
        .order_by(col(Run.id))
    ).all()
    for run in queued:
        stop_run(session, run, who=who, detail=f"backfill {row.id} {detail}", now=now)
