"""Pools (/pools): every pool the viewer sees with its occupancy, and one pool's holders and
queue (positions in dispatch order), read through the pools service; admins create, change
(slots, placement, description) and delete pools, refusals beside the fields."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.domain.roles import Role
from app.errors import AlmanacError
from app.models.admission_schemas import PoolCreate, PoolUpdate
from app.services import pools, quotas
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump
from app.web.form_errors import checked, refusal_errors
from app.web.forms import FormErrors
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Name = Annotated[str, Path(min_length=1, max_length=200)]


async def _page(
    request: Request,
    api: Calls,
    pool: dict[str, Any] | None = None,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    listed = dump(await api.read(pools.list_pools))
    limits = dump(await api.read(quotas.list_quotas)) if pool is None else []
    context = {
        "active": "pools",
        "pools": listed,
        "quotas": limits,
        "pool": pool,
        "values": values or {},
        "errors": errors or {},
    }
    return render(request, "pools/page.html", context, session=api.session, status_code=status_code)


@router.get("/pools")
async def pools_page(request: Request, api: CallsDep) -> Response:
    return await _page(request, api)


@router.get("/pools/{instance}/{name}")
async def pool_page(request: Request, instance: Name, name: Name, api: CallsDep) -> Response:
    pool = dump(await api.read(pools.read_pool, name=name, instance=instance))
    return await _page(request, api, pool)


def _allow(api: Calls) -> None:
    """Admins only, checked before the form is read (as the API's role check comes first)."""
    try:
        api.actor.require(Role.ADMIN)
    except AlmanacError as exc:
        raise ApiError.of(exc) from exc


def _payload(values: dict[str, str], creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {
        "description": values.get("description", ""),
        "placement": values.get("placement") or None,
    }
    slots = values.get("slots", "").strip()
    if slots.isdigit():
        payload["slots"] = int(slots)
    else:
        errors["slots"] = "must be a whole number of slots" if slots else "is required"
    if creating:
        payload["name"] = values.get("name", "").strip()
        payload["instance"] = values.get("instance", "").strip() or "default"
    return payload, errors


async def _values(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


@router.post("/pools")
async def create_pool(request: Request, api: CallsDep, session: WriteSessionDep) -> Response:
    _allow(api)
    values = await _values(request)
    try:
        payload, unreadable = _payload(values, creating=True)
        made = await api.command(
            pools.create_pool, body=checked(PoolCreate, payload, unreadable, values)
        )
    except (FormErrors, ApiError) as exc:
        return await _refused(request, api, None, values, exc)
    return RedirectResponse(f"/pools/{made.instance}/{made.name}", status_code=303)


@router.post("/pools/{instance}/{name}")
async def update_pool(
    request: Request, instance: Name, name: Name, api: CallsDep, session: WriteSessionDep
) -> Response:
    _allow(api)
    values = await _values(request)
    try:
        payload, unreadable = _payload(values, creating=False)
        body = checked(PoolUpdate, payload, unreadable, values)
        await api.command(pools.update_pool, name=name, instance=instance, body=body)
    except (FormErrors, ApiError) as exc:
        pool = dump(await api.read(pools.read_pool, name=name, instance=instance))
        return await _refused(request, api, pool, values, exc)
    return RedirectResponse(f"/pools/{instance}/{name}", status_code=303)


@router.post("/pools/{instance}/{name}/delete")
async def delete_pool(
    request: Request, instance: Name, name: Name, api: CallsDep, session: WriteSessionDep
) -> Response:
    _allow(api)
    try:
        await api.command(pools.delete_pool, name=name, instance=instance)
    except ApiError as exc:
        pool = dump(await api.read(pools.read_pool, name=name, instance=instance))
        return await _refused(request, api, pool, {}, exc)
    return RedirectResponse("/pools", status_code=303)


async def _refused(
    request: Request,
    api: Calls,
    pool: dict[str, Any] | None,
    values: dict[str, str],
    exc: Exception,
) -> Response:
    if isinstance(exc, FormErrors):
        errors, status = exc.errors, 422
    else:
        assert isinstance(exc, ApiError)
        if exc.status_code not in (409, 422):
            raise exc
        errors, status = refusal_errors(exc, values), exc.status_code
    return await _page(request, api, pool, values=values, errors=errors, status_code=status)
