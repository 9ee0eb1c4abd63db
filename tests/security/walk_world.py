"""Fresh objects for each request of the route walk, made straight in the database (fast):
one per call, in the instance asked for, so a DELETE or a state change never spoils the next."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from run_moves import create_run_in
from sqlalchemy import Engine
from sqlmodel import SQLModel, select
from support import password_hash, seed_user

from app.db.engine import session_scope
from app.db.runs import create_run
from app.db.sync_tables import SyncSource
from app.db.tables import (
    Agent,
    AgentToken,
    ApiToken,
    AuditEvent,
    Calendar,
    DependencyEdge,
    Freeze,
    GroupDependency,
    GroupRun,
    Run,
    RunOutput,
    Task,
    TaskGroup,
    User,
)
from app.db.variable_set_tables import VariableSet
from app.domain.states import RunStatus, TriggerKind
from app.secrets import encrypt_secret
from app.security import hash_token, new_token

ROLES = ("viewer", "user", "operator", "admin", "superadmin")
OWN, OTHER = "default", "other"
PASSWORD = "Walk-Password-1"
FREEZE_DAY = date(2030, 1, 2)


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class World:
    engine: Engine
    data_dir: Path
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role in ROLES:
            self.tokens[role] = seed_user(
                self.engine, f"walk-{role}", role=role, password=PASSWORD, instances=[OWN]
            )
            self.sessions[role] = self.token_for(f"walk-{role}", kind="session")

    def _add(self, row: SQLModel) -> Any:
        with session_scope(self.engine) as session:
            session.add(row)
            session.flush()
            return row

    def now(self) -> datetime:
        return datetime.now(UTC)

    # -- accounts and tokens ------------------------------------------------------------

    def token_for(self, username: str, kind: str = "api") -> str:
        """A fresh token of an existing user."""
        token = new_token("alm")
        with session_scope(self.engine) as session:
            user = session.exec(select(User).where(User.username == username)).one()
            session.add(
                ApiToken(
                    user_id=user.id or 0,
                    name="walk",
                    kind=kind,
                    token_hash=hash_token(token),
                    created_at=self.now(),
                )
            )
        return token

    def fresh_user(self, role: str, instance: str = OWN) -> tuple[str, str]:
        """A new user of `role` and a token of theirs (for routes that change the caller)."""
        name = _uid("u")
        return name, seed_user(
            self.engine, name, role=role, password=PASSWORD, instances=[instance]
        )

    def target_user(self, instance: str, role: str = "viewer") -> str:
        user = self._add(
            User(
                username=_uid("target"),
                password_hash=password_hash(PASSWORD),
                role=role,
                instances=[instance],
                created_at=self.now(),
            )
        )
        return str(user.username)

    def user_token(self, instance: str) -> int:
        owner = self.target_user(instance)
        with session_scope(self.engine) as session:
            user = session.exec(select(User).where(User.username == owner)).one()
            row = ApiToken(
                user_id=user.id or 0,
                name="theirs",
                token_hash=hash_token(_uid("t")),
                created_at=self.now(),
            )
            session.add(row)
            session.flush()
            return row.id or 0

    def agent_token(self) -> int:
        row = self._add(
            AgentToken(name=_uid("agent"), token_hash=hash_token(_uid("a")), created_at=self.now())
        )
        return int(row.id)

    # -- definitions --------------------------------------------------------------------

    def task(self, instance: str, group: int | None = None) -> Task:
        task: Task = self._add(
            Task(
                name=_uid("task"),
                command="true",
                instance=instance,
                group_id=group,
                active=False,
                created_at=self.now(),
                updated_at=self.now(),
            )
        )
        return task

    def edited_task(self, instance: str) -> int:
        """A task with two definition versions: version 1 can be rolled back to."""
        tid = self.task(instance).id or 0
        with session_scope(self.engine) as session:
            row = session.get(Task, tid)
            assert row is not None
            row.description = "second version"
        return tid

    def edited_group(self, instance: str) -> int:
        gid = self.group(instance).id or 0
        with session_scope(self.engine) as session:
            row = session.get(TaskGroup, gid)
            assert row is not None
            row.description = "second version"
        return gid

    def version_of(self, kind: str, object_id: int) -> int:
        model = Task if kind == "task" else TaskGroup
        with session_scope(self.engine) as session:
            row = session.get(model, object_id)
            return row.version if row is not None else 0

    def frozen_task(self, instance: str) -> int:
        tid = self.task(instance).id or 0
        self._add(Freeze(task_id=tid, day=FREEZE_DAY, created_at=self.now()))
        return tid

    def group(self, instance: str) -> TaskGroup:
        group: TaskGroup = self._add(
            TaskGroup(
                name=_uid("group"),
                instance=instance,
                active=False,
                created_at=self.now(),
                updated_at=self.now(),
            )
        )
        return group

    def frozen_group(self, instance: str) -> int:
        gid = self.group(instance).id or 0
        self._add(Freeze(group_id=gid, day=FREEZE_DAY, created_at=self.now()))
        return gid

    def group_with_tasks(self, instance: str, edge: bool = False) -> tuple[int, int, int]:
        gid = self.group(instance).id or 0
        up, down = self.task(instance, gid).id or 0, self.task(instance, gid).id or 0
        if edge:
            self._add(DependencyEdge(group_id=gid, upstream_id=up, downstream_id=down))
        return gid, up, down

    def group_pair(self, instance: str, linked: bool = False) -> tuple[int, int]:
        """A group and another one it may wait for."""
        gid, upstream = self.group(instance).id or 0, self.group(instance).id or 0
        if linked:
            self._add(GroupDependency(group_id=gid, upstream_group_id=upstream))
        return gid, upstream

    def group_run(self, instance: str) -> int:
        gid = self.group(instance).id or 0
        row = self._add(
            GroupRun(
                group_id=gid,
                status="RUNNING",
                trigger_kind="manual",
                trigger_time=self.now(),
                created_at=self.now(),
                instance=instance,
            )
        )
        return int(row.id)

    def backfill(self, instance: str, status: str = "running") -> int:
        from app.db.backfill_tables import Backfill

        row = self._add(
            Backfill(
                task_id=self.task(instance).id,
                target_name=_uid("backfill"),
                start=date(2030, 1, 1),
                end=date(2030, 1, 2),
                mode="missing",
                order="oldest",
                status=status,
                instance=instance,
                created_by="walk",
                created_at=self.now(),
            )
        )
        return int(row.id)

    def pool(self, instance: str) -> str:
        from app.db.pool_tables import Pool

        row = self._add(Pool(name=_uid("pool"), instance=instance, slots=2))
        return str(row.name)

    def quota(self, instance: str) -> str:
        from app.db.pool_tables import InstanceQuota

        with session_scope(self.engine) as session:
            if session.get(InstanceQuota, instance) is None:
                session.add(InstanceQuota(instance=instance, max_runs=5))
        return instance

    def calendar(self) -> str:
        row = self._add(Calendar(name=_uid("cal"), created_at=self.now(), updated_at=self.now()))
        return str(row.name)

    def agent(self, draining: bool = False) -> str:
        from app.hub.fleet import DRAIN_KEY

        row = self._add(
            Agent(
                name=_uid("agent"),
                status="offline",
                created_at=self.now(),
                resources={DRAIN_KEY: True} if draining else {},
            )
        )
        return str(row.name)

    # -- runs ---------------------------------------------------------------------------

    def run(self, instance: str, status: RunStatus = RunStatus.ACTIVE) -> int:
        task = self.task(instance)
        with session_scope(self.engine) as session:
            run = create_run_in(
                session,
                status,
                at=self.now(),
                trigger_kind=TriggerKind.MANUAL,
                spec={"command": "true", "task_name": task.name},
                task=session.get(Task, task.id),
                created_by="walk",
            )
            return run.id or 0

    def run_with_output(self, instance: str) -> tuple[int, str]:
        run_id = self.run(instance, RunStatus.SUCCESS)
        name = "report.txt"
        path = self.data_dir / "outputs" / str(run_id) / "1" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"hello\n")
        self._add(RunOutput(run_id=run_id, attempt=1, name=name, size=6, created_at=self.now()))
        return run_id, name

    def batch(self, instance: str) -> str:
        """An adhoc batch of one ACTIVE run."""
        batch_id = uuid.uuid4().hex
        with session_scope(self.engine) as session:
            create_run(
                session,
                at=self.now(),
                status=RunStatus.ACTIVE,
                trigger_kind=TriggerKind.ADHOC,
                spec={"command": "true"},
                instance=instance,
                batch_id=batch_id,
                created_by="walk",
            )
        return batch_id

    def task_named(self, name: str) -> Task | None:
        with session_scope(self.engine) as session:
            return session.exec(select(Task).where(Task.name == name)).first()

    def task_row(self, tid: int) -> Task | None:
        with session_scope(self.engine) as session:
            return session.get(Task, tid)

    def runs_of(self, tid: int) -> int:
        with session_scope(self.engine) as session:
            return len(session.exec(select(Run.id).where(Run.task_id == tid)).all())

    # -- alert channels (made through the API as the superadmin) ------------------------

    def _as_root(self, path: str, body: dict[str, Any]) -> int:
        response = self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.tokens['superadmin']}"}
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def _root_sees(self, instances: list[str]) -> None:
        with session_scope(self.engine) as session:  # the superadmin sees only `default`
            root = session.exec(select(User).where(User.username == "walk-superadmin")).one()
            root.instances = instances

    def sync_source(self) -> tuple[str, str]:
        """A git sync source (name, webhook secret) whose repository does not exist: a pull
        is reported as failed and changes nothing."""
        self._root_sees(["*"])
        try:
            name = _uid("sync")
            response = self.client.post(
                "/api/v1/sync",
                json={"name": name, "url": str(self.data_dir / "no-repo"), "poll_seconds": None},
                headers={"Authorization": f"Bearer {self.tokens['superadmin']}"},
            )
            assert response.status_code == 201, response.text
            return name, str(response.json()["webhook_secret"])
        finally:
            self._root_sees([OWN])

    def variable_set(self, instance: str) -> str:
        """A variable set of `instance` (no secrets: a row needs no key ring)."""
        name = _uid("vars")
        self._add(VariableSet(name=name, instance=instance, variables={"A": "1"}))
        return name

    def integration(self, instance: str = OWN) -> int:
        """An integration of `instance` (the instances own their alert channels)."""
        self._root_sees(["*"])
        try:
            return self._as_root(
                "/api/v1/integrations",
                {
                    "name": _uid("hook"),
                    "kind": "webhook",
                    "secret": "s3cret-value",
                    "instance": instance,
                    "config": {"url": "http://127.0.0.1:9/hook", "timeout_seconds": 1},
                },
            )
        finally:
            self._root_sees([OWN])

    def sync_source(self) -> tuple[str, str]:
        """A git sync source (its repository does not exist: a pull reports it) and its
        webhook secret."""
        name, secret = _uid("sync"), _uid("hook-secret")
        self._add(
            SyncSource(
                name=name,
                url=str(self.data_dir / "no-such-repo.git"),
                run_as="walk-superadmin",
                webhook_secret_encrypted=encrypt_secret(secret, self.data_dir),
                poll_seconds=None,
            )
        )
        return name, secret

    def alert_rule(self, instance: str) -> int:
        integration = self.integration(instance)
        self._root_sees(["*"])
        try:
            return self._as_root(
                "/api/v1/alerts",
                {"task": self.task(instance).id, "events": ["failed"], "integration": integration},
            )
        finally:
            self._root_sees([OWN])

    def alert_rule_channel(self, rule_id: int) -> int:
        from app.db.alert_tables import AlertRule

        with session_scope(self.engine) as session:
            row = session.get(AlertRule, rule_id)
            assert row is not None
            return row.integration_id

    def unscoped(self, role: str, kind: str = "api") -> str:
        """A token (or session) of a user of `role` granted every instance (`*`)."""
        name = f"walk-{role}-all"
        if not self.exists(User, username=name):
            seed_user(self.engine, name, role=role, password=PASSWORD, instances=["*"])
        return self.token_for(name, kind=kind)

    def edit(self, table: type[SQLModel], key: int | None, **values: Any) -> None:
        """Changes a definition row as a write of its own (a new version of it)."""
        with session_scope(self.engine) as session:
            row = session.get(table, key)
            for name, value in values.items():
                setattr(row, name, value)

    def exists(self, table: type[SQLModel], **where: Any) -> bool:
        with session_scope(self.engine) as session:
            stmt = select(table)
            for name, value in where.items():
                stmt = stmt.where(getattr(table, name) == value)
            return session.exec(stmt).first() is not None

    def draining(self, name: str) -> bool:
        from app.hub.fleet import is_draining

        with session_scope(self.engine) as session:
            agent = session.exec(select(Agent).where(Agent.name == name)).one()
            return is_draining(agent)

    def password_hash_of(self, username: str) -> str:
        with session_scope(self.engine) as session:
            return session.exec(select(User.password_hash).where(User.username == username)).one()

    def audit_count(self) -> int:
        with session_scope(self.engine) as session:
            return len(session.exec(select(AuditEvent.id)).all())

    def run_status(self, run_id: int) -> str:
        with session_scope(self.engine) as session:
            run = session.get(Run, run_id)
            assert run is not None
            return run.status

    def run_name(self, run_id: int) -> str:
        with session_scope(self.engine) as session:
            run = session.get(Run, run_id)
            assert run is not None
            return str(run.spec["task_name"])
