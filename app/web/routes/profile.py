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
    chosen = session.user.timezone if session.user.timezone_chosen else ""
    return _page(request, session, chosen, None)


@router.post("/profile")
async def save_profile(
    request: Request,
    session: WriteSessionDep,
    timezone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """An empty choice: no zone of one's own, the pages follow the browser's."""
    calls = Calls(request, session)
    try:
        await calls.command(users.set_own_timezone, timezone=timezone.strip() or None)
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
