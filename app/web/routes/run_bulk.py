"""Bulk kill and bulk re-run from the Task Runs page: each chosen run goes through the same
service as its own button (operator role, the run's instance scope, the lifecycle's
refusals, one audit row per run); the answer lists what happened to each."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from app.api.deps import ContextDep
from app.services import run_controls
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, CallsDep
from app.web.deps import PageError
from app.web.templating import render

router = APIRouter(include_in_schema=False)
MAX_BULK = 200  # runs in one request: two pages of the list


@router.post("/task-runs/bulk")
async def bulk_action(
    request: Request,
    context: ContextDep,
    api: CallsDep,
    session: WriteSessionDep,
    action: Annotated[str, Form(pattern="^(kill|rerun)$")],
) -> Response:
    if not session.can_operate:
        raise PageError(403, "Only operators kill or re-run runs.")
    form = await request.form()
    values = [v for v in form.getlist("run") if isinstance(v, str)]
    bad = [v for v in values if not v.isdigit()]
    if bad:
        raise PageError(400, f"run: {bad[0]!r} is not a run id")
    chosen = sorted({int(v) for v in values})
    if len(chosen) > MAX_BULK:
        raise PageError(400, f"run: at most {MAX_BULK} runs at once")
    outcomes: list[dict[str, Any]] = []
    if not chosen:
        outcomes.append({"run": None, "ok": False, "text": "choose at least one run"})
    for run_id in chosen:
        try:
            if action == "kill":
                await api.awaiting(run_controls.kill, run_id=run_id, controls=context.controls)
                text = "kill sent"
            else:
                restarted = await api.command(run_controls.rerun, run_id=run_id)
                text = f"started again ({len(restarted)} run{'s' if len(restarted) != 1 else ''})"
            outcomes.append({"run": run_id, "ok": True, "text": text})
        except ApiError as exc:
            outcomes.append({"run": run_id, "ok": False, "text": exc.detail})
    done = sum(1 for o in outcomes if o["ok"])
    verb = "killed" if action == "kill" else "re-run"
    toast = {"text": f"{done} of {len(chosen)} runs {verb}", "kind": "" if done else "error"}
    return render(
        request,
        "task_runs/_bulk_result.html",
        {"outcomes": outcomes, "action": action},
        session=api.session,
        headers={"HX-Trigger": json.dumps({"toast": toast})},
    )
