"""The crontab tab of Import / Export: paste or upload a crontab, check it (a dry run shows
the tasks and the lines that cannot be translated), then apply it as a second step
(app/services/crontab_import.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import Response

from app.models.crontab_schemas import CrontabImportRequest
from app.services import crontab_import
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, CallsDep
from app.web.routes.transfer import crontab_context
from app.web.templating import render

router = APIRouter(include_in_schema=False)
MAX_CRONTAB = 1_000_000


@router.post("/tasks/import-crontab")
async def import_crontab(
    request: Request,
    api: CallsDep,
    session: WriteSessionDep,
    step: Annotated[Literal["check", "apply"], Form()] = "check",
    text: Annotated[str, Form(max_length=MAX_CRONTAB)] = "",
    file: Annotated[UploadFile | None, File()] = None,
    format: Annotated[Literal["user", "system"], Form()] = "user",
    timezone: Annotated[str, Form(max_length=100)] = "UTC",
    prefix: Annotated[str, Form(max_length=100)] = "",
    group: Annotated[str, Form(max_length=200)] = "",
    instance: Annotated[str, Form(max_length=200)] = "default",
    skip_untranslatable: Annotated[bool, Form()] = False,
) -> Response:
    if file is not None and file.filename:
        text = (await file.read(MAX_CRONTAB + 1)).decode("utf-8", errors="replace")
    values = {
        "text": text,
        "format": format,
        "timezone": timezone,
        "prefix": prefix,
        "group": group,
        "instance": instance,
        "skip_untranslatable": skip_untranslatable,
    }
    context: dict[str, Any] = {
        "report": None,
        "document": "",
        "errors": [],
        **crontab_context("crontab", **values),
    }
    headers: dict[str, str] = {}
    try:
        body = CrontabImportRequest.model_validate({**values, "group": group or None})
    except ValidationError as exc:
        context["cron_errors"] = [
            {"item": "options", "field": ".".join(map(str, e["loc"])), "problem": e["msg"]}
            for e in exc.errors()
        ]
        return render(request, "tasks/_transfer.html", context, session=api.session)
    try:
        report = await api.command(
            crontab_import.import_crontab, body=body, dry_run=step == "check"
        )
        context["cron_report"] = report.model_dump(mode="json")
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        context["cron_errors"] = exc.errors or [
            {"item": "crontab", "field": "", "problem": exc.detail}
        ]
    if step == "apply" and context["cron_report"]:
        headers["HX-Trigger"] = json.dumps(
            {"toast": {"text": "Crontab imported"}, "tasks-changed": True}
        )
    return render(request, "tasks/_transfer.html", context, session=api.session, headers=headers)
