"""The History tab of a task and of a group: versions with who, when and from where, each
with its field-by-field diff, and a rollback button for operators (the service refuses
anyone else, whatever the page showed)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.services import groups, tasks, version_rollback, versions
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump
from app.web.htmx import HtmxDep
from app.web.routes.tasks import page_or_panel

router = APIRouter(include_in_schema=False)
ObjectId = Annotated[int, Path(ge=1)]
Number = Annotated[int, Path(ge=1)]
Kind = Literal["task", "group"]


async def _panel(
    request: Request,
    api: Calls,
    kind: Kind,
    object_id: int,
    fragment: bool,
    headers: dict[str, str] | None = None,
) -> Response:
    if kind == "task":
        subject = dump(await api.read(tasks.read_task, tid=object_id))
    else:
        subject = dump(await api.read(groups.read_group, gid=object_id))
    history = dump(await api.read(versions.version_history, kind=kind, object_id=object_id))
    base = f"/{kind}s/{object_id}"
    return await page_or_panel(
        request,
        api,
        fragment,
        "history/_history.html",
        {"kind": kind, "subject": subject, "versions": history, "base": base},
        tab="tasks" if kind == "task" else "groups",
        selected=object_id,
        headers=headers,
    )


@router.get("/tasks/{tid:int}/history")
async def task_history(request: Request, tid: ObjectId, api: CallsDep, htmx: HtmxDep) -> Response:
    return await _panel(request, api, "task", tid, htmx.wants_fragment)


@router.get("/groups/{gid:int}/history")
async def group_history(request: Request, gid: ObjectId, api: CallsDep, htmx: HtmxDep) -> Response:
    return await _panel(request, api, "group", gid, htmx.wants_fragment)


async def _rollback(
    request: Request, api: Calls, kind: Kind, object_id: int, number: int
) -> Response:
    try:
        if kind == "task":
            done = await api.command(version_rollback.rollback_task, tid=object_id, number=number)
        else:
            done = await api.command(version_rollback.rollback_group, gid=object_id, number=number)
    except ApiError as exc:
        if exc.status_code not in (409, 422):
            raise
        toast = {"text": exc.detail, "kind": "error"}
    else:
        toast = {"text": f"Rolled back to version {number}: now version {done.number}"}
    headers = {"HX-Trigger": json.dumps({"toast": toast, "tasks-changed": True})}
    return await _panel(request, api, kind, object_id, True, headers=headers)


@router.post("/tasks/{tid:int}/history/{number:int}/rollback")
async def rollback_task(
    request: Request, tid: ObjectId, number: Number, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _rollback(request, api, "task", tid, number)


@router.post("/groups/{gid:int}/history/{number:int}/rollback")
async def rollback_group(
    request: Request, gid: ObjectId, number: Number, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _rollback(request, api, "group", gid, number)
