"""An operator's decision on a run a `user` submitted: approve or reject.

The decision, who made it and the comment go on the run's timeline and in the audit log,
with the whole spec that will run (secret values masked). An approval is of that exact spec:
given `spec_digest` must be the run's (Conflict otherwise), and the approved digest goes into
the spec's bookkeeping so dispatch runs nothing else (app/scheduler/dispatch.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from app.db.engine import session_scope
from app.db.run_commands import apply
from app.db.runs import get_run
from app.db.sealing import box_or_none
from app.db.tables import Run
from app.db.unit_of_work import record
from app.domain import run_commands as c
from app.domain import run_spec
from app.domain.events import DispatchWanted
from app.domain.roles import Role
from app.domain.states import RunStatus
from app.errors import Conflict
from app.models.schemas import RunPublic
from app.models.security_schemas import Approval, Decision
from app.services.actor import Actor
from app.services.env_view import audited_run, reveals_env, run_spec_fields
from app.services.policy_gate import enforce
from app.services.runs_view import run_public


@dataclass(frozen=True)
class Pending:
    """A run waiting for a decision, with the spec it will run as the reader may see it."""

    run: RunPublic
    spec: dict[str, Any]
    spec_digest: str


def pending(session: Session, *, actor: Actor, limit: int = 200) -> tuple[list[Pending], bool]:
    """The runs waiting for approval in the reader's instances, oldest first (and whether
    more wait beyond `limit`)."""
    rows = session.exec(
        select(Run)
        .where(Run.status == RunStatus.PENDING_APPROVAL, actor.scope.condition(Run.instance))
        .order_by(col(Run.id))
        .limit(limit + 1)
    ).all()
    box, reveal = box_or_none(session), reveals_env(actor.role)
    items = []
    for row in rows[:limit]:
        fields = run_spec_fields(row, reveal, box)
        items.append(Pending(run_public(row), fields["spec"], fields["spec_digest"]))
    return items, len(rows) > limit


def pending_count(session: Session, *, actor: Actor) -> int:
    """How many runs wait for approval in the reader's instances."""
    stmt = select(func.count()).where(
        Run.status == RunStatus.PENDING_APPROVAL, actor.scope.condition(Run.instance)
    )
    return int(session.exec(stmt).one())


def _check_digest(run: Run, wanted: str | None) -> str:
    current = run_spec.digest(run.spec)
    submitted = run.spec_digest
    if submitted and len(submitted) == 64 and submitted != current:
        raise Conflict(
            f"run {run.id}: its spec changed after it was submitted; it cannot be approved"
        )
    if wanted is not None and wanted != current:
        raise Conflict(
            f"spec_digest: run {run.id}'s spec is {current}, not {wanted}: review the run again"
        )
    return current


def decide(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    run_id: int,
    body: Decision | None,
    approve: bool,
) -> RunPublic:
    """Approve (the run goes ACTIVE, of exactly the spec reviewed: `Approval.spec_digest`)
    or reject (it ends REJECTED, the comment its reason) a PENDING_APPROVAL run."""
    actor.require(Role.OPERATOR)
    who = actor.username
    comment = body.comment.strip() if body else ""
    verb = "approved" if approve else "rejected"
    detail = f"{verb} by {who}" + (f": {comment}" if comment else "")
    with session_scope(engine) as session:
        run = get_run(session, run_id, lock=True)
        actor.scope.check(run.instance, "run", run_id)
        if run.status != RunStatus.PENDING_APPROVAL:
            raise Conflict(
                f"run {run_id} is {run.status}: only a PENDING_APPROVAL run can be {verb}"
            )
        before = audited_run(session, run)
        if approve:
            wanted = body.spec_digest if isinstance(body, Approval) else None
            digest = _check_digest(run, wanted)
            # The policies as they are now: one tightened since the submission holds too.
            enforce(
                session, actor.role, run.spec, run.instance, [str(run.spec.get("target") or "")]
            )
            apply(session, run, c.Approve(detail, digest), now=now)
        else:
            apply(session, run, c.Reject(detail), now=now)
        public = run_public(run)
        actor.audit(
            session,
            at=now,
            action="run.approve" if approve else "run.reject",
            target_kind="run",
            target_id=run_id,
            before=before,
            after=audited_run(session, run),
            instance=run.instance,
            detail=comment,
        )
        if approve:
            record(session, DispatchWanted())
    return public
