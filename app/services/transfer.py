"""Definitions as one document: export the caller's instances by name, import a document
(checked whole first; applied in one transaction, or only reported with `dry_run`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from app.db.engine import session_scope
from app.db.unit_of_work import record
from app.definitions.yaml_text import yaml_dumps
from app.domain.roles import Role
from app.errors import Forbidden
from app.io.apply import apply_plan
from app.io.export import database_snapshot
from app.io.importer import Mode, plan_import
from app.io.snapshot import dumps
from app.models.io_schemas import ImportReport
from app.services.actor import Actor
from app.services.env_view import reveals_env
from app.services.policy_gate import enforce_tasks


def export_document(session: Session, *, actor: Actor, as_yaml: bool = False) -> str:
    """Calendars, groups, tasks and dependencies of the caller's instances, by name, in a
    stable order: the same definitions always give the same bytes (JSON, or YAML)."""
    snap = database_snapshot(session, actor.scope.names(), reveal_env=reveals_env(actor.role))
    return yaml_dumps(snap.document()) if as_yaml else dumps(snap.document())


def import_document(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    raw: bytes,
    mode: Mode,
    dry_run: bool,
) -> ImportReport:
    """ImportRefused (with every problem) for a document that cannot be applied: nothing
    changes then. Applied schedules reach the scheduler's timers after the commit (events)."""
    actor.require(Role.OPERATOR)
    return _import(engine, actor.through("import"), now, raw, mode, dry_run)


def _import(
    engine: Engine, actor: Actor, now: datetime, raw: bytes, mode: Mode, dry_run: bool
) -> ImportReport:
    scope = actor.scope
    with session_scope(engine) as session:
        plan = plan_import(session, raw, mode=mode, granted=scope.names())
        if plan.diff.touches("calendar") and not (actor.at_least(Role.ADMIN) and scope.everything):
            raise Forbidden(
                "calendars: changing calendars needs the admin role in every "
                "instance (they are shared by all)"
            )
        tasks = plan.desired.of("task")
        changed = [*plan.diff.create.get("task", []), *plan.diff.update.get("task", {})]
        enforce_tasks(session, actor.role, [tasks[key] for key in changed])
        report = ImportReport(
            mode=mode,
            dry_run=dry_run,
            applied=False,
            summary=plan.diff.summary(),
            changes=plan.diff.changes(),
        )
        if dry_run:
            return report
        applied = apply_plan(session, plan, now=now)
        record(session, *applied.definition_changes())
        report.applied = True
        actor.audit(
            session,
            at=now,
            action="definitions.import",
            target_kind="definitions",
            target_id=mode,
            after=report,
            detail=", ".join(f"{k} {v}" for k, v in report.summary.items()),
        )
    return report
