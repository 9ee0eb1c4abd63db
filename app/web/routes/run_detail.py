"""Run detail (/task-runs/{id}): details, timeline, actions, outputs; its status fragment
and the operator actions, each answered with the redrawn status."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import FileResponse, Response

from app.api.deps import ContextDep
from app.context import AppContext
from app.domain.states import RunStatus
from app.models.group_schemas import MarkSuccess
from app.models.security_schemas import Approval
from app.services import approvals, outputs, run_controls
from app.services.outputs import output_store
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, parse
from app.web.deps import BusDep, PageError
from app.web.htmx import HtmxDep
from app.web.run_view import load_log, load_run
from app.web.templating import render

router = APIRouter(include_in_schema=False)
RunId = Annotated[int, Path(ge=1)]
ActionName = Literal[
    "kill", "pause", "resume", "rerun", "force", "mark-success", "approve", "reject"
]
_DONE = {
    "kill": "Stop requested",
    "pause": "Pause requested",
    "resume": "Resume requested",
    "rerun": "Run started again",
    "force": "Started past its upstreams",
    "mark-success": "Marked SUCCESS",
    "approve": "Approved",
    "reject": "Rejected",
}


@router.get("/task-runs/{run_id:int}")
async def run_page(
    request: Request,
    run_id: RunId,
    context: ContextDep,
    api: CallsDep,
    htmx: HtmxDep,
    bus: BusDep,
    attempt: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    seq = bus.seq
    view = await load_run(api, context, run_id, attempt)
    if htmx.wants_fragment:
        return render(request, "run_detail/_status.html", {"view": view}, session=api.session)
    log = await load_log(api, context, view.run, stream="stdout", page=None, attempt=view.attempt)
    if view.run.status == RunStatus.FAILED and log.counts.get("stderr"):
        # A failed run opens where its error usually is.
        log = await load_log(
            api, context, view.run, stream="stderr", page=None, attempt=view.attempt
        )
    return render(
        request,
        "run_detail/page.html",
        {"active": "runs", "view": view, "log": log, "seq": seq},
        session=api.session,
    )


@router.get("/task-runs/{run_id:int}/outputs/{name:path}")
async def output_file(run_id: RunId, name: str, context: ContextDep, api: CallsDep) -> Response:
    """One output file, through the outputs service (which checks the name and the viewer's
    access)."""
    try:
        path = await api.read(
            outputs.output_path,
            run_id=run_id,
            name=name,
            attempt=None,
            store=output_store(context),
        )
    except ApiError as exc:
        raise PageError(exc.status_code, exc.detail) from None
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=name.rsplit("/", 1)[-1],
        headers={"X-Content-Type-Options": "nosniff"},
    )


async def _act(
    api: Calls,
    context: AppContext,
    run_id: int,
    action: ActionName,
    reason: str | None,
    spec_digest: str | None,
) -> None:
    """One operator action through its service (the same checks and audit as the API)."""
    controls = context.controls
    if action == "kill":
        await api.awaiting(run_controls.kill, run_id=run_id, controls=controls)
    elif action in ("pause", "resume"):
        await api.awaiting(
            run_controls.pause_or_resume, run_id=run_id, kind=action, controls=controls
        )
    elif action == "rerun":
        await api.command(run_controls.rerun, run_id=run_id)
    elif action == "force":
        await api.command(run_controls.force, run_id=run_id)
    elif action == "mark-success":
        why = parse(
            MarkSuccess, {"reason": reason or f"marked by {api.actor.username} in the web UI"}
        )
        await api.command(run_controls.mark_run_success, run_id=run_id, reason=why.reason)
    else:  # approve what the page showed (its digest), nothing else
        approval = parse(Approval, {"spec_digest": spec_digest}) if spec_digest else None
        await api.command(
            approvals.decide,
            run_id=run_id,
            body=approval if action == "approve" else None,
            approve=action == "approve",
        )


@router.post("/task-runs/{run_id:int}/{action}")
async def run_action(
    request: Request,
    run_id: RunId,
    action: ActionName,
    context: ContextDep,
    api: CallsDep,
    session: WriteSessionDep,
    reason: Annotated[str, Form(max_length=500)] = "",
    spec_digest: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    message = _DONE[action]
    try:
        await _act(api, context, run_id, action, reason or None, spec_digest or None)
    except ApiError as exc:
        if exc.status_code in (401, 404):
            raise
        message = exc.detail
    view = await load_run(api, context, run_id)
    trigger = json.dumps({"toast": message})
    return render(
        request,
        "run_detail/_status.html",
        {"view": view},
        session=api.session,
        headers={"HX-Trigger": trigger},
    )
