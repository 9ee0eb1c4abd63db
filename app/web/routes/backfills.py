"""Backfill pages: from a task or group, a form whose preview (every date with run or skip
and the reason) comes before the start; a progress page that refreshes itself while the
backfill goes on, with pause, resume, cancel (and approve or reject for operators)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.models.backfill_schemas import BackfillCreate
from app.services import backfill_controls, backfills, groups, tasks
from app.services.backfill_controls import Action
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump, parse
from app.web.htmx import HtmxDep
from app.web.routes.backfill_list import LIST_TARGET, list_fragment
from app.web.routes.run_for_date import group_declarations, task_declarations
from app.web.run_form import request_from_form
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1)]
Kind = Literal["task", "group"]
_FIELDS = ("start", "end", "mode", "order", "max_concurrent")


async def _target(api: Calls, kind: Kind, key: int) -> tuple[dict[str, Any], list[Any]]:
    if kind == "task":
        found = dump(await api.read(tasks.read_task, tid=key))
        return found, await task_declarations(api, key)
    return dump(await api.read(groups.read_group, gid=key)), await group_declarations(api, key)


def _body(form: Mapping[str, str], decls: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {k: form[k] for k in _FIELDS if form.get(k, "").strip()}
    body["params"] = request_from_form(decls, form).get("params", {})
    body["confirm"] = form.get("confirm") == "true"
    return body


async def _form_page(request: Request, api: Calls, kind: Kind, key: int) -> Response:
    target, decls = await _target(api, kind, key)
    context = {"kind": kind, "key": key, "target": target, "decls": decls}
    return render(request, "backfills/new.html", context, session=api.session)


@router.get("/tasks/{key:int}/backfill")
async def task_form(request: Request, key: Id, api: CallsDep) -> Response:
    return await _form_page(request, api, "task", key)


@router.get("/groups/{key:int}/backfill")
async def group_form(request: Request, key: Id, api: CallsDep) -> Response:
    return await _form_page(request, api, "group", key)


async def _submit(request: Request, api: Calls, kind: Kind, key: int, dry_run: bool) -> Response:
    """The preview (dry run) as a fragment, or the start: the browser goes to its progress."""
    _, decls = await _target(api, kind, key)
    form = {k: str(v) for k, v in (await request.form()).items()}
    arguments = {"task_id": key} if kind == "task" else {"group_id": key}
    try:
        body = parse(BackfillCreate, {**_body(form, decls), "dry_run": dry_run})
        made = dump(
            await api.command(
                backfills.start_backfill,
                body=body,
                confirm_over=api.context.settings.backfill_confirm_dates,
                **arguments,
            )
        )
    except ApiError as exc:
        if exc.status_code == 404:
            raise
        refused = {"error": exc.detail, "errors": exc.field_errors()}
        return render(request, "backfills/_preview.html", refused, session=api.session)
    if dry_run:
        context: dict[str, Any] = {
            "plan": made,
            "confirm_over": api.context.settings.backfill_confirm_dates,
            "action": f"/{kind}s/{key}/backfill",
        }
        return render(request, "backfills/_preview.html", context, session=api.session)
    return Response(status_code=204, headers={"HX-Redirect": f"/backfills/{made['id']}"})


@router.post("/tasks/{key:int}/backfill/preview")
async def task_preview(
    request: Request, key: Id, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _submit(request, api, "task", key, dry_run=True)


@router.post("/groups/{key:int}/backfill/preview")
async def group_preview(
    request: Request, key: Id, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _submit(request, api, "group", key, dry_run=True)


@router.post("/tasks/{key:int}/backfill")
async def task_start(
    request: Request, key: Id, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _submit(request, api, "task", key, dry_run=False)


@router.post("/groups/{key:int}/backfill")
async def group_start(
    request: Request, key: Id, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _submit(request, api, "group", key, dry_run=False)


@router.get("/backfills/{backfill_id:int}")
async def progress_page(
    request: Request, backfill_id: Id, api: CallsDep, htmx: HtmxDep
) -> Response:
    """The page, or (htmx) its progress card alone: it polls itself until the backfill ends."""
    shown = dump(await api.read(backfills.read_backfill, backfill_id=backfill_id))
    name = "backfills/_progress.html" if htmx.wants_fragment else "backfills/page.html"
    return render(request, name, {"b": shown}, session=api.session)


@router.post("/backfills/{backfill_id:int}/{action}")
async def control(
    request: Request,
    backfill_id: Id,
    action: str,
    api: CallsDep,
    session: WriteSessionDep,
    htmx: HtmxDep,
) -> Response:
    if action not in ("pause", "resume", "cancel", "approve", "reject"):
        return Response(status_code=404)
    chosen: Action = action  # type: ignore[assignment]
    try:
        await api.command(backfill_controls.control, backfill_id=backfill_id, action=chosen)
    except ApiError as exc:
        if exc.status_code in (403, 404):  # as the API answers (the page shows a toast)
            raise
        toast = {"toast": {"text": exc.detail, "kind": "error"}}
        return Response(status_code=204, headers={"HX-Trigger": json.dumps(toast)})
    if htmx.target == LIST_TARGET:  # a button of the backfills list: the list again
        return await list_fragment(request, api)
    shown = dump(await api.read(backfills.read_backfill, backfill_id=backfill_id))
    return render(request, "backfills/_progress.html", {"b": shown}, session=api.session)
