"""Who hears what a transaction changed: the one place the unit of work is wired.

The composition root (`create_app`) calls `wire_subscribers` with the parts it built; tests
that use an engine without an app call it with the engine alone, which keeps the step every
transaction needs (group runs settled before the commit that ended one of their runs).

- before commit: `group_runs.settle_ended` (skips what can no longer run, moves the group run),
  then `backfills.step_ended` (a backfill whose run ended starts its next dates)
- RunTransitioned: live pages (the event bus), the change feed to the other replicas, alerts
  (the endings)
- LogAppended, AgentChanged: live pages, the change feed to the other replicas
- DefinitionChanged: the scheduler (the timers of the changed schedules, here or, through the
  change feed, on the leader)
- DispatchWanted: the scheduler (dispatch looks now, on every replica)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Mapper, object_session

from app.alerts.capture import endings_to
from app.db import unit_of_work
from app.db.tables import Agent
from app.domain.events import (
    AgentChanged,
    DefinitionChanged,
    DispatchWanted,
    LogAppended,
    RunTransitioned,
)
from app.scheduler.backfills import step_ended
from app.scheduler.group_runs import settle_ended
from app.scheduler.service import SchedulerService
from app.web.events import EventBus, publisher

_LIVE = (RunTransitioned, LogAppended, AgentChanged)


def wire_subscribers(
    engine: Engine,
    *,
    scheduler: SchedulerService | None = None,
    bus: EventBus | None = None,
    relay: Callable[[Sequence[Any]], None] | None = None,
    alerts: Callable[[list[Any]], None] | None = None,
) -> None:
    """Wire `engine`'s unit of work (replacing any earlier wiring): group settling always,
    and a subscriber for each part given."""
    _record_agent_writes()
    wiring = unit_of_work.wire(engine)
    wiring.before_commit(settle_ended)
    wiring.before_commit(step_ended)  # after settling: a group backfill counts group runs
    if bus is not None:
        wiring.subscribe("live pages", publisher(bus), *_LIVE)
    if relay is not None:
        wiring.subscribe("change feed", relay, *_LIVE)
    if alerts is not None:
        wiring.subscribe("alerts", endings_to(alerts), RunTransitioned)
    if scheduler is not None:
        wiring.subscribe("scheduler", scheduler.committed, DefinitionChanged, DispatchWanted)


_hooked = threading.Lock()
_hooked_done = False


def _record_agent_writes() -> None:
    """Agent rows are written on many of the hub's paths (hello, heartbeat, drain, lost):
    a mapper hook records each write as `AgentChanged`, installed once, from here."""
    global _hooked_done
    with _hooked:
        if _hooked_done:
            return
        event.listen(Agent, "after_insert", _agent_written)
        event.listen(Agent, "after_update", _agent_written)
        _hooked_done = True


def _agent_written(_mapper: Mapper[Any], _connection: Connection, target: Agent) -> None:
    session = object_session(target)
    if session is not None:
        unit_of_work.record(session, AgentChanged(target.name))
