"""Hooks the web UI into the app: routers, /static, the event bus (fed by the composition
root, app/wiring.py), and its error pages."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.web.auth import CsrfRejected, LoginRequired, PasswordChangeRequired
from app.web.calls import ApiError
from app.web.deps import PageError
from app.web.events import EventBus
from app.web.routes import ROUTERS
from app.web.sse import LIFETIME
from app.web.templating import render

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    bus = EventBus()
    app.state.events = bus
    app.state.sse_lifetime = LIFETIME
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_exception_handler(PasswordChangeRequired, _password_change)
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


async def _login_required(request: Request, _exc: Exception) -> Response:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"/login?next={quote(path, safe='')}"
    if _is_htmx(request) or request.url.path.endswith("/events"):
        # htmx follows HX-Redirect with a full page load; an EventSource just stops.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _password_change(request: Request, _exc: Exception) -> Response:
    if _is_htmx(request) or request.url.path.endswith("/events"):
        return Response(status_code=403, headers={"HX-Redirect": "/password"})
    return RedirectResponse("/password", status_code=303)


async def _csrf_rejected(request: Request, _exc: Exception) -> Response:
    return _error_page(
        request,
        403,
        "The request was refused: its form token is missing or "
        "stale. Reload the page and try again.",
    )


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return _error_page(request, exc.status_code, exc.message)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status_code == 401:
        return await _login_required(request, exc)
    return _error_page(request, exc.status_code, exc.detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    """An unknown page (or a method a page does not take) gets the error page; the API and
    static files keep their JSON and plain answers."""
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    if path.startswith(("/api/", "/static/")) or "text/html" not in request.headers.get(
        "accept", ""
    ):
        return await http_exception_handler(request, exc)
    message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
    return _error_page(request, exc.status_code, message)


def _error_page(request: Request, status_code: int, message: str) -> Response:
    name = "_error_fragment.html" if _is_htmx(request) else "error.html"
    return render(
        request,
        name,
        {"status_code": status_code, "message": message},
        session=None,
        status_code=status_code,
    )
