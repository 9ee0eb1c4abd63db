"""The one place where application errors become HTTP answers: {"detail": "..."} + a 4xx."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from app.errors import AlmanacError, AuthError, Conflict, Forbidden, InvalidInput, NotFound

_STATUS: list[tuple[type[AlmanacError], int]] = [
    (NotFound, 404),
    (InvalidInput, 422),
    (Conflict, 409),
    (AuthError, 401),
    (Forbidden, 403),
]


def status_for(exc: AlmanacError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def field_name(loc: tuple[object, ...] | list[object]) -> str:
    # Drop the "body"/"query" prefix and pydantic's union tags (the schedule kind).
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _almanac_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AlmanacError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) else None
    return JSONResponse({"detail": str(exc)}, status_code=status_for(exc), headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": field_name(err.get("loc", ())), "problem": str(err.get("msg", "invalid"))}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


_VALIDATION_ERROR: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "errors": {
            "type": "array",
            "title": "Errors",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
            },
        },
    },
}


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document shows the 422 body this module sends, not FastAPI's default."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = build().get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = _VALIDATION_ERROR
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


async def _out_of_range(_request: Request, _exc: Exception) -> JSONResponse:
    """A value the database cannot hold (an id past 64 bits, a NUL in text): the client's."""
    return JSONResponse({"detail": "a value is out of range or not storable"}, status_code=422)


async def _too_deep(_request: Request, _exc: Exception) -> JSONResponse:
    """A body nested so deeply that reading it exhausted the stack: the client's fault."""
    return JSONResponse({"detail": "body: nested too deeply to be read"}, status_code=400)


def install(app: FastAPI) -> None:
    app.add_exception_handler(AlmanacError, _almanac_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(RecursionError, _too_deep)
    _document_errors(app)
