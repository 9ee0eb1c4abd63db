"""Per-date freezes (/groups/{gid}/freezes, /tasks/{tid}/freezes): the business dates on which
a group or task does not run, with who froze each and why; operators add and remove them
through the freezes service (viewers read; a viewer's post is a 403, as on the API)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.domain.roles import Role
from app.errors import AlmanacError
from app.models.schemas import FreezeCreate
from app.services import freezes, groups, tasks
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump
from app.web.form_errors import checked, refusal_errors
from app.web.forms import FormErrors
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1)]
Kind = Literal["task", "group"]


async def _owner(api: Calls, kind: Kind, key: int) -> dict[str, Any]:
    if kind == "task":
        task = dump(await api.read(tasks.read_task, tid=key))
        return {"name": task["name"], "href": f"/tasks/{key}", "instance": task["instance"]}
    group = dump(await api.read(groups.read_group, gid=key))
    return {"name": group["name"], "href": f"/groups/{key}", "instance": group["instance"]}


async def _page(
    request: Request,
    api: Calls,
    kind: Kind,
    key: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    owner = await _owner(api, kind, key)
    listed = (
        await api.read(freezes.task_freezes, tid=key)
        if kind == "task"
        else await api.read(freezes.group_freezes, gid=key)
    )
    context = {
        "active": "tasks",
        "kind": kind,
        "key": key,
        "owner": owner,
        "freezes": dump(listed),
        "values": values or {},
        "errors": errors or {},
    }
    return render(
        request, "freezes/page.html", context, session=api.session, status_code=status_code
    )


def _allow(api: Calls) -> None:
    try:
        api.actor.require(Role.OPERATOR)
    except AlmanacError as exc:
        raise ApiError.of(exc) from exc


async def _add(request: Request, api: Calls, kind: Kind, key: int) -> Response:
    _allow(api)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    payload = {"date": values.get("date", "").strip(), "reason": values.get("reason", "")}
    try:
        body = checked(FreezeCreate, payload, {}, values)
        if kind == "task":
            await api.command(freezes.freeze_task, tid=key, body=body)
        else:
            await api.command(freezes.freeze_group, gid=key, body=body)
    except FormErrors as exc:
        return await _page(request, api, kind, key, values, exc.errors, 422)
    except ApiError as exc:
        if exc.status_code not in (409, 422):
            raise
        errors = refusal_errors(exc, values)
        return await _page(request, api, kind, key, values, errors, exc.status_code)
    return RedirectResponse(f"/{kind}s/{key}/freezes", status_code=303)


async def _remove(api: Calls, kind: Kind, key: int, day: date) -> Response:
    _allow(api)
    if kind == "task":
        await api.command(freezes.unfreeze_task, tid=key, day=day)
    else:
        await api.command(freezes.unfreeze_group, gid=key, day=day)
    return RedirectResponse(f"/{kind}s/{key}/freezes", status_code=303)


@router.get("/groups/{key:int}/freezes")
async def group_page(request: Request, key: Id, api: CallsDep) -> Response:
    return await _page(request, api, "group", key)


@router.get("/tasks/{key:int}/freezes")
async def task_page(request: Request, key: Id, api: CallsDep) -> Response:
    return await _page(request, api, "task", key)


@router.post("/groups/{key:int}/freezes")
async def group_add(request: Request, key: Id, api: CallsDep, session: WriteSessionDep) -> Response:
    return await _add(request, api, "group", key)


@router.post("/tasks/{key:int}/freezes")
async def task_add(request: Request, key: Id, api: CallsDep, session: WriteSessionDep) -> Response:
    return await _add(request, api, "task", key)


@router.post("/groups/{key:int}/freezes/{day}/delete")
async def group_remove(key: Id, day: date, api: CallsDep, session: WriteSessionDep) -> Response:
    return await _remove(api, "group", key, day)


@router.post("/tasks/{key:int}/freezes/{day}/delete")
async def task_remove(key: Id, day: date, api: CallsDep, session: WriteSessionDep) -> Response:
    return await _remove(api, "task", key, day)
