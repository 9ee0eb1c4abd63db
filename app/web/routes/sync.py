"""Git sync (/sync): each source's status (last applied commit, when, by whom, the plan,
errors), read through app/services/sync_sources.py; admins of every instance only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.services import sync_pull, sync_sources
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump
from app.web.templating import render

Name = Annotated[str, Path(min_length=1, max_length=100)]

router = APIRouter(include_in_schema=False)


@router.get("/sync")
async def sync_page(request: Request, api: CallsDep) -> Response:
    return await _page(request, api, None)


@router.post("/sync/{name}/pull")
async def pull_now(
    request: Request, name: Name, api: CallsDep, session: WriteSessionDep
) -> Response:
    """The "Pull now" button: the outcome shows above the sources."""
    try:
        result = await api.command(
            sync_pull.pull_now, data_dir=api.context.settings.data_dir, name=name
        )
    except ApiError as exc:
        if exc.status_code in (401, 403):
            raise
        return await _page(request, api, {"kind": "error", "text": exc.detail})
    kind = "ok" if result.outcome in ("applied", "unchanged") else "error"
    commit = f" at {result.commit[:12]}" if result.commit else ""
    return await _page(request, api, {"kind": kind, "text": f"{name}: {result.outcome}{commit}"})


async def _page(request: Request, api: Calls, message: dict[str, str] | None) -> Response:
    listed = dump(await api.read(sync_sources.list_sources))
    return render(
        request,
        "sync/page.html",
        {"active": "admin", "sources": listed, "message": message},
        session=api.session,
    )
