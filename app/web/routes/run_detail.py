"""Run detail (/task-runs/{id}): details, timeline, actions, outputs; its status fragment
and the operator actions, each answered with the redrawn status."""

from __future__ import annotations

import json
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import Response

from app.api.deps import ContextDep
from app.models.security_schemas import Approval
from app.services import approvals
from app.web.api import ApiDep
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, parse
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
    api: ApiDep,
    htmx: HtmxDep,
    bus: BusDep,
    attempt: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    seq = bus.seq
    view = await load_run(api, context, run_id, attempt)
    if htmx.wants_fragment:
        return render(request, "run_detail/_status.html", {"view": view}, session=api.session)
    log = await load_log(api, context, view.run, stream="stdout", page=None, attempt=view.attempt)
    return render(
        request,
        "run_detail/page.html",
        {"active": "runs", "view": view, "log": log, "seq": seq},
        session=api.session,
    )


@router.get("/task-runs/{run_id:int}/outputs/{name:path}")
async def output_file(run_id: RunId, name: str, api: ApiDep) -> Response:
    """One output file, through the API (which checks the name and the viewer's access)."""
    answer = await api.raw("GET", f"/runs/{run_id}/outputs/{quote(name)}")
    if answer.status_code >= 400:
        raise PageError(answer.status_code, answer.json().get("detail", "not found"))
    headers = {
        k: v
        for k, v in answer.headers.items()
        if k.lower() in ("content-disposition", "x-content-type-options")
    }
    return Response(answer.content, media_type="application/octet-stream", headers=headers)


@router.post("/task-runs/{run_id:int}/{action}")
async def run_action(
    request: Request,
    run_id: RunId,
    action: ActionName,
    context: ContextDep,
    api: ApiDep,
    session: WriteSessionDep,
    reason: Annotated[str, Form(max_length=500)] = "",
    spec_digest: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    body: dict[str, str] | None = None
    if action == "mark-success":
        body = {"reason": reason or f"marked by {session.user.username} in the web UI"}
    if action == "approve" and spec_digest:  # approve what the page showed, nothing else
        body = {"spec_digest": spec_digest}
    message = _DONE[action]
    try:
        if action in ("approve", "reject"):
            await api.command(
                approvals.decide,
                run_id=run_id,
                body=parse(Approval, body) if action == "approve" and body else None,
                approve=action == "approve",
                scheduler=context.scheduler,
            )
        else:
            await api.post(f"/runs/{run_id}/{action}", json=body)
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
