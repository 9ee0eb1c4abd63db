"""Which changes on the event bus concern one viewer: a page redrawn on `changed` must not
learn that runs of an instance it cannot see moved (the bus carries bare run ids)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

import anyio
from sqlalchemy import Engine
from sqlmodel import col, select

from app.db.engine import session_scope
from app.db.tables import Run
from app.web.events import Change

Relevant = Callable[[Change], Awaitable[bool]]


def for_viewer(engine: Engine, instances: Collection[str]) -> Relevant:
    """Agents are shared by every instance; runs count only in the viewer's instances."""
    granted = frozenset(instances)

    async def relevant(change: Change) -> bool:
        if change.agents or "*" in granted:
            return True
        runs = change.runs | change.logs
        return bool(runs) and await anyio.to_thread.run_sync(_any_visible, engine, granted, runs)

    return relevant


def _any_visible(engine: Engine, granted: frozenset[str], runs: frozenset[int]) -> bool:
    with session_scope(engine) as session:
        return (
            session.exec(
                select(Run.id)
                .where(col(Run.id).in_(sorted(runs)), col(Run.instance).in_(sorted(granted)))
                .limit(1)
            ).first()
            is not None
        )
