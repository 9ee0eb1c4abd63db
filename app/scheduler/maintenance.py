"""The leader's maintenance pass: the two ways a run can get stuck, ended. An attempt no agent
acknowledged goes back for dispatch (or fails after the last try); the runs of an agent silent
past the heartbeat timeout fail `agent lost` (and retry by their task's rule)."""

from __future__ import annotations

import logging
from collections.abc import Set
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.db.tables import Agent
from app.scheduler.lifecycle import expire_dispatches, fail_runs_of_lost_agent
from app.settings import Settings

log = logging.getLogger("almanac.scheduler")


def maintenance_pass(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    leading_since: datetime,
    connected: Set[str],
) -> bool:
    """True when a run changed. `connected`: agents with a live connection to this server
    (never declared lost); `leading_since`: agents get a full timeout from then to find us."""
    timeout = timedelta(seconds=settings.heartbeat_timeout_seconds)
    changed = bool(
        expire_dispatches(session, now=now, deadline_seconds=settings.accept_deadline_seconds)
    )
    if now - leading_since < timeout:
        return changed
    silent = select(Agent).where(
        Agent.status != "offline", col(Agent.last_heartbeat) < now - timeout
    )
    for agent in session.exec(silent).all():
        if agent.name in connected:
            continue
        agent.status = "offline"
        changed |= bool(fail_runs_of_lost_agent(session, agent.name, now=now))
        log.warning("agent %s is offline (silent for %s)", agent.name, timeout)
    return changed
