"""A server app with the loops stepped by hand, a fake agent, and a group with a holiday
calendar, for backfill tests (injected clock: no waiting)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import col, select

from app.clock import FrozenClock
from app.context import AppContext
from app.db.backfill_tables import Backfill
from app.db.engine import session_scope
from app.db.groups import add_edge, create_group
from app.db.tables import Calendar, GroupRun, Run, Task, User
from app.domain.dag import Edge
from app.hub.fake_agent import FakeAgent, agent_token
from app.models.backfill_schemas import BackfillCreate, BackfillPublic
from app.scheduler.service import SchedulerService
from app.services import backfills
from app.services.actor import Actor

WEEKDAYS_DE = {
    "kind": "times",
    "times": ["09:00"],
    "days": "mon-fri",
    "timezone": "Europe/Berlin",
    "calendar": "de",
}


def actor(
    role: str = "operator", name: str | None = None, instances: list[str] | None = None
) -> Actor:
    user = User(username=name or role, password_hash="-", role=role, instances=instances or ["*"])
    return Actor(user)


@dataclass
class World:
    app: FastAPI
    engine: Engine
    clock: FrozenClock
    scheduler: SchedulerService
    agents: list[FakeAgent] = field(default_factory=list)

    async def agent(self, name: str = "fake") -> FakeAgent:
        context: AppContext = self.app.state.context
        token = agent_token(self.engine, name, self.clock.now())
        agent = FakeAgent(self.app, context.hub, token=token, name=name, clock=self.clock)
        self.agents.append(agent)
        await agent.connect()
        return agent

    def group(self, name: str = "nightly", tasks: tuple[str, ...] = ("load", "sum", "mail")) -> int:
        """A group with a chain of tasks (load -> sum -> mail) on weekdays through the German
        calendar (weekends and holidays closed)."""
        with session_scope(self.engine) as session:
            if session.exec(select(Calendar).where(Calendar.name == "de")).first() is None:
                session.add(Calendar(name="de", country="DE", skip_weekends=True))
                session.flush()
            group = create_group(
                session, {"name": name, "schedule": WEEKDAYS_DE}, now=self.clock.now()
            )
            ids = []
            for task_name in tasks:
                task = Task(
                    name=f"{name}-{task_name}", command="true", group_id=group.id, target="fake"
                )
                session.add(task)
                session.flush()
                ids.append(task.id or 0)
            for up, down in zip(ids, ids[1:], strict=False):
                add_edge(session, group, Edge(up, down, "success"))
            return group.id or 0

    def task(
        self,
        name: str = "daily",
        schedule: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None,
    ) -> int:
        with session_scope(self.engine) as session:
            task = Task(
                name=name,
                command="true",
                target="fake",
                schedule=schedule or WEEKDAYS_DE,
                params=params or [],
            )
            if session.exec(select(Calendar).where(Calendar.name == "de")).first() is None:
                session.add(Calendar(name="de", country="DE", skip_weekends=True))
            session.add(task)
            session.flush()
            return task.id or 0

    def backfill(
        self,
        *,
        role: str = "operator",
        task_id: int | None = None,
        group_id: int | None = None,
        **body: Any,
    ) -> BackfillPublic:
        return backfills.start_backfill(
            self.engine,
            actor=actor(role),
            now=self.clock.now(),
            body=BackfillCreate.model_validate(body),
            confirm_over=1000,
            task_id=task_id,
            group_id=group_id,
        )

    def read(self, backfill_id: int) -> BackfillPublic:
        with session_scope(self.engine) as session:
            return backfills.read_backfill(session, actor=actor(), backfill_id=backfill_id)

    def status(self, backfill_id: int) -> str:
        with session_scope(self.engine) as session:
            row = session.get(Backfill, backfill_id)
            assert row is not None
            return row.status

    def group_runs(self, gid: int) -> list[GroupRun]:
        with session_scope(self.engine) as session:
            found = session.exec(
                select(GroupRun).where(GroupRun.group_id == gid).order_by(col(GroupRun.id))
            ).all()
            for row in found:
                session.expunge(row)
            return list(found)

    def runs(self, **where: Any) -> list[Run]:
        with session_scope(self.engine) as session:
            stmt = select(Run).order_by(col(Run.id))
            for key, value in where.items():
                stmt = stmt.where(getattr(Run, key) == value)
            found = session.exec(stmt).all()
            for row in found:
                session.expunge(row)
            return list(found)

    async def step(self, agent: FakeAgent, *, exit_code: int | dict[date, int] = 0) -> list[int]:
        """One round: the backfill pass, a dispatch pass, then every run the agent holds
        ends (exit code per business date when a dict). Returns the runs finished."""
        now = self.clock.now()
        self.scheduler.backfill_once(now)
        await self.scheduler.dispatch_once(now)
        await agent.settle()
        done = []
        for run in self.runs(status="RUNNING"):
            code = (
                exit_code
                if isinstance(exit_code, int)
                else exit_code.get(run.business_date or date.min, 0)
            )
            await agent.finish(run.id or 0, exit_code=code)
            done.append(run.id or 0)
        return done


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)
