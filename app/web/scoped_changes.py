"""Which changes on the event bus concern one viewer: a page redrawn on `changed` must not
learn that runs of an instance it cannot see moved (the bus carries bare run ids)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

import anyio
from sqlalchemy import Engine

from app.db.engine import session_scope
from app.services.run_reads import any_visible
from app.services.scope import InstanceScope
from app.web.events import Change

Relevant = Callable[[Change], Awaitable[bool]]


def for_viewer(engine: Engine, instances: Collection[str]) -> Relevant:
    """Agents are shared by every instance; runs count only in the viewer's instances."""
    scope = InstanceScope(frozenset(instances))

    async def relevant(change: Change) -> bool:
        if change.agents or scope.everything:
            return True
        runs = change.runs | change.logs
        return bool(runs) and await anyio.to_thread.run_sync(_any_visible, engine, scope, runs)

    return relevant


def _any_visible(engine: Engine, scope: InstanceScope, runs: frozenset[int]) -> bool:
    with session_scope(engine) as session:
        return any_visible(session, scope, runs)
