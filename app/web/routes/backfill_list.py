"""Backfills (/backfills): every backfill the viewer's instances hold, newest first, with its
status and progress; it refreshes itself while one goes on. Pause, resume and cancel post to
the backfill controls (/backfills/{id}/{action}), which answer this list when it asked."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.services import backfills
from app.web.calls import Calls, CallsDep, dump
from app.web.htmx import HtmxDep
from app.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = 50
Status = Literal["", "pending_approval", "running", "paused", "cancelled", "done", "rejected"]
STATUSES = ("pending_approval", "running", "paused", "cancelled", "done", "rejected")
LIST_TARGET = "backfill-list"  # the element whose htmx requests want the list back
GOING = ("running", "paused", "pending_approval")


async def list_fragment(
    request: Request, api: Calls, status: str = "", page: int = 1, *, fragment: bool = True
) -> Response:
    found = dump(
        await api.read(
            backfills.list_backfills, status=status or None, page=page, page_size=PAGE + 1
        )
    )
    context = {
        "active": "backfills",
        "backfills": found[:PAGE],
        "has_more": len(found) > PAGE,
        "status": status,
        "page": page,
        "going": any(b["status"] in GOING for b in found[:PAGE]),
        "statuses": STATUSES,
    }
    name = "backfills/_list.html" if fragment else "backfills/list.html"
    return render(request, name, context, session=api.session)


@router.get("/backfills")
async def backfills_page(
    request: Request,
    api: CallsDep,
    htmx: HtmxDep,
    status: Status = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    return await list_fragment(request, api, status, page, fragment=htmx.wants_fragment)
