""" "Run for date": the form of a task or group checked as it is typed (/tasks/{tid}/run-check,
/groups/{gid}/run-check), and what a submitted form asks the force-run services for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.models.param_schemas import RunRequest
from app.services import groups, tasks
from app.web.auth import WriteSessionDep
from app.web.calls import Calls, CallsDep, dump, parse
from app.web.run_form import DATE_FIELD, PREFIX, form_errors, merged_declarations, request_from_form
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


async def submitted_request(
    request: Request, decls: Sequence[Mapping[str, Any]]
) -> RunRequest | None:
    """The RunRequest of a submitted "Run for date" form (ApiError 422 when unreadable), or
    None for a plain force-run button (no form fields)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    if DATE_FIELD not in form and not any(k.startswith(PREFIX) for k in form):
        return None
    return parse(RunRequest, request_from_form(decls, form))


async def _check(request: Request, api: Calls, decls: Sequence[Mapping[str, Any]]) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    fields = [DATE_FIELD, *(PREFIX + str(d["name"]) for d in decls)]
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
