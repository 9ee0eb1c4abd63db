"""Adhoc (/adhoc): run a one-off command on chosen agents, by labels or on every online
agent, through the adhoc service (app/services/adhoc.py); follow the batch live and kill it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.api.deps import ContextDep
from app.context import AppContext
from app.models.adhoc_schemas import AdhocRequest
from app.services import adhoc, agents
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump
from app.web.deps import BusDep, LifetimeDep
from app.web.form_errors import checked, refusal_errors
from app.web.forms import FormErrors, pairs
from app.web.htmx import HtmxDep
from app.web.sse import EventStream, ServerEvent, changes
from app.web.templating import render, render_fragment

router = APIRouter(include_in_schema=False)
# The form's fields that show their own problem (adhoc/page.html).
ADHOC_FIELDS = (
    "command",
    "agents",
    "labels",
    "image",
    "run_as_user",
    "max_run_seconds",
    "workdir",
    "instance",
)
BatchId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]


async def _page(
    request: Request,
    api: Calls,
    context: AppContext,
    fragment: bool,
    panel: str,
    extra: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    if fragment:
        return render(
            request, panel, extra, session=api.session, status_code=status_code, headers=headers
        )
    fleet = dump(await api.read(agents.list_agents, hub=context.hub))
    batches = await api.read(adhoc.recent_batches)
    values = extra.pop("values", {"target": "agents"})
    return render(
        request,
        "adhoc/page.html",
        {
            "active": "adhoc",
            "agents": fleet,
            "batches": batches,
            "values": values,
            "errors": extra.pop("errors", {}),
            "panel": panel,
            **extra,
        },
        session=api.session,
        status_code=status_code,
        headers=headers,
    )


@router.get("/adhoc")
async def adhoc_page(request: Request, context: ContextDep, api: CallsDep) -> Response:
    return await _page(request, api, context, False, "adhoc/_none.html", {})


@router.get("/adhoc/{batch_id}")
async def batch_page(
    request: Request, batch_id: BatchId, context: ContextDep, api: CallsDep, htmx: HtmxDep
) -> Response:
    batch = dump(await api.read(adhoc.read_batch, batch_id=batch_id))
    return await _page(
        request, api, context, htmx.wants_fragment, "adhoc/_batch.html", {"batch": batch}
    )


def adhoc_payload(values: dict[str, str], agents: list[str]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "command": values.get("command", ""),
        "instance": values.get("instance", "").strip() or "default",
    }
    payload, errors = read_adhoc_form(values, agents)
    if errors:
        raise FormErrors(errors)
    return payload


def read_adhoc_form(
    values: dict[str, str], agents: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The payload without what cannot be read, and the problems of that (all of them)."""
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {
        "command": values.get("command", ""),
        "instance": values.get("instance", "").strip() or "default",
    }
    target = values.get("target", "agents")
    if target == "all":
        payload["all"] = True
    elif target == "labels":
        try:
            payload["labels"] = pairs(values.get("labels", ""), "labels")
        except FormErrors as exc:
            errors.update(exc.errors)
    else:
        payload["agents"] = agents
        if not agents:
            errors["agents"] = "choose at least one agent"
    for field in ("image", "run_as_user", "workdir"):
        if values.get(field, "").strip():
            payload[field] = values[field].strip()
    if values.get("max_run_seconds", "").strip():
        try:
            payload["max_run_seconds"] = float(values["max_run_seconds"])
        except ValueError:
            errors["max_run_seconds"] = "must be a number of seconds"
    return payload, errors


@router.post("/adhoc")
async def submit(
    request: Request, context: ContextDep, api: CallsDep, session: WriteSessionDep
) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "agents"}
    chosen = [v for v in form.getlist("agents") if isinstance(v, str)]
    try:
        payload, unreadable = read_adhoc_form(values, chosen)
        body = checked(AdhocRequest, payload, unreadable, values)
        batch = dump(await api.command(adhoc.submit_batch, body=body))
    except FormErrors as exc:
        return _form(request, api, exc.errors)
    except ApiError as exc:
        if exc.status_code not in (403, 422):
            raise
        return _form(request, api, refusal_errors(exc, values))
    waits = set(batch["summary"]) == {"PENDING_APPROVAL"}
    text = f"{'Submitted for approval' if waits else 'Started'} on {len(batch['runs'])} agent(s)"
    headers = {
        "HX-Push-Url": f"/adhoc/{batch['batch_id']}",
        "HX-Trigger": json.dumps({"toast": {"text": text}}),
    }
    # A refusal shown before this submit no longer applies: the answer clears it.
    return render(
        request,
        "adhoc/_batch.html",
        {"batch": batch, "clear_errors": ADHOC_FIELDS},
        session=api.session,
        headers=headers,
    )


def _form(request: Request, api: Calls, errors: dict[str, str]) -> Response:
    """The refusal: each problem beside its field (out of band), the rest and a count above
    the button; the form keeps what was typed."""
    return render(
        request,
        "adhoc/_errors.html",
        {"errors": errors, "fields": ADHOC_FIELDS},
        session=api.session,
        status_code=422,
        headers={"HX-Retarget": "#adhoc-errors", "HX-Reswap": "innerHTML"},
    )


@router.post("/adhoc/{batch_id}/kill")
async def kill_batch(
    request: Request, batch_id: BatchId, api: CallsDep, session: WriteSessionDep
) -> Response:
    message, kind = "Kill sent to every run of the batch", ""
    try:
        answer = dump(
            await api.awaiting(adhoc.kill_batch, batch_id=batch_id, controls=api.context.controls)
        )
        missed = [k for k in answer.get("killed", []) if k["outcome"] == "not reachable"]
        if missed:  # say which runs no server could stop (their agents are offline)
            message, kind = (
                "Not reachable: "
                + ", ".join(f"run {k['run']} (agent {k['agent']})" for k in missed),
                "error",
            )
    except ApiError as exc:
        if exc.status_code in (401, 404):
            raise
        message, kind = exc.detail, "error"
    batch = dump(await api.read(adhoc.read_batch, batch_id=batch_id))
    return render(
        request,
        "adhoc/_batch_card.html",
        {"batch": batch},
        session=api.session,
        headers={"HX-Trigger": json.dumps({"toast": {"text": message, "kind": kind}})},
    )


@router.get("/adhoc/{batch_id}/events")
async def batch_events(
    batch_id: BatchId, context: ContextDep, api: CallsDep, bus: BusDep, lifetime: LifetimeDep
) -> EventStream:
    """The batch redrawn whenever one of its runs changes."""
    batch = dump(await api.read(adhoc.read_batch, batch_id=batch_id))

    ids = {r["id"] for r in batch["runs"]}

    async def redraw() -> ServerEvent:
        fresh = dump(await api.read(adhoc.read_batch, batch_id=batch_id))
        html = render_fragment(
            "adhoc/_batch_card.html",
            {"batch": fresh, "oob": True},
            session=api.session,
            now=context.clock.now(),
        )
        return ServerEvent(event="batch", data=html)

    async def source(deadline: float) -> AsyncIterator[ServerEvent | None]:
        with bus.subscribe() as subscription:
            yield await redraw()  # the batch may have moved on since the page was drawn
            async for change in changes(subscription, deadline):
                if change.runs & ids:
                    yield await redraw()
                elif not change:
                    yield None

    return EventStream(source, lifetime=lifetime)
