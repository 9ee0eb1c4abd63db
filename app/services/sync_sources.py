"""Git sync sources: create, read, change, delete (admin of every instance, since a source's
files may touch any instance its run-as user may write). Credentials and the webhook secret
are stored encrypted and never returned; the secret is shown once, when the source is made."""

from __future__ import annotations

import re
import secrets
import shutil
from datetime import datetime
from pathlib import Path, PurePosixPath

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.sync_tables import SyncSource
from app.domain.roles import Role
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.models.definition_schemas import (
    SyncSourceCreate,
    SyncSourceCreated,
    SyncSourcePublic,
    SyncSourceUpdate,
)
from app.secrets import encrypt_secret
from app.services.actor import Actor

_TRANSPORT_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]+@")
_BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]+(?<![./])$")


def public(row: SyncSource) -> SyncSourcePublic:
    return SyncSourcePublic(
        name=row.name,
        url=row.url,
        branch=row.branch,
        path=row.path,
        poll_seconds=row.poll_seconds,
        enabled=row.enabled,
        run_as=row.run_as,
        has_credentials=bool(row.credentials_encrypted),
        last_checked_at=row.last_checked_at,
        last_seen_commit=row.last_seen_commit,
        last_applied_commit=row.last_applied_commit,
        last_applied_at=row.last_applied_at,
        last_applied_by=row.last_applied_by,
        last_plan=row.last_plan,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        last_error_commit=row.last_error_commit,
    )


def check_location(url: str | None, branch: str | None, path: str | None) -> None:
    """A repository git may read without running anything; a branch and folder by name."""
    if url is not None:
        if url.startswith("-") or _TRANSPORT_HELPER.match(url) or not url.isprintable():
            raise InvalidInput("url", "an https://, ssh://, git://, file:// URL or a local path")
        if _CREDENTIALS_IN_URL.search(url):
            raise InvalidInput("url", "put credentials in `credentials`, not in the URL")
    if branch is not None and not _BRANCH.match(branch):
        raise InvalidInput("branch", "not a branch name")
    if path is not None and (
        path.startswith("-") or ".." in PurePosixPath(path).parts or not path.isprintable()
    ):
        raise InvalidInput("path", "a folder inside the repository, without '..'")


def _admin(actor: Actor) -> None:
    actor.require(Role.ADMIN)
    if not actor.scope.everything:
        raise Forbidden("sync sources are managed by an admin of every instance")


def get_source(session: Session, name: str) -> SyncSource:
    row = session.exec(select(SyncSource).where(SyncSource.name == name)).first()
    if row is None:
        raise NotFound("sync source", name)
    return row


def list_sources(session: Session, *, actor: Actor) -> list[SyncSourcePublic]:
    _admin(actor)
    rows = session.exec(select(SyncSource).order_by(col(SyncSource.name))).all()
    return [public(r) for r in rows]


def read_source(session: Session, *, actor: Actor, name: str) -> SyncSourcePublic:
    _admin(actor)
    return public(get_source(session, name))


def create_source(
    engine: Engine, *, actor: Actor, now: datetime, data_dir: Path, body: SyncSourceCreate
) -> SyncSourceCreated:
    """The applies of this source act as its creator (their role and instances)."""
    _admin(actor)
    check_location(body.url, body.branch, body.path)
    webhook_secret = secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        if session.exec(select(SyncSource.id).where(SyncSource.name == body.name)).first():
            raise Conflict(f"name: a sync source named {body.name!r} already exists")
        row = SyncSource(
            name=body.name,
            url=body.url,
            branch=body.branch,
            path=body.path.strip("/"),
            poll_seconds=body.poll_seconds,
            enabled=body.enabled,
            run_as=actor.username,
            credentials_encrypted=(
                encrypt_secret(body.credentials, data_dir) if body.credentials else None
            ),
            webhook_secret_encrypted=encrypt_secret(webhook_secret, data_dir),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        shown = public(row)
        actor.audit(
            session,
            at=now,
            action="sync.create",
            target_kind="sync_source",
            target_id=row.name,
            after=shown,
        )
    return SyncSourceCreated(**shown.model_dump(), webhook_secret=webhook_secret)


def update_source(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    data_dir: Path,
    name: str,
    body: SyncSourceUpdate,
) -> SyncSourcePublic:
    _admin(actor)
    changed = body.model_dump(exclude_unset=True)
    check_location(changed.get("url"), changed.get("branch"), changed.get("path"))
    with session_scope(engine) as session:
        row = get_source(session, name)
        before = public(row)
        for field in ("url", "branch", "poll_seconds", "enabled"):
            if field in changed:
                if changed[field] is None and field != "poll_seconds":
                    raise InvalidInput(field, "must not be null")
                setattr(row, field, changed[field])
        if "path" in changed:
            row.path = (changed["path"] or "").strip("/")
        if "credentials" in changed:
            secret = changed["credentials"]
            row.credentials_encrypted = encrypt_secret(secret, data_dir) if secret else None
        row.updated_at = now
        session.add(row)
        session.flush()
        shown = public(row)
        actor.audit(
            session,
            at=now,
            action="sync.update",
            target_kind="sync_source",
            target_id=name,
            before=before,
            after=shown,
        )
    return shown


def delete_source(
    engine: Engine, *, actor: Actor, now: datetime, data_dir: Path, name: str
) -> None:
    """The objects it manages stay (as they are, still marked with the source's name); its
    cached copy of the repository goes."""
    _admin(actor)
    with session_scope(engine) as session:
        row = get_source(session, name)
        before = public(row)
        session.delete(row)
        actor.audit(
            session,
            at=now,
            action="sync.delete",
            target_kind="sync_source",
            target_id=name,
            before=before,
        )
    shutil.rmtree(data_dir / "sync" / name, ignore_errors=True)
