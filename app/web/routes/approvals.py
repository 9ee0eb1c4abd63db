"""/approvals: the queue of runs `user` accounts submitted, each with everything it will run;
operators approve or reject one or many, with a reason (app/services/approvals.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.models.security_schemas import Approval, Decision
from app.services import approvals
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, CallsDep
from app.web.deps import PageError
from app.web.templating import render

router = APIRouter(include_in_schema=False)
QUEUE = 200  # shown at once; the API pages further


@router.get("/approvals")
async def approvals_page(request: Request, api: CallsDep) -> Response:
    return await _page(request, api, outcomes=[])


@router.get("/approvals/count")
async def approvals_count(api: CallsDep) -> HTMLResponse:
    """The navigation's badge: how many runs wait for a decision (empty when none)."""
    count = await api.read(approvals.pending_count)
    return HTMLResponse("" if not count else "99+" if count > 99 else str(count))


@router.post("/approvals")
async def decide(
    request: Request,
    api: CallsDep,
    session: WriteSessionDep,
    action: Annotated[str, Form(pattern="^(approve|reject)$")],
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    if not session.can_operate:
        raise PageError(403, "Only operators decide on submitted runs.")
    form = await request.form()
    chosen = [int(v) for v in form.getlist("run") if isinstance(v, str) and v.isdigit()]
    outcomes: list[dict[str, Any]] = []
    if not chosen:
        outcomes.append({"run": None, "ok": False, "text": "choose at least one run"})
    for run_id in chosen:
        digest = form.get(f"digest-{run_id}")
        body: Decision = (
            Approval(comment=comment, spec_digest=digest if isinstance(digest, str) else None)
            if action == "approve"
            else Decision(comment=comment)
        )
        try:
            await api.command(
                approvals.decide, run_id=run_id, body=body, approve=action == "approve"
            )
            verb = "approved" if action == "approve" else "rejected"
            outcomes.append({"run": run_id, "ok": True, "text": verb})
        except ApiError as exc:
            outcomes.append({"run": run_id, "ok": False, "text": exc.detail})
    return await _page(request, api, outcomes=outcomes)


async def _page(request: Request, api: CallsDep, *, outcomes: list[dict[str, Any]]) -> Response:
    pending, more = await api.read(approvals.pending, limit=QUEUE)
    return render(
        request,
        "approvals/page.html",
        {"active": "approvals", "pending": pending, "more": more, "outcomes": outcomes},
        session=api.session,
    )
