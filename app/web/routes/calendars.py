"""Calendars (/calendars): the holiday calendars, a year view of each one's closed days,
and (for admins) the form to create, edit and delete them through the calendars service."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from app.api.deps import ContextDep
from app.models.calendar_schemas import CalendarCreate, CalendarUpdate
from app.services import calendars
from app.web.auth import WriteSessionDep
from app.web.calendar_view import year_view
from app.web.calls import ApiError, Calls, CallsDep, dump, parse
from app.web.form_errors import refusal_errors
from app.web.htmx import HtmxDep
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Name = Annotated[str, Path(min_length=1, max_length=200)]
YearQuery = Annotated[int | None, Query(ge=1970, le=2200)]


async def _page(
    request: Request,
    api: Calls,
    fragment: bool,
    panel: str,
    context: dict[str, Any],
    selected: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    if fragment:
        return render(
            request, panel, context, session=api.session, status_code=status_code, headers=headers
        )
    listed = dump(await api.read(calendars.list_calendars))
    return render(
        request,
        "calendars/page.html",
        {
            "active": "calendars",
            "calendars": listed,
            "panel": panel,
            "selected": selected,
            **context,
        },
        session=api.session,
        status_code=status_code,
        headers=headers,
    )


@router.get("/calendars")
async def calendars_page(request: Request, api: CallsDep, htmx: HtmxDep) -> Response:
    listed = await api.read(calendars.list_calendars)
    if listed and not htmx.wants_fragment:
        return await _show(request, api, listed[0].name, None, False)
    return await _page(request, api, htmx.wants_fragment, "calendars/_empty.html", {})


@router.get("/calendars/new")
async def new_calendar(request: Request, api: CallsDep, htmx: HtmxDep) -> Response:
    return await _page(
        request,
        api,
        htmx.wants_fragment,
        "calendars/_form.html",
        {"cal": None, "values": {"skip_weekends": "on"}, "errors": {}},
    )


@router.get("/calendars/{name}")
async def calendar_page(
    request: Request,
    name: Name,
    context: ContextDep,
    api: CallsDep,
    htmx: HtmxDep,
    year: YearQuery = None,
) -> Response:
    return await _show(request, api, name, year or context.clock.now().year, htmx.wants_fragment)


async def _show(
    request: Request,
    api: Calls,
    name: str,
    year: int | None,
    fragment: bool,
    headers: dict[str, str] | None = None,
) -> Response:
    chosen = year or request.app.state.context.clock.now().year
    calendar = dump(await api.read(calendars.read_calendar, name=name))
    preview = dump(await api.read(calendars.preview_year, name=name, year=chosen))
    view = year_view(chosen, preview["closed"], [], preview["opened"])
    return await _page(
        request,
        api,
        fragment,
        "calendars/_calendar.html",
        {"calendar": calendar, "year": view},
        selected=name,
        headers=headers,
    )


@router.get("/calendars/{name}/edit")
async def edit_calendar(request: Request, name: Name, api: CallsDep, htmx: HtmxDep) -> Response:
    calendar = dump(await api.read(calendars.read_calendar, name=name))
    return await _page(
        request,
        api,
        htmx.wants_fragment,
        "calendars/_form.html",
        {"cal": calendar, "values": _values(calendar), "errors": {}},
        selected=name,
    )


def _values(calendar: dict[str, Any]) -> dict[str, str]:
    values = {
        k: str(calendar.get(k) or "") for k in ("name", "description", "country", "subdivision")
    }
    if calendar.get("skip_weekends"):
        values["skip_weekends"] = "on"
    for key in ("extra_dates", "working_dates"):
        values[key] = "\n".join(str(d) for d in calendar.get(key) or [])
    for key in ("categories", "include", "exclude"):
        values[key] = ", ".join(calendar.get(key) or [])
    return values


def _words(values: dict[str, str], key: str) -> list[str]:
    return re.findall(r"[^\s,]+", values.get(key, ""))


def _payload(values: dict[str, str], creating: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "description": values.get("description", ""),
        "country": values.get("country", "").strip().upper() or None,
        "subdivision": values.get("subdivision", "").strip() or None,
        "skip_weekends": "skip_weekends" in values,
        "extra_dates": re.findall(r"\S+", values.get("extra_dates", "").replace(",", " ")),
        "working_dates": re.findall(r"\S+", values.get("working_dates", "").replace(",", " ")),
        "categories": [c.lower() for c in _words(values, "categories")],
        "include": _words(values, "include"),
        "exclude": _words(values, "exclude"),
    }
    if creating:
        payload["name"] = values.get("name", "").strip()
    return payload


@router.post("/calendars")
async def create_calendar(request: Request, api: CallsDep, session: WriteSessionDep) -> Response:
    return await _save(request, api, None)


@router.post("/calendars/{name}")
async def update_calendar(
    request: Request, name: Name, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _save(request, api, name)


async def _save(request: Request, api: Calls, name: str | None) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    payload = _payload(values, name is None)
    try:
        if name:
            saved = await api.command(
                calendars.update_calendar,
                name=name,
                body=parse(CalendarUpdate, payload),
            )
        else:
            saved = await api.command(
                calendars.create_calendar, body=parse(CalendarCreate, payload)
            )
    except ApiError as exc:
        if exc.status_code not in (403, 409, 422):
            raise
        errors = refusal_errors(exc, values)
        current = dump(await api.read(calendars.read_calendar, name=name)) if name else None
        return await _page(
            request,
            api,
            True,
            "calendars/_form.html",
            {"cal": current, "values": values, "errors": errors},
            status_code=exc.status_code,
        )
    return Response(status_code=204, headers={"HX-Redirect": f"/calendars/{saved.name}"})


@router.post("/calendars/{name}/delete")
async def delete_calendar(name: Name, api: CallsDep, session: WriteSessionDep) -> Response:
    try:
        await api.command(calendars.delete_calendar, name=name)
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        trigger = {"toast": {"text": exc.detail, "kind": "error"}}
        return Response(status_code=204, headers={"HX-Trigger": json.dumps(trigger)})
    return Response(status_code=204, headers={"HX-Redirect": "/calendars"})
