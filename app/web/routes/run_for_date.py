""" "Run for date": the form of a task or group checked as it is typed (/tasks/{tid}/run-check,
/groups/{gid}/run-check), and what a submitted form asks the force-run services for."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.models.param_schemas import RunRequest
from app.services import groups, tasks
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump, parse
from app.web.run_form import (
    AGENT_FIELD,
    DATE_FIELD,
    PREFIX,
    form_errors,
    merged_declarations,
    request_from_form,
)
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1)]


async def task_declarations(api: Calls, tid: int) -> list[Mapping[str, Any]]:
    task = dump(await api.read(tasks.read_task, tid=tid))
    return list(task.get("params") or [])


async def group_declarations(api: Calls, gid: int) -> list[Mapping[str, Any]]:
    """The group's declarations, then those only its tasks declare."""
    group = dump(await api.read(groups.read_group, gid=gid))
    members = dump(await api.read(tasks.list_tasks, group=gid, page_size=1000))
    return merged_declarations(group.get("params") or [], *[t["params"] for t in members])


def _is_form(form: Mapping[str, str]) -> bool:
    return DATE_FIELD in form or any(k.startswith(PREFIX) for k in form)


async def is_run_form(request: Request) -> bool:
    """Submitted by the "Run for date" form (not the plain force-run button)."""
    return _is_form({k: str(v) for k, v in (await request.form()).items()})


def run_started(
    request: Request,
    api: Calls,
    run: Mapping[str, Any],
    decls: Sequence[Mapping[str, Any]],
    trigger: Mapping[str, Any],
) -> Response:
    """The form's status after a run started: a link to it, and no message left from an
    earlier refusal."""
    fields = [DATE_FIELD, AGENT_FIELD, *(PREFIX + str(d["name"]) for d in decls)]
    return render(
        request,
        "tasks/_run_check.html",
        {"errors": {}, "fields": fields, "started": run},
        session=api.session,
        headers={
            "HX-Retarget": "#run-form-status",
            "HX-Reswap": "innerHTML",
            "HX-Trigger": json.dumps(trigger),
        },
    )


async def submitted_request(
    request: Request, decls: Sequence[Mapping[str, Any]], model: type[RunRequest] = RunRequest
) -> RunRequest | None:
    """The RunRequest of a submitted "Run for date" form (ApiError 422 when unreadable), or
    None for a plain force-run button (no form fields)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not _is_form(form):
        return None
    body = request_from_form(decls, form)
    if form.get(AGENT_FIELD, "").strip():
        body["agent"] = form[AGENT_FIELD].strip()
    return parse(model, body)


def _run_field(path: str) -> str:
    """An API path of a refused run request as the form field that shows it."""
    head, _, rest = path.partition(".")
    if head == "params" and rest:
        return PREFIX + rest.split(".")[0]
    return head if head in (DATE_FIELD, AGENT_FIELD) else ""


async def refused_form(
    request: Request, api: Calls, decls: Sequence[Mapping[str, Any]], exc: ApiError
) -> Response | None:
    """A refused "Run for date" submit: every problem beside its field (not a toast), the
    form kept as typed; None for the plain button, whose refusal is a toast."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not _is_form(form):
        return None
    errors: dict[str, str] = {}
    for path, problem in exc.field_errors().items():
        field = _run_field(path)
        errors[field] = f"{errors[field]}; {problem}" if field in errors else problem
    fields = [DATE_FIELD, AGENT_FIELD, *(PREFIX + str(d["name"]) for d in decls)]
    return render(
        request,
        "tasks/_run_check.html",
        {"errors": errors, "fields": fields, "refused": True},
        session=api.session,
        status_code=exc.status_code if exc.status_code in (409, 422) else 422,
        headers={"HX-Retarget": "#run-form-status", "HX-Reswap": "innerHTML"},
    )


async def _check(request: Request, api: Calls, decls: Sequence[Mapping[str, Any]]) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    fields = [DATE_FIELD, AGENT_FIELD, *(PREFIX + str(d["name"]) for d in decls)]
    context = {"errors": form_errors(decls, form), "fields": fields}
    return render(request, "tasks/_run_check.html", context, session=api.session)


@router.post("/tasks/{tid:int}/run-check")
async def check_task_run(
    request: Request, tid: Id, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _check(request, api, await task_declarations(api, tid))


@router.post("/groups/{gid:int}/run-check")
async def check_group_run(
    request: Request, gid: Id, api: CallsDep, session: WriteSessionDep
) -> Response:
    return await _check(request, api, await group_declarations(api, gid))
