"""/adhoc: one command on chosen agents now, as a batch of runs sharing a `batch_id`
(app/services/adhoc.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.api.deps import ActorDep, ContextDep, OperatorDep, UserDep, WriterDep
from app.db.engine import session_scope
from app.models.adhoc_schemas import AdhocBatch, AdhocKill, AdhocRequest
from app.services import adhoc

router = APIRouter(prefix="/adhoc", tags=["adhoc"])
BatchId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("", response_model=AdhocBatch, status_code=201)
def submit(body: AdhocRequest, context: ContextDep, user: WriterDep, actor: ActorDep) -> AdhocBatch:
    """Start the command on every chosen agent now: one run per agent, one `batch_id`. A
    batch a `user` submits waits in PENDING_APPROVAL, run by run, for an operator."""
    return adhoc.submit_batch(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        body=body,
    )


@router.get("/{batch_id}", response_model=AdhocBatch)
def read(batch_id: BatchId, context: ContextDep, user: UserDep, actor: ActorDep) -> AdhocBatch:
    with session_scope(context.engine) as session:
        return adhoc.read_batch(session, actor=actor, batch_id=batch_id)


@router.post(
    "/{batch_id}/kill",
    response_model=AdhocKill,
    responses={
        202: {"model": AdhocKill, "description": "Some kills were relayed to other servers"}
    },
)
async def kill(
    batch_id: BatchId, context: ContextDep, user: OperatorDep, actor: ActorDep, response: Response
) -> AdhocKill:
    """Kill every run of the batch that has not ended: those no agent holds end now, those on
    an agent are told to stop (through the server holding it), and `killed` says per run what
    happened. 409 when nothing could be stopped (all ended, or no server holds their agents)."""
    answer = await adhoc.kill_batch(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        batch_id=batch_id,
        controls=context.controls,
    )
    if any(k.outcome == "relayed" for k in answer.killed):
        response.status_code = 202
    return answer
