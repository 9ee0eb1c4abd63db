"""Groups on the Tasks & Groups page: the group's panel (flow graph, dependencies,
members), its form, its edges, force run, and the graph's live stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from app.models.group_schemas import EdgeBody, EdgeRef, GroupCreate, GroupUpdate
from app.services import group_dag, groups
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump, parse
from app.web.deps import BusDep, LifetimeDep
from app.web.form_errors import checked, refusal_errors
from app.web.forms import FormErrors, group_to_form, read_group_form, schedule_to_form
from app.web.groups_view import CONDITIONS, elements, load_group
from app.web.htmx import HtmxDep
from app.web.routes.run_for_date import group_declarations, refused_form, submitted_request
from app.web.routes.tasks import page_or_panel
from app.web.sse import EventStream, ServerEvent, changes
from app.web.tasks_view import load_choices
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Gid = Annotated[int, Path(ge=1)]


def _changed(toast: str, kind: str = "") -> dict[str, str]:
    return {
        "HX-Trigger": json.dumps({"toast": {"text": toast, "kind": kind}, "tasks-changed": True})
    }


async def _panel(
    request: Request,
    api: Calls,
    gid: int,
    fragment: bool,
    group_run: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    view = await load_group(api, gid, group_run)
    return await page_or_panel(
        request,
        api,
        fragment,
        "groups/_group.html",
        {"view": view, "conditions": CONDITIONS},
        tab="groups",
        selected=gid,
        headers=headers,
    )


@router.get("/groups/{gid:int}")
async def group_page(
    request: Request, gid: Gid, api: CallsDep, htmx: HtmxDep, group_run: int | None = None
) -> Response:
    return await _panel(request, api, gid, htmx.wants_fragment, group_run)


@router.get("/groups/new")
async def new_group(request: Request, api: CallsDep, htmx: HtmxDep) -> Response:
    values = {
        "active": "on",
        "instance": "default",
        **schedule_to_form(
            {"kind": "times", "times": ["06:00"], "days": "mon-fri", "timezone": "UTC"}
        ),
    }
    return await _form(request, api, htmx.wants_fragment, None, values, [], {})


@router.get("/groups/{gid:int}/edit")
async def edit_group(request: Request, gid: Gid, api: CallsDep, htmx: HtmxDep) -> Response:
    group = dump(await api.read(groups.read_group, gid=gid))
    return await _form(
        request,
        api,
        htmx.wants_fragment,
        group,
        group_to_form(group),
        [str(t) for t in group["tasks"]],
        {},
    )


async def _form(
    request: Request,
    api: Calls,
    fragment: bool,
    group: dict[str, Any] | None,
    values: dict[str, str],
    members: list[str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    choices = await load_choices(api, with_tasks=True)
    return await page_or_panel(
        request,
        api,
        fragment,
        "groups/_group_form.html",
        {
            "group": group,
            "values": values,
            "members": members,
            "errors": errors,
            "choices": choices,
        },
        tab="groups",
        selected=group["gid"] if group else None,
        status_code=status_code,
    )


@router.post("/groups")
async def create_group(request: Request, api: CallsDep, session: WriteSessionDep) -> Response:
    return await _save(request, api, None)


@router.post("/groups/{gid:int}")
async def update_group(
    request: Request, gid: Gid, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _save(request, api, gid)


async def _save(request: Request, api: Calls, gid: int | None) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    members = [v for v in form.getlist("tasks") if isinstance(v, str)]
    current = dump(await api.read(groups.read_group, gid=gid)) if gid else None
    try:
        payload, unreadable = read_group_form(values, members)
        if gid:
            body = checked(GroupUpdate, payload, unreadable, values)
            answer = await api.command(groups.update_group, gid=gid, body=body)
        else:
            created = checked(GroupCreate, payload, unreadable, values)
            answer = await api.command(groups.create_group, body=created)
        saved = dump(answer)
    except FormErrors as exc:
        return await _form(request, api, True, current, values, members, exc.errors, 422)
    except ApiError as exc:
        if exc.status_code not in (409, 422):
            raise
        errors = refusal_errors(exc, values)
        return await _form(request, api, True, current, values, members, errors, exc.status_code)
    headers = {
        **_changed("Group saved" if gid else "Group created"),
        "HX-Push-Url": f"/groups/{saved['gid']}",
    }
    return await _panel(request, api, saved["gid"], True, headers=headers)


@router.post("/groups/{gid:int}/delete")
async def delete_group(
    request: Request, gid: Gid, api: CallsDep, session: WriteSessionDep
) -> Response:
    group = dump(await api.read(groups.read_group, gid=gid))
    await api.command(groups.delete_group, gid=gid)
    headers = {**_changed(f"Group {group['name']} deleted"), "HX-Push-Url": "/tasks?tab=groups"}
    return render(request, "tasks/_panel_empty.html", {}, session=api.session, headers=headers)


@router.post("/groups/{gid:int}/run")
async def run_group(
    request: Request, gid: Gid, api: CallsDep, session: WriteSessionDep
) -> Response:
    decls = await group_declarations(api, gid)
    try:
        wanted = await submitted_request(request, decls)
        group_run = dump(await api.command(groups.force_group_run, gid=gid, request=wanted))
    except ApiError as exc:
        if exc.status_code == 404:
            raise
        inline = await refused_form(request, api, decls, exc)
        if inline is not None:
            return inline
        return Response(status_code=204, headers=_changed(exc.detail, "error"))
    return await _panel(
        request, api, gid, True, None, headers=_changed(f"Group run {group_run['id']} started")
    )


@router.post("/groups/{gid:int}/edges")
async def add_edge(
    request: Request,
    gid: Gid,
    api: CallsDep,
    session: WriteSessionDep,
    upstream: Annotated[int, Form()],
    downstream: Annotated[int, Form()],
    condition: Annotated[str, Form()] = "success",
) -> Response:
    body = {"upstream": upstream, "downstream": downstream, "condition": condition}
    try:
        await api.command(group_dag.create_edge, gid=gid, body=parse(EdgeBody, body))
    except ApiError as exc:  # a cycle names the path that closes it
        if exc.status_code == 404:
            raise
        return await _panel(request, api, gid, True, headers=_changed(exc.detail, "error"))
    return await _panel(request, api, gid, True, headers=_changed("Dependency added"))


@router.post("/groups/{gid:int}/edges/delete")
async def delete_edge(
    request: Request,
    gid: Gid,
    api: CallsDep,
    session: WriteSessionDep,
    upstream: Annotated[int, Form()],
    downstream: Annotated[int, Form()],
) -> Response:
    edge = EdgeRef(upstream=upstream, downstream=downstream)
    await api.command(group_dag.delete_edge, gid=gid, body=edge)
    return await _panel(request, api, gid, True, headers=_changed("Dependency removed"))


@router.get("/groups/{gid:int}/graph.json")
async def graph_json(gid: Gid, api: CallsDep, group_run: int | None = None) -> JSONResponse:
    return JSONResponse(elements(await _graph(api, gid, group_run)))


@router.get("/groups/{gid:int}/events")
async def graph_events(
    gid: Gid, api: CallsDep, bus: BusDep, lifetime: LifetimeDep, group_run: int | None = None
) -> EventStream:
    """The graph again whenever a run of the group changes (a pinned group run: only its
    runs; following the latest: any run, since a new group run may have started)."""
    await api.read(groups.read_group, gid=gid)

    async def source(deadline: float) -> AsyncIterator[ServerEvent | None]:
        with bus.subscribe() as subscription:
            graph = elements(await _graph(api, gid, group_run))
            yield ServerEvent(event="graph", data=json.dumps(graph))
            async for change in changes(subscription, deadline):
                if not change.runs:
                    if not change:
                        yield None
                    continue
                known = {n["data"]["run"] for n in graph["nodes"]}
                if group_run is not None and not change.runs & known:
                    continue
                fresh = elements(await _graph(api, gid, group_run))
                if fresh != graph:
                    graph = fresh
                    yield ServerEvent(event="graph", data=json.dumps(graph))

    return EventStream(source, lifetime=lifetime)


async def _graph(api: Calls, gid: int, group_run: int | None) -> dict[str, Any]:
    graph = await api.read(group_dag.group_graph, gid=gid, group_run=group_run)
    return dict(dump(graph))
