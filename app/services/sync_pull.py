"""Pulling a git sync source: fetch its branch, and plan and apply a new commit as the source
(`sync:<name>`, with prune: the files are the whole truth for what the source manages).

A commit that fails validation changes nothing: the error is recorded and the previous state
stays live. A repository that cannot be read is recorded too, and nothing changes. The poll
runs on the leader (app/scheduler/service.py); the webhook pulls on the replica it reaches.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from app.db.engine import session_scope
from app.db.sync_tables import SyncSource
from app.db.tables import User
from app.definitions.git_source import GitError, fetch, read_commit
from app.errors import AlmanacError
from app.io.problems import ImportRefused
from app.models.definition_schemas import SyncResult
from app.models.io_schemas import ImportProblem
from app.secrets import SecretError, decrypt_secret
from app.services.definitions import SYNC_PREFIX, acting_actor, plan_or_apply
from app.services.sync_sources import get_source

Trigger = Literal["poll", "webhook"]

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def cache_dir(data_dir: Path, name: str) -> Path:
    return data_dir / "sync" / name  # sync_sources.delete_source removes it


def webhook_allowed(
    engine: Engine, data_dir: Path, name: str, token: str | None, signature: str | None, body: bytes
) -> bool:
    """The secret as `X-Almanac-Sync-Token`, or the body signed with it (`X-Hub-Signature-256:
    sha256=<hex HMAC>`, as GitHub and Gitea send)."""
    with session_scope(engine) as session:
        row = session.exec(select(SyncSource).where(SyncSource.name == name)).first()
        stored = row.webhook_secret_encrypted if row is not None else None
    if stored is None:
        return False
    secret = decrypt_secret(stored, data_dir)
    if token is not None and hmac.compare_digest(token.encode(), secret.encode()):
        return True
    if signature is not None and signature.startswith("sha256="):
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature[7:].encode(), expected.encode())
    return False


def problems_text(problems: Sequence[ImportProblem]) -> str:
    lines = []
    for p in problems:
        where = ":".join(str(x) for x in (p.file, p.line, p.column) if x is not None)
        lines.append(f"{where + ': ' if where else ''}{p.item}: {p.field}: {p.problem}")
    return "\n".join(lines)


def pull(
    engine: Engine, *, data_dir: Path, now: datetime, name: str, trigger: Trigger
) -> SyncResult:
    """Fetch and, for a commit not applied yet, plan and apply it; the outcome is recorded."""
    with _lock(name):
        with session_scope(engine) as session:
            row = get_source(session, name)
            url, branch, folder = row.url, row.branch, row.path
            sealed, applied, refused = (
                row.credentials_encrypted,
                row.last_applied_commit,
                row.last_error_commit,
            )
            user = session.exec(select(User).where(User.username == row.run_as)).first()
        try:
            credentials = decrypt_secret(sealed, data_dir) if sealed else None
            commit = fetch(cache_dir(data_dir, name), url, branch, credentials)
        except (GitError, SecretError) as exc:
            return _record(engine, name, now, None, "unreadable", f"cannot read repository: {exc}")
        if commit == applied or (trigger == "poll" and commit == refused):
            return _record(engine, name, now, commit, "unchanged", "")
        if user is None or user.disabled:
            return _record(engine, name, now, commit, "refused", "its run-as user is gone")
        try:
            files = read_commit(cache_dir(data_dir, name), commit, folder)
            report = plan_or_apply(
                engine,
                actor=acting_actor(user, origin="sync", address=f"{SYNC_PREFIX}{name}"),
                now=now,
                files=files,
                source=f"{SYNC_PREFIX}{name}",
                commit=commit,
                prune=True,
                apply=True,
            )
        except GitError as exc:
            return _record(engine, name, now, commit, "unreadable", f"cannot read commit: {exc}")
        except ImportRefused as exc:
            return _record(engine, name, now, commit, "refused", problems_text(exc.problems))
        except AlmanacError as exc:
            return _record(engine, name, now, commit, "refused", str(exc))
        except SQLAlchemyError as exc:  # e.g. a pull of the same commit on another replica
            text = f"not applied: {type(exc).__name__}"
            return _record(engine, name, now, commit, "refused", text)
        by = f"{user.username} ({trigger})"
        return _record(engine, name, now, commit, "applied", report.text, by=by)


def _record(
    engine: Engine,
    name: str,
    now: datetime,
    commit: str | None,
    outcome: Literal["applied", "unchanged", "refused", "unreadable"],
    detail: str,
    *,
    by: str = "",
) -> SyncResult:
    with session_scope(engine) as session:
        row = get_source(session, name)
        row.last_checked_at = now
        if commit is not None:
            row.last_seen_commit = commit
        if outcome == "applied":
            row.last_applied_commit, row.last_applied_at, row.last_applied_by = commit, now, by
            row.last_plan = detail
            row.last_error = row.last_error_at = row.last_error_commit = None
        elif outcome in ("refused", "unreadable"):
            row.last_error, row.last_error_at, row.last_error_commit = detail, now, commit
        session.add(row)
    return SyncResult(name=name, outcome=outcome, commit=commit, detail=detail)


def due_sources(engine: Engine, now: datetime) -> list[str]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(SyncSource).where(
                col(SyncSource.enabled).is_(True), col(SyncSource.poll_seconds).is_not(None)
            )
        ).all()
        return [
            r.name
            for r in rows
            if r.last_checked_at is None
            or r.last_checked_at + timedelta(seconds=r.poll_seconds or 0) <= now
        ]


def sync_due(engine: Engine, *, data_dir: Path, now: datetime) -> list[SyncResult]:
    """One poll pass (the leader's timer calls it): pull every source whose interval passed."""
    return [
        pull(engine, data_dir=data_dir, now=now, name=name, trigger="poll")
        for name in due_sources(engine, now)
    ]
