"""/profile: the viewer's own settings (the timezone every page shows times in)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.services import users
from app.web.auth import SessionDep, WriteSessionDep
from app.web.calls import ApiError, Calls
from app.web.tasks_view import timezones
from app.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/profile")
def profile(request: Request, session: SessionDep) -> Response:
    return _page(request, session, session.user.timezone, None)


@router.post("/profile")
async def save_profile(
    request: Request,
    session: WriteSessionDep,
    timezone: Annotated[str, Form(max_length=64)],
) -> Response:
    calls = Calls(request, session)
    try:
        await calls.command(users.set_own_timezone, timezone=timezone.strip())
    except ApiError as exc:
        return _page(request, session, timezone, exc.detail, status_code=422)
    return RedirectResponse("/profile?saved=1", status_code=303)


def _page(
    request: Request, session: SessionDep, chosen: str, error: str | None, status_code: int = 200
) -> Response:
    return render(
        request,
        "profile.html",
        {
            "chosen": chosen,
            "zones": timezones(),
            "error": error,
            "saved": request.query_params.get("saved") == "1",
        },
        session=session,
        status_code=status_code,
    )
