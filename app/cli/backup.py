"""`almanac backup -o FILE` and `almanac restore FILE` (see app/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.private_files import private_umask

DataDir = Annotated[
    Path, typer.Option(envvar="ALMANAC_DATA_DIR", help="The server's data directory.")
]
DatabaseUrl = Annotated[
    str | None, typer.Option(envvar="ALMANAC_DATABASE_URL", help="SQLAlchemy URL.")
]


def backup(
    output: Annotated[Path, typer.Option("-o", "--output", help="The backup file to write.")],
    data_dir: DataDir = Path("./almanac-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Back up the database while the server runs (SQLite: online backup; PostgreSQL: pg_dump)."""
    from app.backup import BackupError, backup_postgres, backup_sqlite, sqlite_path

    private_umask()
    from app.settings import Settings

    url = Settings(data_dir=data_dir, database_url=database_url).resolved_database_url()
    try:
        if sqlite_path(url) is None:
            backup_postgres(url, output)
            typer.echo(f"backed up to {output} (pg_dump custom format: restore with pg_restore)")
            return
        size = backup_sqlite(url, output)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backed up to {output} ({size} bytes)")
    typer.echo(
        f"keep {data_dir / 'secret.key'} (or ALMANAC_SECRET_KEY) with it: it is not in the "
        "database and unseals the stored environment values"
    )


def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file made by `almanac backup`.")],
    data_dir: DataDir = Path("./almanac-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Restore a SQLite backup in place of the database (the server must be stopped), then
    upgrade its schema to this version's."""
    from alembic.script import ScriptDirectory

    from app.backup import BackupError, check_backup, restore_sqlite, sqlite_path
    from app.bootstrap import alembic_config, upgrade_database
    from app.clock import SystemClock

    private_umask()
    from app.settings import Settings

    url = Settings(data_dir=data_dir, database_url=database_url).resolved_database_url()
    if sqlite_path(url) is None:
        typer.echo(
            "error: restore puts back SQLite backups; for PostgreSQL stop the servers, then "
            f"`pg_restore --clean --if-exists --no-owner --dbname=URL {backup_file}` and "
            "`almanac db upgrade --database-url URL` (docs/operations/backups.md)",
            err=True,
        )
        raise typer.Exit(1)
    try:
        revision = check_backup(backup_file, ScriptDirectory.from_config(alembic_config(url)))
        kept = restore_sqlite(backup_file, url, SystemClock().now())
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    upgrade_database(url)
    typer.echo(f"restored {backup_file} (schema {revision}, now upgraded to this version's)")
    if kept is not None:
        typer.echo(f"the database it replaced is kept as {kept}")


def register(cli: typer.Typer) -> None:
    cli.command("backup")(backup)
    cli.command("restore")(restore)
