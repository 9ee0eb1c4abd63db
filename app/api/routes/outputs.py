"""/runs/{id}/outputs: the files a run left in its output directory, listed and downloaded.

Only names with a `run_output` row can be downloaded (the row is made once the file is on the
server's disk whole), so a request can never reach any other path.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel
from sqlmodel import select

from app.api.deps import ContextDep, UserDep
from app.context import AppContext
from app.db.engine import session_scope
from app.db.runs import get_run
from app.db.tables import RunOutput
from app.domain.roles import can_see_instance
from app.errors import InvalidInput, NotFound
from app.hub.output_store import OutputStore, stored_outputs
from app.hub.output_zip import zip_stream
from app.protocol.output_names import UnsafeName, check_name

router = APIRouter(prefix="/runs", tags=["runs"])
Attempt = Annotated[int | None, Query(ge=1, description="Default: the run's latest attempt.")]


class OutputPublic(BaseModel):
    name: str
    size: int
    sha256: str | None
    created_at: datetime | None


class OutputList(BaseModel):
    run: int
    attempt: int
    total_size: int
    outputs: list[OutputPublic]


def output_store(context: AppContext) -> OutputStore:
    return OutputStore(context.settings.data_dir / "outputs")


def _attempt(context: AppContext, run_id: int, attempt: int | None, instances: list[str]) -> int:
    with session_scope(context.engine) as session:
        run = get_run(session, run_id)
    if not can_see_instance(instances, run.instance):
        raise NotFound("run", run_id)
    return attempt or run.attempt


@router.get("/{run_id}/outputs", response_model=OutputList)
def list_outputs(
    run_id: int, context: ContextDep, user: UserDep, attempt: Attempt = None
) -> OutputList:
    chosen = _attempt(context, run_id, attempt, user.instances)
    with session_scope(context.engine) as session:
        rows = stored_outputs(session, run_id, chosen)
    files = [
        OutputPublic(name=r.name, size=r.size, sha256=r.sha256, created_at=r.created_at)
        for r in rows
    ]
    return OutputList(
        run=run_id, attempt=chosen, total_size=sum(f.size for f in files), outputs=files
    )


@router.get("/{run_id}/outputs.zip")
def download_zip(
    run_id: int, context: ContextDep, user: UserDep, attempt: Attempt = None
) -> StreamingResponse:
    chosen = _attempt(context, run_id, attempt, user.instances)
    store = output_store(context)
    with session_scope(context.engine) as session:
        rows = stored_outputs(session, run_id, chosen)
    files = [(r.name, store.path(run_id, chosen, r.name), r.size, r.created_at) for r in rows]
    missing = [name for name, path, _, _ in files if not path.is_file()]
    if missing:
        raise NotFound("output file", f"{missing[0]!r} of run {run_id} on this server")

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
    run_id: int, name: str, context: ContextDep, user: UserDep, attempt: Attempt = None
) -> FileResponse:
    try:
        check_name(name)
    except UnsafeName as exc:
        raise InvalidInput("name", str(exc)) from None
    chosen = _attempt(context, run_id, attempt, user.instances)
    with session_scope(context.engine) as session:
        row = session.exec(
            select(RunOutput).where(
                RunOutput.run_id == run_id, RunOutput.attempt == chosen, RunOutput.name == name
            )
        ).first()
    if row is None:
        raise NotFound("output", f"{name!r} of run {run_id} attempt {chosen}")
    path = output_store(context).path(run_id, chosen, row.name)
    if not path.is_file() or path.is_symlink():
        raise NotFound("output file", f"{name!r} of run {run_id} on this server")
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=name.rsplit("/", 1)[-1],
        headers={"X-Content-Type-Options": "nosniff"},
    )
