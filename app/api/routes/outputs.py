"""/runs/{id}/outputs: the files a run left in its output directory, listed and downloaded
(app/services/outputs.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, StreamingResponse

from app.api.deps import ActorDep, ContextDep, UserDep
from app.db.engine import session_scope
from app.hub.output_zip import zip_stream
from app.services import outputs
from app.services.outputs import OutputList, output_store

router = APIRouter(prefix="/runs", tags=["runs"])
Attempt = Annotated[int | None, Query(ge=1, description="Default: the run's latest attempt.")]


@router.get("/{run_id}/outputs", response_model=OutputList)
def list_outputs(
    run_id: int, context: ContextDep, user: UserDep, actor: ActorDep, attempt: Attempt = None
) -> OutputList:
    with session_scope(context.engine) as session:
        return outputs.list_outputs(session, actor=actor, run_id=run_id, attempt=attempt)


@router.get("/{run_id}/outputs.zip")
def download_zip(
    run_id: int, context: ContextDep, user: UserDep, actor: ActorDep, attempt: Attempt = None
) -> StreamingResponse:
    with session_scope(context.engine) as session:
        chosen, files = outputs.zip_members(
            session, actor=actor, run_id=run_id, attempt=attempt, store=output_store(context)
        )

    def body() -> Iterator[bytes]:
        yield from zip_stream(files)

    filename = f"run-{run_id}-attempt-{chosen}-outputs.zip"
    return StreamingResponse(
        body(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/{run_id}/outputs/{name:path}")
def download_output(
    run_id: int,
    name: str,
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    attempt: Attempt = None,
) -> FileResponse:
    with session_scope(context.engine) as session:
        path = outputs.output_path(
            session,
            actor=actor,
            run_id=run_id,
            name=name,
            attempt=attempt,
            store=output_store(context),
        )
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=name.rsplit("/", 1)[-1],
        headers={"X-Content-Type-Options": "nosniff"},
    )
