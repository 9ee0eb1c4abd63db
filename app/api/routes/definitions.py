"""/definitions/plan and /definitions/apply: definition files (YAML or JSON) as code
(app/services/definitions.py)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from app.api.deps import ActorDep, ContextDep, OperatorDep
from app.io.problems import ImportRefused
from app.models.definition_schemas import DefinitionsReport, DefinitionsRequest
from app.services import definitions

router = APIRouter(prefix="/definitions", tags=["definitions"])

_REFUSALS: dict[int | str, dict[str, str]] = {
    400: {"description": "A file does not parse: `errors` name file, line and column"},
    403: {"description": "An item of an instance you may not write, or calendars without admin"},
    422: {"description": "Refused: `errors` list item, field, problem, file, line, column"},
}


def refused_response(refused: ImportRefused) -> JSONResponse:
    return JSONResponse(
        status_code=refused.status,
        content={
            "detail": str(refused),
            "errors": [p.model_dump(exclude_none=True) for p in refused.problems],
        },
    )


async def _run(
    body: DefinitionsRequest, context: ContextDep, actor: ActorDep, *, apply: bool
) -> Response:
    try:
        report = await anyio.to_thread.run_sync(
            lambda: definitions.handle_request(
                context.engine, actor=actor, now=context.clock.now(), request=body, apply=apply
            )
        )
    except ImportRefused as refused:
        return refused_response(refused)
    return JSONResponse(report.model_dump(mode="json"))


@router.post("/plan", response_model=DefinitionsReport, responses=_REFUSALS)
async def plan(
    body: DefinitionsRequest, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> Response:
    """What applying these files would change, field by field; nothing is written."""
    return await _run(body, context, actor, apply=False)


@router.post("/apply", response_model=DefinitionsReport, responses=_REFUSALS)
async def apply(
    body: DefinitionsRequest, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> Response:
    """Check the files as a whole and apply them in one transaction, all or nothing; the
    objects they hold become managed by `source`; `prune` deletes what `source` manages and
    the files lack."""
    return await _run(body, context, actor, apply=True)
