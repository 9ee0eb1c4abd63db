"""/metrics: Prometheus text format. Scrapers authenticate with a bearer token like anyone."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.deps import ContextDep, UserDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def metrics(context: ContextDep, user: UserDep) -> Response:
    return Response(context.scheduler.metrics.render(), media_type=CONTENT_TYPE_LATEST)
