"""Pools (/pools): every pool the viewer sees with its occupancy, and one pool's holders and
queue (positions in dispatch order), read through the pools service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.services import pools, quotas
from app.web.calls import CallsDep, dump
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Name = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/pools")
async def pools_page(request: Request, api: CallsDep) -> Response:
    listed = dump(await api.read(pools.list_pools))
    limits = dump(await api.read(quotas.list_quotas))
    return render(
        request,
        "pools/page.html",
        {"active": "pools", "pools": listed, "quotas": limits, "pool": None},
        session=api.session,
    )


@router.get("/pools/{instance}/{name}")
async def pool_page(request: Request, instance: Name, name: Name, api: CallsDep) -> Response:
    pool = dump(await api.read(pools.read_pool, name=name, instance=instance))
    listed = dump(await api.read(pools.list_pools))
    return render(
        request,
        "pools/page.html",
        {"active": "pools", "pools": listed, "quotas": [], "pool": pool},
        session=api.session,
    )
