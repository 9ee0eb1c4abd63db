"""Import / Export of definitions on the Tasks & Groups page, through the services
(app/services/transfer.py): a dry run first shows what would change; applying is a second,
explicit step."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from app.services import transfer
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, CallsDep
from app.web.htmx import HtmxDep
from app.web.json_lines import json_lines, problem_line
from app.web.routes.tasks import page_or_panel
from app.web.templating import render

router = APIRouter(include_in_schema=False)
MAX_DOCUMENT = 5 * 1024 * 1024


@router.get("/tasks/import-export")
async def transfer_panel(
    request: Request,
    api: CallsDep,
    htmx: HtmxDep,
    tab: Literal["definitions", "crontab"] = "definitions",
) -> Response:
    return await page_or_panel(
        request,
        api,
        htmx.wants_fragment,
        "tasks/_transfer.html",
        {"report": None, "document": "", "errors": [], **crontab_context(tab)},
    )


def crontab_context(tab: str, **values: Any) -> dict[str, Any]:
    """What the crontab tab shows: the form's values, a dry run's report, refusals."""
    return {
        "tab": tab,
        "cron": {"format": "user", "timezone": "UTC", "instance": "default", **values},
        "cron_report": None,
        "cron_errors": [],
    }


def with_lines(document: str, problems: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Each problem of the document with the line its item or field starts on."""
    lines = json_lines(document)
    return [
        {**p, "line": problem_line(lines, p.get("item", ""), p.get("field", ""))} for p in problems
    ]


@router.get("/tasks/export")
async def export_file(api: CallsDep, format: Literal["json", "yaml"] = "json") -> Response:
    as_yaml = format == "yaml"
    document = await api.read(transfer.export_document, as_yaml=as_yaml)
    return Response(
        document,
        media_type="application/yaml" if as_yaml else "application/json",
        headers={"Content-Disposition": f'attachment; filename="almanac-definitions.{format}"'},
    )


@router.post("/tasks/import")
async def import_file(
    request: Request,
    api: CallsDep,
    session: WriteSessionDep,
    step: Annotated[Literal["check", "apply"], Form()] = "check",
    mode: Annotated[Literal["merge", "mirror"], Form()] = "merge",
    file: Annotated[UploadFile | None, File()] = None,
    document: Annotated[str, Form(max_length=MAX_DOCUMENT)] = "",
) -> Response:
    raw = (
        (await file.read(MAX_DOCUMENT + 1))
        if file is not None and file.filename
        else document.encode()
    )
    context: dict[str, Any] = {
        "document": raw.decode("utf-8", errors="replace"),
        "mode": mode,
        "report": None,
        "errors": [],
    }
    headers: dict[str, str] = {}
    if not raw.strip():
        context["errors"] = [{"item": "document", "field": "", "problem": "choose a file"}]
    elif len(raw) > MAX_DOCUMENT:
        context["errors"] = [{"item": "document", "field": "", "problem": "over 5 MB"}]
    else:
        try:
            report = await api.command(
                transfer.import_document,
                raw=raw,
                mode=mode,
                dry_run=step == "check",
            )
            context["report"] = report.model_dump(mode="json")
        except ApiError as exc:
            if exc.status_code == 401:
                raise
            context["errors"] = with_lines(
                context["document"],
                exc.errors or [{"item": "document", "field": "", "problem": exc.detail}],
            )
        if step == "apply" and context["report"]:
            headers["HX-Trigger"] = json.dumps(
                {"toast": {"text": "Definitions imported"}, "tasks-changed": True}
            )
    return render(request, "tasks/_transfer.html", context, session=api.session, headers=headers)
