"""Runs sorted by a column that may be empty (started, finished, agent): pages read down the
column's index, the runs without a value after the others whichever the order, and every
run on exactly one page, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from app.db.engine import session_scope
from app.db.tables import Run, User
from app.domain.states import RunStatus, TriggerKind
from app.errors import InvalidInput
from app.services import runs
from app.services.actor import Actor
from app.services.run_search import RunQuery

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
ADMIN = Actor(User(id=1, username="admin", role="admin", instances=["*"]))


def _seed(engine: Engine) -> list[Run]:
    """Seven runs: four started (out of id order, two at the same time), three not."""
    starts = [T0 + timedelta(minutes=3), None, T0, T0 + timedelta(minutes=1), None, T0, None]
    made = []
    with session_scope(engine) as session:
        for i, start in enumerate(starts):
            run = Run(
                status=RunStatus.SUCCESS if start else RunStatus.ACTIVE,
                trigger_kind=TriggerKind.MANUAL,
                trigger_time=T0 + timedelta(seconds=i),
                started_at=start,
                finished_at=start + timedelta(seconds=30 - i) if start else None,
                agent=f"a{i % 2}" if start else None,
                spec={"task_name": f"r{i}"},
            )
            session.add(run)
            session.flush()
            made.append(run)
        session.expunge_all()
    return made


def _expected(made: list[Run], column: str, ascending: bool) -> list[int]:
    """What one ORDER BY `column IS NULL, column, id` gives (the order the page promises)."""
    valued = [r for r in made if getattr(r, column) is not None]
    empty = [r for r in made if getattr(r, column) is None]
    valued.sort(key=lambda r: (getattr(r, column), r.id), reverse=not ascending)
    empty.sort(key=lambda r: r.id or 0, reverse=not ascending)
    return [r.id or 0 for r in valued + empty]


@pytest.mark.parametrize("column", ["started_at", "finished_at", "agent"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_put_runs_without_a_value_last_each_run_once(
    engine: Engine, column: str, order: str
) -> None:
    made = _seed(engine)
    query = RunQuery(sort=column, order=order)  # type: ignore[arg-type]
    with Session(engine) as session:
        for size in (2, 3, 4, 7, 8):
            seen: list[int] = []
            page = 1
            while True:
                got = runs.list_runs(session, actor=ADMIN, more=query, page=page, page_size=size)
                seen += [r.id for r in got.items]
                if not got.has_more:
                    break
                page += 1
            assert seen == _expected(made, column, order == "asc"), (column, order, size)
        # A page past the end is empty and has nothing more.
        beyond = runs.list_runs(session, actor=ADMIN, more=query, page=9, page_size=2)
        assert beyond.items == [] and not beyond.has_more


def test_a_sorted_page_refuses_cursors_naming_them(engine: Engine) -> None:
    _seed(engine)
    with Session(engine) as session:
        for cursor in ("before", "after"):
            with pytest.raises(InvalidInput, match=cursor):
                runs.list_runs(
                    session,
                    actor=ADMIN,
                    more=RunQuery(sort="started_at"),
                    **{cursor: 3},  # type: ignore[arg-type]
                )
