"""Alembic owns the schema: upgrade and downgrade work, and the models match the migrations."""

from __future__ import annotations

import json
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import app.db.pool_tables
import app.db.tables  # noqa: F401
from app.bootstrap import alembic_config
from app.db.engine import make_engine

EXPECTED_TABLES = {
    "calendar",
    "task_group",
    "task",
    "dependency_edge",
    "run",
    "run_event",
    "log_chunk",
    "agent",
    "agent_token",
    "app_user",
    "api_token",
    "freeze",
    "group_run",
    "group_dependency",
    "run_output",
    "audit_event",
    "integration",
    "pool",
    "instance_quota",
}


def test_upgrade_creates_every_table_and_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    assert EXPECTED_TABLES <= tables
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    engine = make_engine(database_url)
    assert not EXPECTED_TABLES & set(inspect(engine).get_table_names())
    command.upgrade(config, "head")
    assert EXPECTED_TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_sqlite_runs_in_wal_mode(sqlite_engine) -> None:  # type: ignore[no-untyped-def]
    with sqlite_engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"


def test_upgrading_from_the_first_release_keeps_the_data(database_url: str) -> None:
    """0001 is the first released schema: a database made by it upgrades to head intact."""
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    command.upgrade(config, "0001")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO task (name, description, command, labels, gpus, mounts, env, active, "
            "retry_attempts, retry_delay_seconds, retry_exponential, concurrency, misfire, "
            "misfire_grace_seconds, misfire_max_replays, instance) VALUES ('kept', '', 'true', "
            "'{}', '[]', '[]', '{}', true, 0, 0, false, 'allow', 'run_once', 3600, 10, "
            "'default')"
        )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        names = connection.exec_driver_sql("SELECT name FROM task").scalars().all()
    engine.dispose()
    assert names == ["kept"]


def test_calendars_no_path_can_carry_are_renamed_with_their_schedules(database_url: str) -> None:
    """Before 0008 names like `a/b` or `..` were stored and then unreachable at
    /calendars/{name}: they are renamed, and the schedules naming them follow."""
    config = alembic_config(database_url)
    command.downgrade(config, "0007")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        for name in ("a/b", "a-b", "..", "fine"):
            connection.execute(
                text(
                    "INSERT INTO calendar (name, description, skip_weekends,"
                    " extra_dates, working_dates) VALUES (:n, '', false,"
                    " '[]', '[]')"
                ),
                {"n": name},
            )
        connection.execute(
            text(
                "INSERT INTO task (name, description, command, labels, gpus, mounts, env, active,"
                " retry_attempts, retry_delay_seconds, retry_exponential, concurrency, misfire,"
                " misfire_grace_seconds, misfire_max_replays, instance, schedule) VALUES ('t', '',"
                " 'true', '{}', '[]', '[]', '{}', true, 0, 0, false, 'allow', 'run_once', 3600,"
                " 10, 'default', :s)"
            ),
            {"s": '{"kind": "times", "times": ["06:00"], "calendar": "a/b"}'},
        )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        names = set(connection.execute(text("SELECT name FROM calendar")).scalars())
        schedule = connection.execute(text("SELECT schedule FROM task")).scalar()
    engine.dispose()
    assert names == {"a-b-2", "a-b", "calendar-dotdot", "fine"}
    assert (json.loads(schedule) if isinstance(schedule, str) else schedule)["calendar"] == "a-b-2"


def test_run_control_flags_move_out_of_the_spec_and_back(database_url: str) -> None:
    """0009 turns the spec's `_dispatches` and `_ignore_upstreams` into run columns; the
    downgrade puts them back."""
    config = alembic_config(database_url)
    command.downgrade(config, "0008")
    engine = make_engine(database_url)
    specs = {
        "counted": {"command": "true", "_dispatches": 2, "_approved": "ab"},
        "forced": {"command": "true", "_ignore_upstreams": True},
        "plain": {"command": "true"},
    }
    with engine.begin() as connection:
        for key, spec in specs.items():
            connection.execute(
                text(
                    "INSERT INTO run (occurrence_key, status, trigger_kind, attempt, agent_seq,"
                    " spec, instance) VALUES (:k, 'ACTIVE', 'manual', 1, 0, :s, 'default')"
                ),
                {"k": key, "s": json.dumps(spec)},
            )

    def rows() -> dict[str, tuple[Any, ...]]:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT * FROM run ORDER BY id")).mappings()
            return {
                r["occurrence_key"]: (
                    json.loads(r["spec"]) if isinstance(r["spec"], str) else r["spec"],
                    r.get("dispatches"),
                    None if r.get("ignore_upstreams") is None else bool(r["ignore_upstreams"]),
                )
                for r in found
            }

    command.upgrade(config, "head")
    assert rows() == {
        "counted": ({"command": "true", "_approved": "ab"}, 2, False),
        "forced": ({"command": "true"}, 0, True),
        "plain": ({"command": "true"}, 0, False),
    }
    command.downgrade(config, "0008")
    assert rows() == {key: (spec, None, None) for key, spec in specs.items()}
    command.upgrade(config, "head")
    engine.dispose()
