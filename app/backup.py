"""Backups and restores of the database (`almanac backup`, `almanac restore`).

SQLite: the online backup API copies a consistent snapshot page by page while the server goes
on writing (WAL included), so a backup needs no downtime. A restore needs the server stopped:
every server holds a shared lock on `<database>.lock` while it runs, and a restore takes it
exclusively or refuses. PostgreSQL is backed up by its own tools (`pg_dump` / `pg_restore`).

The secret key (`<data dir>/secret.key` or ALMANAC_SECRET_KEY) is not in the database: keep
it with the backups, or the sealed environment values of a restored database cannot be read.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from app.errors import AlmanacError

# Tables every Almanac schema has had since the first migration.
_ALMANAC_TABLES = frozenset({"alembic_version", "task", "run", "run_event", "app_user"})


class BackupError(AlmanacError):
    """A backup or restore that cannot be done; the message says why and what to do."""


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for any other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def _lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def serving_lock(url: str) -> Iterator[None]:
    """Held (shared) by a running server on a SQLite database: restores see it and refuse.
    The kernel drops it when the process ends, however it ends."""
    database = sqlite_path(url)
    if database is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with _lock_path(database).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        yield


def backup_sqlite(url: str, target: Path) -> int:
    """Copy the live database to `target` (0600) with SQLite's online backup; returns bytes.
    Written to a temporary file first: a failed backup leaves no half file under its name."""
    source = sqlite_path(url)
    if source is None:
        raise BackupError("not a SQLite database")
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        with (
            contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
            contextlib.closing(sqlite3.connect(partial)) as dst,
        ):
            src.execute("PRAGMA busy_timeout=30000")
            src.backup(dst, pages=1024)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def pg_dump_command(url: str, target: Path) -> list[str]:
    """The pg_dump call for a PostgreSQL URL (custom format: `pg_restore` reads it)."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", f"--dbname={plain}"]


def backup_postgres(url: str, target: Path) -> None:
    if shutil.which("pg_dump") is None:
        raise BackupError(
            "pg_dump not found: install the PostgreSQL client tools, or run "
            f"`pg_dump --format=custom --file={target} <database URL>` where they are"
        )
    done = subprocess.run(pg_dump_command(url, target), capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")


def check_backup(path: Path, scripts: ScriptDirectory) -> str:
    """The schema revision of an Almanac backup file; raises when it is not one we can use."""
    if not path.is_file():
        raise BackupError(f"no file {path}")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            if db.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError(f"{path} is damaged (SQLite quick_check failed)")
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if not _ALMANAC_TABLES <= tables:
                raise BackupError(f"{path} is not an Almanac database")
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database ({exc})") from exc
    revision = str(row[0]) if row else ""
    try:
        known = scripts.get_revision(revision) is not None
    except Exception:  # alembic's errors for an unknown revision vary by version
        known = False
    if not known:
        raise BackupError(
            f"{path} has schema {revision or 'none'}, which this Almanac does not know "
            "(made by a newer version?)"
        )
    return revision


def restore_sqlite(backup: Path, url: str, now: datetime) -> Path | None:
    """Put `backup` in place of the database at `url` (stopped); the database it replaces is
    kept beside it, named after `now`, and returned. Raises when a server is running on it."""
    database = sqlite_path(url)
    if database is None:
        raise BackupError("restore takes a SQLite database; PostgreSQL restores with pg_restore")
    database.parent.mkdir(parents=True, exist_ok=True)
    with _lock_path(database).open("a") as handle:
        _lock_exclusively(handle, database)
        staged = database.with_name(f".{database.name}.restoring")
        staged.unlink(missing_ok=True)
        os.close(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with (
            contextlib.closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True)) as src,
            contextlib.closing(sqlite3.connect(staged)) as dst,
        ):
            src.backup(dst)
        kept = None
        if database.exists():
            kept = database.with_name(f"{database.name}.before-restore-{now:%Y%m%dT%H%M%S}")
            _checkpoint(database)
            os.replace(database, kept)
        for suffix in ("-wal", "-shm", "-journal"):  # the old database's, never the new one's
            database.with_name(database.name + suffix).unlink(missing_ok=True)
        os.replace(staged, database)
        return kept


def _lock_exclusively(handle: IO[str], database: Path) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise BackupError(
            f"a server is running on {database}: stop it before restoring "
            "(a backup, `almanac backup`, needs no stop)"
        ) from None


def _checkpoint(database: Path) -> None:
    """Fold the old database's WAL into it, so the copy kept aside is whole on its own."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
