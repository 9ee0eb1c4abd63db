"""Tasks & Groups (/tasks): the list on the left, a task's form on the right; create,
edit, delete and force-run through the services (app/services/tasks.py), with their
refusals shown on the fields."""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from app.api.deps import ContextDep
from app.models.param_schemas import TaskRunRequest
from app.models.schemas import TaskCreate, TaskUpdate
from app.services import tasks
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump
from app.web.form_errors import checked, refusal_errors
from app.web.forms import FormErrors, new_task_values, read_task_form, task_to_form
from app.web.htmx import HtmxDep
from app.web.routes.run_for_date import (
    is_run_form,
    refused_form,
    run_started,
    submitted_request,
    task_declarations,
)
from app.web.schedule_preview import preview
from app.web.tasks_view import (
    ActiveFilter,
    ListFilters,
    Tab,
    has_import_export,
    load_choices,
    load_list,
)
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Tid = Annotated[int, Path(ge=1)]


def list_filters(
    tab: Tab = "tasks",
    q: Annotated[str, Query(max_length=200)] = "",
    active: ActiveFilter = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> ListFilters:
    return ListFilters(tab=tab, q=q.strip(), active=active, page=page)


ListDep = Annotated[ListFilters, Depends(list_filters)]


async def page_or_panel(
    request: Request,
    api: Calls,
    htmx_fragment: bool,
    panel: str,
    context: dict[str, Any],
    *,
    tab: Tab = "tasks",
    selected: int | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The right panel alone for htmx, else the whole page around it."""
    if htmx_fragment:
        return render(
            request, panel, context, session=api.session, status_code=status_code, headers=headers
        )
    listing = await load_list(api, ListFilters(tab=tab), selected)
    return render(
        request,
        "tasks/page.html",
        {
            "active": "tasks",
            "list": listing,
            "panel": panel,
            "import_export": has_import_export(api),
            **context,
        },
        session=api.session,
        status_code=status_code,
        headers=headers,
    )


@router.get("/tasks")
async def tasks_page(request: Request, api: CallsDep, htmx: HtmxDep, filters: ListDep) -> Response:
    listing = await load_list(api, filters)
    if htmx.wants_fragment:
        return render(request, "tasks/_list.html", {"list": listing}, session=api.session)
    return render(
        request,
        "tasks/page.html",
        {
            "active": "tasks",
            "list": listing,
            "panel": "tasks/_panel_empty.html",
            "import_export": has_import_export(api),
        },
        session=api.session,
    )


@router.get("/tasks/new")
async def new_task(request: Request, api: CallsDep, htmx: HtmxDep) -> Response:
    return await _task_form(request, api, htmx.wants_fragment, None, new_task_values(), {})


@router.get("/tasks/{tid:int}")
async def edit_task(request: Request, tid: Tid, api: CallsDep, htmx: HtmxDep) -> Response:
    task = dump(await api.read(tasks.read_task, tid=tid))
    return await _task_form(request, api, htmx.wants_fragment, task, task_to_form(task), {})


async def _task_form(
    request: Request,
    api: Calls,
    fragment: bool,
    task: dict[str, Any] | None,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    choices = await load_choices(api)
    context = {"task": task, "values": values, "errors": errors, "choices": choices}
    return await page_or_panel(
        request,
        api,
        fragment,
        "tasks/_task_form.html",
        context,
        selected=task["tid"] if task else None,
        status_code=status_code,
        headers=headers,
    )


def _events(toast: str, href: str | None = None) -> str:
    return json.dumps({"toast": {"text": toast, "href": href}, "tasks-changed": True})


@router.post("/tasks")
async def create_task(request: Request, api: CallsDep, session: WriteSessionDep) -> Response:
    return await _save(request, api, None)


@router.post("/tasks/{tid:int}")
async def update_task(
    request: Request, tid: Tid, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _save(request, api, tid)


async def _save(request: Request, api: Calls, tid: int | None) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    current = dump(await api.read(tasks.read_task, tid=tid)) if tid else None
    try:
        payload, unreadable = read_task_form(values)
        if tid:
            body = checked(TaskUpdate, payload, unreadable, values)
            answer = await api.command(tasks.update_task, tid=tid, body=body)
        else:
            created = checked(TaskCreate, payload, unreadable, values)
            answer = await api.command(tasks.create_task, body=created)
        saved = dump(answer)
    except FormErrors as exc:
        return await _task_form(request, api, True, current, values, exc.errors, status_code=422)
    except ApiError as exc:
        if exc.status_code not in (409, 422):
            raise
        errors = refusal_errors(exc, values)
        return await _task_form(
            request, api, True, current, values, errors, status_code=exc.status_code
        )
    headers = {
        "HX-Trigger": _events("Task saved" if tid else "Task created"),
        "HX-Push-Url": f"/tasks/{saved['tid']}",
    }
    return await _task_form(request, api, True, saved, task_to_form(saved), {}, headers=headers)


@router.post("/tasks/{tid:int}/delete")
async def delete_task(
    request: Request, tid: Tid, api: CallsDep, session: WriteSessionDep
) -> Response:
    task = dump(await api.read(tasks.read_task, tid=tid))
    await api.command(tasks.delete_task, tid=tid)
    headers = {"HX-Trigger": _events(f"Task {task['name']} deleted"), "HX-Push-Url": "/tasks"}
    return render(request, "tasks/_panel_empty.html", {}, session=api.session, headers=headers)


@router.post("/tasks/{tid:int}/run")
async def run_task(request: Request, tid: Tid, api: CallsDep, session: WriteSessionDep) -> Response:
    """Force a run: the button (no body), or the "Run for date" form with its params and
    optional agent (its refusals beside the fields, the button's in a toast)."""
    decls = await task_declarations(api, tid)
    try:
        wanted = await submitted_request(request, decls, TaskRunRequest)
        run = dump(await api.command(tasks.force_run, tid=tid, request=wanted))
    except ApiError as exc:
        if exc.status_code == 404:
            raise
        inline = await refused_form(request, api, decls, exc)
        if inline is not None:
            return inline
        trigger = {"toast": {"text": exc.detail, "kind": "error"}}
    else:
        waits = run["status"] == "PENDING_APPROVAL"
        text = f"Run #{run['id']} " + ("waits for approval" if waits else "started")
        trigger = {"toast": {"text": text, "href": f"/task-runs/{run['id']}"}}
        if await is_run_form(request):
            return run_started(request, api, run, decls, trigger)
    return Response(status_code=204, headers={"HX-Trigger": json.dumps(trigger)})


@router.get("/tasks/schedule-preview")
async def schedule_preview(request: Request, context: ContextDep, api: CallsDep) -> Response:
    values = dict(request.query_params.items())
    result = await anyio.to_thread.run_sync(preview, context.engine, values, context.clock.now())
    return render(
        request, "tasks/_preview.html", {"preview": result, "values": values}, session=api.session
    )
