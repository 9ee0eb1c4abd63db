"""Freezes, run policies and alert rules called directly, as a page would call them: each
command checks the actor's role and scope itself, and audits in the actor's name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from support import migrated_sqlite

from app.context import AppContext
from app.db.engine import make_engine
from app.db.tables import AuditEvent, User
from app.errors import Forbidden, NotFound
from app.models.policy_schemas import PolicyBody
from app.models.schemas import FreezeCreate, TaskCreate
from app.server import create_app
from app.services import freezes, policies, tasks
from app.services.actor import Actor
from app.settings import Settings


@pytest.fixture
def context(tmp_path: Path) -> Iterator[AppContext]:
    engine = make_engine(migrated_sqlite(tmp_path / "almanac.db"))
    settings = Settings(data_dir=tmp_path, database_url=str(engine.url), local_agent=False)
    app = create_app(settings, engine=engine, start_scheduler=False)
    yield app.state.context
    engine.dispose()


def _actor(role: str, instances: list[str], source: str | None = None) -> Actor:
    name = f"{role}-{'-'.join(instances)}"
    return Actor(User(id=1, username=name, role=role, instances=instances), source)


def _task(context: AppContext, instance: str) -> int:
    body = TaskCreate.model_validate({"name": "job", "command": "true", "instance": instance})
    admin = _actor("admin", ["*"])
    return tasks.create_task(context.engine, actor=admin, now=context.clock.now(), body=body).tid


def _audits(context: AppContext, action: str) -> list[AuditEvent]:
    with Session(context.engine) as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action)
        return list(session.exec(stmt.order_by(col(AuditEvent.id))).all())


def test_a_freeze_is_refused_below_operator_and_outside_the_scope(context: AppContext) -> None:
    tid = _task(context, "red")
    body = FreezeCreate(date=date(2030, 1, 2), reason="audit")
    now = context.clock.now()
    with pytest.raises(Forbidden):
        freezes.freeze_task(
            context.engine, actor=_actor("user", ["red"]), now=now, tid=tid, body=body
        )
    with pytest.raises(NotFound):
        freezes.freeze_task(
            context.engine, actor=_actor("operator", ["blue"]), now=now, tid=tid, body=body
        )
    assert _audits(context, "task.freeze") == []

    operator = _actor("operator", ["red"], source="10.0.0.7")
    freezes.freeze_task(context.engine, actor=operator, now=now, tid=tid, body=body)
    with Session(context.engine) as session:
        listed = freezes.task_freezes(session, actor=_actor("viewer", ["red"]), tid=tid)
    assert [f.date for f in listed] == [date(2030, 1, 2)]
    [audit] = _audits(context, "task.freeze")
    assert (audit.actor, audit.source, audit.instance) == ("operator-red", "10.0.0.7", "red")


def test_an_agent_policy_is_changed_only_by_an_admin_of_every_instance(
    context: AppContext,
) -> None:
    body = PolicyBody(users=["runner"])
    now = context.clock.now()
    with pytest.raises(Forbidden, match="admin of every instance"):
        policies.put_policy(
            context.engine,
            actor=_actor("admin", ["red"]),
            now=now,
            kind="agent",
            name="a1",
            body=body,
        )
    with pytest.raises(NotFound):
        policies.put_policy(
            context.engine,
            actor=_actor("admin", ["red"]),
            now=now,
            kind="instance",
            name="blue",
            body=body,
        )
    saved = policies.put_policy(
        context.engine, actor=_actor("admin", ["*"]), now=now, kind="agent", name="a1", body=body
    )
    assert saved.stored and saved.policy is not None and saved.policy["users"] == ["runner"]
    [audit] = _audits(context, "policy.update")
    assert (audit.actor, audit.target_kind, audit.target_id) == ("admin-*", "agent_policy", "a1")
