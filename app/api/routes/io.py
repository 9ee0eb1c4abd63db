"""/export, /import and /schema/export.json: definitions as one document, by name."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from app.api.deps import AuditDep, Auditor, ContextDep, OperatorDep, UserDep
from app.context import AppContext
from app.db.engine import session_scope
from app.domain.roles import Role, role_at_least
from app.errors import Forbidden
from app.io.apply import Applied, apply_plan
from app.io.export import database_snapshot
from app.io.importer import Mode, plan_import
from app.io.problems import ImportRefused
from app.io.schema import export_schema
from app.io.snapshot import dumps
from app.models.io_schemas import ExportDocument, ImportReport
from app.services.env_view import reveals_env
from app.services.policy_gate import enforce_tasks
from app.services.scope import InstanceScope

router = APIRouter(tags=["import-export"])

_DOCUMENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An export document (see GET /api/v1/schema/export.json).",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ExportDocument"}}
        },
    },
}


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"model": ExportDocument, "content": {"application/json": {}}}},
)
def export(context: ContextDep, user: UserDep) -> Response:
    """Calendars, groups, tasks and dependencies of the caller's instances, by name, in a
    stable order: the same definitions always give the same bytes."""
    with session_scope(context.engine) as session:
        snap = database_snapshot(
            session, InstanceScope.of(user).names(), reveal_env=reveals_env(user.role)
        )
    return Response(dumps(snap.document()), media_type="application/json")


@router.get("/schema/export.json", response_model=dict[str, Any])
def schema(user: UserDep) -> dict[str, Any]:
    """The JSON Schema of the export / import document."""
    return export_schema()


@router.post(
    "/import",
    response_model=ImportReport,
    openapi_extra=_DOCUMENT_BODY,
    responses={
        400: {"description": "Not JSON"},
        422: {"description": "Refused: `errors` lists item, field, problem"},
    },
)
async def import_document(
    request: Request,
    context: ContextDep,
    user: OperatorDep,
    audit: AuditDep,
    dry_run: bool = False,
    mode: Annotated[
        Mode, Query(description="merge: create and update; mirror: also delete what the file lacks")
    ] = "merge",
) -> Response:
    """Check the whole document, then apply it in one transaction (or only report what it
    would do, with `dry_run=true`). A refused document changes nothing."""
    raw = await request.body()
    try:
        report, applied = await anyio.to_thread.run_sync(
            _import, context, raw, mode, dry_run, user.role, InstanceScope.of(user), audit
        )
    except ImportRefused as refused:
        return JSONResponse(
            status_code=refused.status,
            content={"detail": str(refused), "errors": [p.model_dump() for p in refused.problems]},
        )
    for tid, at in applied.tasks.items():
        context.scheduler.task_changed(tid, at)
    for gid, at in applied.groups.items():
        context.scheduler.group_changed(gid, at)
    return JSONResponse(report.model_dump(mode="json"))


def _import(
    context: AppContext,
    raw: bytes,
    mode: Mode,
    dry_run: bool,
    role: str,
    scope: InstanceScope,
    audit: Auditor,
) -> tuple[ImportReport, Applied]:
    applied = Applied()
    with session_scope(context.engine) as session:
        plan = plan_import(session, raw, mode=mode, granted=scope.names())
        if plan.diff.touches("calendar") and not (
            role_at_least(role, Role.ADMIN) and scope.everything
        ):
            raise Forbidden(
                "calendars: changing calendars needs the admin role in every "
                "instance (they are shared by all)"
            )
        tasks = plan.desired.of("task")
        changed = [*plan.diff.create.get("task", []), *plan.diff.update.get("task", {})]
        enforce_tasks(session, role, [tasks[key] for key in changed])
        report = ImportReport(
            mode=mode,
            dry_run=dry_run,
            applied=False,
            summary=plan.diff.summary(),
            changes=plan.diff.changes(),
        )
        if dry_run:
            return report, applied
        applied = apply_plan(session, plan, now=context.clock.now())
        report.applied = True
        audit(
            session,
            action="definitions.import",
            target_kind="definitions",
            target_id=mode,
            after=report,
            detail=", ".join(f"{k} {v}" for k, v in report.summary.items()),
        )
    return report, applied
