"""Names the forms offer to pick from: calendars and agents (shared by every instance)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.db.tables import Agent, Calendar
from app.services.actor import Actor


def calendar_names(session: Session, *, actor: Actor) -> list[str]:
    return list(session.exec(select(Calendar.name).order_by(col(Calendar.name))).all())


def agent_names(session: Session, *, actor: Actor) -> list[str]:
    return list(session.exec(select(Agent.name).order_by(col(Agent.name))).all())
