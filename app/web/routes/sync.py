"""Git sync (/sync): each source's status (last applied commit, when, by whom, the plan,
errors), read through app/services/sync_sources.py; admins of every instance only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.services import sync_sources
from app.web.calls import CallsDep, dump
from app.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/sync")
async def sync_page(request: Request, api: CallsDep) -> Response:
    listed = dump(await api.read(sync_sources.list_sources))
    return render(
        request, "sync/page.html", {"active": "admin", "sources": listed}, session=api.session
    )
