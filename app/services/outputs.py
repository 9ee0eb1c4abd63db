"""The files a run left in its output directory, in the caller's scope: listed, and the
paths to send. Only names with a `run_output` row are served (the row is made once the file
is on the server's disk whole), so a request can never reach any other path."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel
from sqlmodel import Session, select

from app.context import AppContext
from app.db.tables import RunOutput
from app.errors import InvalidInput, NotFound
from app.hub.output_store import OutputStore, stored_outputs
from app.protocol.output_names import UnsafeName, check_name
from app.services.actor import Actor
from app.services.runs import visible_run


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


def chosen_attempt(session: Session, *, actor: Actor, run_id: int, attempt: int | None) -> int:
    """`attempt`, or the run's latest; NotFound outside the caller's scope."""
    return attempt or visible_run(session, actor.scope, run_id).attempt


def list_outputs(
    session: Session, *, actor: Actor, run_id: int, attempt: int | None = None
) -> OutputList:
    chosen = chosen_attempt(session, actor=actor, run_id=run_id, attempt=attempt)
    files = [
        OutputPublic(name=r.name, size=r.size, sha256=r.sha256, created_at=r.created_at)
        for r in stored_outputs(session, run_id, chosen)
    ]
    return OutputList(
        run=run_id, attempt=chosen, total_size=sum(f.size for f in files), outputs=files
    )


def zip_members(
    session: Session, *, actor: Actor, run_id: int, attempt: int | None, store: OutputStore
) -> tuple[int, list[tuple[str, Path, int, datetime | None]]]:
    """The attempt and its files (name, path, size, time) for a zip; NotFound when one is
    missing on this server's disk."""
    chosen = chosen_attempt(session, actor=actor, run_id=run_id, attempt=attempt)
    rows = stored_outputs(session, run_id, chosen)
    files = [(r.name, store.path(run_id, chosen, r.name), r.size, r.created_at) for r in rows]
    missing = [name for name, path, _, _ in files if not path.is_file()]
    if missing:
        raise NotFound("output file", f"{missing[0]!r} of run {run_id} on this server")
    return chosen, files


def output_path(
    session: Session,
    *,
    actor: Actor,
    run_id: int,
    name: str,
    attempt: int | None,
    store: OutputStore,
) -> Path:
    """The stored file of that name; InvalidInput for an unsafe name, NotFound otherwise."""
    try:
        check_name(name)
    except UnsafeName as exc:
        raise InvalidInput("name", str(exc)) from None
    chosen = chosen_attempt(session, actor=actor, run_id=run_id, attempt=attempt)
    row = session.exec(
        select(RunOutput).where(
            RunOutput.run_id == run_id, RunOutput.attempt == chosen, RunOutput.name == name
        )
    ).first()
    if row is None:
        raise NotFound("output", f"{name!r} of run {run_id} attempt {chosen}")
    path = store.path(run_id, chosen, row.name)
    if not path.is_file() or path.is_symlink():
        raise NotFound("output file", f"{name!r} of run {run_id} on this server")
    return path
