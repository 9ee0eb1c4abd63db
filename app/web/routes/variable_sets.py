"""Variable sets (/variable-sets): every set the viewer may read (plain values masked below
admin, secrets by name only), and for admins forms to create, edit and delete them. Secret
inputs are write-only: a value typed sets the secret, nothing ever fills them back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.models.variable_set_schemas import VariableSetCreate, VariableSetUpdate
from app.services import variable_sets
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump, parse
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Name = Annotated[str, Path(min_length=1, max_length=200)]


def _lines(text: str) -> dict[str, str]:
    """NAME=VALUE lines (blank lines skipped); a line without '=' is a name with ''."""
    pairs = {}
    for line in text.splitlines():
        if line.strip():
            name, _, value = line.partition("=")
            pairs[name.strip()] = value
    return pairs


async def _page(
    request: Request, api: Calls, error: str | None = None, status_code: int = 200
) -> Response:
    listed = dump(await api.read(variable_sets.list_sets))
    return render(
        request,
        "variable_sets/page.html",
        {"active": "variable-sets", "sets": listed, "error": error},
        session=api.session,
        status_code=status_code,
    )


@router.get("/variable-sets")
async def sets_page(request: Request, api: CallsDep) -> Response:
    return await _page(request, api)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/variable-sets")
async def create_set(request: Request, api: CallsDep, session: WriteSessionDep) -> Response:
    values = await _form(request)
    payload: dict[str, Any] = {
        "name": values.get("name", "").strip(),
        "instance": values.get("instance", "").strip() or "default",
        "description": values.get("description", ""),
        "variables": _lines(values.get("variables", "")),
        "secrets": _lines(values.get("secrets", "")),
    }
    try:
        await api.command(variable_sets.create_set, body=parse(VariableSetCreate, payload))
    except ApiError as exc:
        if exc.status_code not in (403, 409, 422):
            raise
        return await _page(request, api, exc.detail, exc.status_code)
    return RedirectResponse("/variable-sets", status_code=303)


@router.post("/variable-sets/{instance}/{name}")
async def update_set(
    request: Request, instance: Name, name: Name, api: CallsDep, session: WriteSessionDep
) -> Response:
    values = await _form(request)
    form = await request.form()
    removed = {str(v) for v in form.getlist("remove_secret")}
    try:
        current = await api.read(variable_sets.read_set, name=name, instance=instance)
        secrets: dict[str, str | None] = {n: None for n in current.secrets if n not in removed}
        secrets.update(_lines(values.get("secrets", "")))
        payload = {
            "description": values.get("description", ""),
            "variables": _lines(values.get("variables", "")),
            "secrets": secrets,
        }
        await api.command(
            variable_sets.update_set,
            name=name,
            instance=instance,
            body=parse(VariableSetUpdate, payload),
        )
    except ApiError as exc:
        if exc.status_code not in (403, 404, 409, 422):
            raise
        return await _page(request, api, exc.detail, exc.status_code)
    return RedirectResponse("/variable-sets", status_code=303)


@router.post("/variable-sets/{instance}/{name}/delete")
async def delete_set(
    request: Request, instance: Name, name: Name, api: CallsDep, session: WriteSessionDep
) -> Response:
    try:
        await api.command(variable_sets.delete_set, name=name, instance=instance)
    except ApiError as exc:
        if exc.status_code not in (403, 404, 409):
            raise
        return await _page(request, api, exc.detail, exc.status_code)
    return RedirectResponse("/variable-sets", status_code=303)
