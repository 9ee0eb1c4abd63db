"""Upgrades from every earlier schema: for each revision of the chain, a SQLite database made
at that revision, with a row in every table and every column filled, upgrades to head with
every value kept (or changed only where a migration means to), and the models load each row.
PostgreSQL walks the whole chain once, seeding at each revision on the way up."""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select
from support import empty_postgres_database, reused_postgres_database
from upgrade_rows import expected, read_back, seed

from app.bootstrap import alembic_config
from app.db.engine import make_engine

# Values a migration changes on purpose: (table, column) -> why.
CHANGED_ON_PURPOSE: dict[tuple[str, str], str] = {}

REVISIONS = [
    script.revision
    for script in reversed(
        list(ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions())
    )
]
_templates: dict[str, Path] = {}


def _template(revision: str) -> Path:
    """A SQLite file at `revision`: one walk up the chain makes them all, once per process."""
    if not _templates:
        folder = Path(tempfile.mkdtemp(prefix="almanac-chain-"))
        url = f"sqlite:///{folder / 'walk.db'}"
        for each in REVISIONS[:-1]:
            command.upgrade(alembic_config(url), each)
            _templates[each] = folder / f"{each}.db"
            _copy(folder / "walk.db", _templates[each])
    return _templates[revision]


def _copy(source: Path, target: Path) -> None:
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def _kept(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    lost = []
    for table, row in before.items():
        if table not in after:
            continue  # a table a later migration dropped
        if not after[table]:
            lost.append(f"{table}: row gone")
            continue
        for column, value in row.items():
            if column in after[table] and (table, column) not in CHANGED_ON_PURPOSE:
                if after[table][column] != value:
                    lost.append(f"{table}.{column}: {value!r} -> {after[table][column]!r}")
    return lost


def _models_load(engine: Engine) -> dict[str, int]:
    counts = {}
    with Session(engine) as session:
        for mapper in SQLModel._sa_registry.mappers:  # type: ignore[attr-defined]
            model = mapper.class_
            counts[model.__tablename__] = len(session.exec(select(model)).all())
    return counts


@pytest.mark.parametrize("revision", REVISIONS[:-1])
def test_a_database_from_each_revision_upgrades_with_its_rows(
    revision: str, tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    _copy(_template(revision), path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        written = seed(engine)
        command.upgrade(alembic_config(url), "head")
        assert _kept(expected(written), read_back(engine, written)) == []
        loaded = _models_load(engine)
    finally:
        engine.dispose()
    assert all(loaded[table] == 1 for table in written if table in loaded), loaded


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    url = reused_postgres_database(postgres_admin_url)
    yield url
    empty_postgres_database(postgres_admin_url, url)


def test_postgres_walks_the_whole_chain_keeping_rows_made_at_each_revision(
    postgres_url: str,
) -> None:
    config = alembic_config(postgres_url)
    command.downgrade(config, "base")
    engine = make_engine(postgres_url)
    try:
        written: dict[str, dict[str, Any]] = {}
        for revision in REVISIONS:
            command.upgrade(config, revision)
            written.update(seed(engine, skip=set(written), earlier=written))
        assert _kept(expected(written), read_back(engine, written)) == []
        loaded = _models_load(engine)
    finally:
        engine.dispose()
    assert all(loaded[table] == 1 for table in written if table in loaded), loaded
