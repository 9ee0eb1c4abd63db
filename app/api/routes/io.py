"""/export, /import and /schema/export.json: definitions as one document, by name;
/import/crontab: a crontab as tasks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from app.api.deps import ActorDep, AdminDep, ContextDep, OperatorDep, UserDep
from app.db.engine import session_scope
from app.io.importer import Mode
from app.io.problems import ImportRefused
from app.io.schema import export_schema
from app.models.crontab_schemas import CrontabImportReport, CrontabImportRequest
from app.models.io_schemas import ExportDocument, ImportReport
from app.services import crontab_import, transfer

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
    responses={
        200: {
            "model": ExportDocument,
            "content": {"application/json": {}, "application/yaml": {}},
        }
    },
)
def export(
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    format: Annotated[
        Literal["json", "yaml"], Query(description="json (default) or yaml: the same document")
    ] = "json",
) -> Response:
    """Calendars, groups, tasks and dependencies of the caller's instances, by name, in a
    stable order: the same definitions always give the same bytes."""
    as_yaml = format == "yaml"
    with session_scope(context.engine) as session:
        document = transfer.export_document(session, actor=actor, as_yaml=as_yaml)
    return Response(document, media_type="application/yaml" if as_yaml else "application/json")


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
    actor: ActorDep,
    dry_run: bool = False,
    mode: Annotated[
        Mode, Query(description="merge: create and update; mirror: also delete what the file lacks")
    ] = "merge",
) -> Response:
    """Check the whole document, then apply it in one transaction (or only report what it
    would do, with `dry_run=true`). A refused document changes nothing."""
    raw = await request.body()
    try:
        report = await anyio.to_thread.run_sync(
            lambda: transfer.import_document(
                context.engine,
                actor=actor,
                now=context.clock.now(),
                raw=raw,
                mode=mode,
                dry_run=dry_run,
            )
        )
    except ImportRefused as refused:
        return JSONResponse(
            status_code=refused.status,
            content={
                "detail": str(refused),
                "errors": [p.model_dump(exclude_none=True) for p in refused.problems],
            },
        )
    return JSONResponse(report.model_dump(mode="json"))


@router.post(
    "/import/crontab",
    response_model=CrontabImportReport,
    responses={422: {"description": "Refused: `errors` lists each line (or task) and why"}},
)
async def import_crontab(
    body: CrontabImportRequest,
    context: ContextDep,
    user: AdminDep,
    actor: ActorDep,
    dry_run: bool = False,
) -> Response:
    """Read a crontab (user or /etc/crontab format) as tasks: with `dry_run=true` only show
    them and the lines that cannot be translated; otherwise create them all in one
    transaction, refused whole while a line cannot be translated (unless
    `skip_untranslatable`)."""
    try:
        report = await anyio.to_thread.run_sync(
            lambda: crontab_import.import_crontab(
                context.engine, actor=actor, now=context.clock.now(), body=body, dry_run=dry_run
            )
        )
    except ImportRefused as refused:
        return JSONResponse(
            status_code=refused.status,
            content={
                "detail": str(refused),
                "errors": [p.model_dump(exclude_none=True) for p in refused.problems],
            },
        )
    return JSONResponse(report.model_dump(mode="json"))
