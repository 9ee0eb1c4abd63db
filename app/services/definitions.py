"""Definitions as code: plan or apply a folder of YAML/JSON files, in one transaction.

The same checks as an import (DESIGN.md "Import / export"), every problem at once with file,
line and column; the objects the files hold are marked as managed by their source, and
`prune` deletes only what that source manages and the files no longer hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.tables import User
from app.db.unit_of_work import record
from app.definitions.bundle import read_bundle
from app.definitions.files import SourceFile
from app.definitions.planner import check_source_name, plan_definitions
from app.definitions.render import plan_changes, plan_text, summary
from app.definitions.writer import write_plan
from app.domain.roles import Role
from app.errors import Forbidden, InvalidInput
from app.models.definition_schemas import DefinitionsReport, DefinitionsRequest
from app.services.actor import Actor
from app.services.policy_gate import enforce_tasks

SYNC_PREFIX = "sync:"


def acting_actor(user: User, *, origin: Literal["apply", "sync"], address: str | None) -> Actor:
    """Who an apply or a sync acts as: the one place both build it (`origin` says which)."""
    del origin  # kept for the record of where a change came from
    return Actor(user=user, source=address)


def handle_request(
    engine: Engine, *, actor: Actor, now: datetime, request: DefinitionsRequest, apply: bool
) -> DefinitionsReport:
    """`POST /definitions/plan` and `/definitions/apply`: the caller's files, as the caller."""
    actor.require(Role.OPERATOR)
    if request.source.startswith(SYNC_PREFIX):
        raise InvalidInput("source", f"names starting {SYNC_PREFIX!r} belong to the git sync")
    acting = acting_actor(actor.user, origin="apply", address=actor.source)
    files = [SourceFile(f.path, f.content) for f in request.files]
    return plan_or_apply(
        engine,
        actor=acting,
        now=now,
        files=files,
        source=request.source,
        commit=request.commit,
        prune=request.prune,
        apply=apply,
    )


def plan_or_apply(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    files: Sequence[SourceFile],
    source: str,
    commit: str | None,
    prune: bool,
    apply: bool,
) -> DefinitionsReport:
    """ImportRefused (every problem, located) or the plan; with `apply`, written all at once.
    A plan with nothing to do writes nothing: applying the same files twice is a no-op."""
    check_source_name(source)
    bundle = read_bundle(files)
    scope = actor.scope
    with session_scope(engine) as session:
        plan = plan_definitions(
            session, bundle, source=source, commit=commit, prune=prune, granted=scope.names()
        )
        if plan.diff.touches("calendar") and not (actor.at_least(Role.ADMIN) and scope.everything):
            raise Forbidden(
                "calendars: changing calendars needs the admin role in every "
                "instance (they are shared by all)"
            )
        tasks = plan.plan.desired.of("task")
        changed = [*plan.diff.create.get("task", []), *plan.diff.update.get("task", {})]
        enforce_tasks(session, actor.role, [tasks[key] for key in changed])
        changes = plan_changes(plan)
        counts = summary(plan, changes)
        report = DefinitionsReport(
            source=source,
            commit=commit,
            prune=prune,
            applied=False,
            summary=counts,
            changes=changes,
            text=plan_text(changes, counts),
        )
        if not apply:
            return report
        report.applied = True
        if plan.is_empty():
            return report
        applied = write_plan(session, plan, now=now)
        record(session, *applied.definition_changes())
        actor.audit(
            session,
            at=now,
            action="definitions.apply",
            target_kind="definitions",
            target_id=source,
            after={"commit": commit, "prune": prune, "summary": counts},
            detail=", ".join(f"{k} {v}" for k, v in counts.items()),
        )
    return report
