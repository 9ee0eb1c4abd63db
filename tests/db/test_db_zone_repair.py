"""Migration 0022: stored schedules whose timezone is no longer accepted get their IANA
equivalent, or are paused (zone UTC, planned occurrence dropped) with an audit event that
says why; users' display zones likewise. And a group run can say why it was skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from support import migrated_sqlite

from app.bootstrap import alembic_config
from app.db.engine import make_engine

REPAIR = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision("0022")
assert REPAIR is not None
zones: Any = REPAIR.module


@pytest.mark.parametrize(
    ("stored", "accepted"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("US/Eastern", "US/Eastern"),  # a tzdata alias: accepted as it is
        ("posix/Europe/Berlin", "Europe/Berlin"),
        ("right/America/Chicago", "America/Chicago"),
        ("posixrules", "America/New_York"),
        ("localtime", "Asia/Tokyo"),  # the host's zone, here told
        ("Factory", None),
        ("posix/Nowhere/Land", None),
        ("Mars/Olympus", None),
    ],
)
def test_each_stored_zone_maps_to_its_iana_name_or_to_none(stored: str, accepted: str) -> None:
    assert zones.iana_equivalent(stored, "Asia/Tokyo") == accepted


def test_localtime_without_a_named_host_zone_has_no_equivalent(tmp_path: Path) -> None:
    copy = tmp_path / "localtime"
    copy.write_bytes(b"TZif")  # a copied file, not a link into a zoneinfo tree
    assert zones.host_zone(str(copy)) is None
    assert zones.iana_equivalent("localtime", None) is None


def _insert_task(connection: Any, name: str, schedule: dict[str, Any], **extra: Any) -> int:
    connection.execute(
        text(
            "INSERT INTO task (name, description, command, labels, gpus, mounts, env, active,"
            " retry_attempts, retry_delay_seconds, retry_exponential, concurrency, misfire,"
            " misfire_grace_seconds, misfire_max_replays, instance, schedule, schedules,"
            " blackouts) VALUES (:name, '', 'true', '{}', '[]', '[]', '{}', true, 0, 0, false,"
            " 'allow', 'run_once', 3600, 10, 'default', :schedule, '[]', :blackouts)"
        ),
        {
            "name": name,
            "schedule": json.dumps(schedule),
            "blackouts": json.dumps(extra.get("blackouts", [])),
        },
    )
    return int(connection.execute(text("SELECT max(id) FROM task")).scalar())


def test_the_upgrade_repairs_or_pauses_stored_schedules(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "almanac.db")
    config = alembic_config(url)
    command.downgrade(config, REPAIR.down_revision)  # type: ignore[arg-type]
    engine = make_engine(url)
    cron = {"kind": "cron", "cron": "0 6 * * *"}
    with engine.begin() as connection:
        kept = _insert_task(connection, "kept", {**cron, "timezone": "Europe/Berlin"})
        mapped = _insert_task(
            connection,
            "mapped",
            {**cron, "timezone": "posix/Europe/Berlin"},
            blackouts=[
                {
                    "name": "lunch",
                    "start": "12:00",
                    "end": "13:00",
                    "timezone": "right/Europe/Paris",
                }
            ],
        )
        paused = _insert_task(connection, "paused", {**cron, "timezone": "Factory"})
        connection.execute(
            text(
                "INSERT INTO run (task_id, occurrence_key, status, trigger_kind, attempt,"
                " agent_seq, spec, instance) VALUES (:tid, 'planned', 'IDLE', 'schedule', 1, 0,"
                " '{}', 'default')"
            ),
            {"tid": paused},
        )
        connection.execute(
            text(
                "INSERT INTO task_group (name, description, active, instance, schedule,"
                " schedules, blackouts, params, variable_sets, locks, pool_slots, priority)"
                " VALUES ('nightly', '', true, 'default', :schedule, '[]', '[]', '[]', '[]',"
                " '[]', 1, 0)"
            ),
            {"schedule": json.dumps({**cron, "timezone": "posixrules"})},
        )
        connection.execute(
            text(
                "INSERT INTO app_user (username, password_hash, role, instances, timezone,"
                " disabled, must_change_password, failed_logins) VALUES ('ann', 'x', 'viewer',"
                " '[\"default\"]', 'Factory', false, false, 0)"
            )
        )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        tasks = {
            row.id: (json.loads(row.schedule), json.loads(row.blackouts), bool(row.active))
            for row in connection.execute(text("SELECT id, schedule, blackouts, active FROM task"))
        }
        group_schedule = connection.execute(text("SELECT schedule FROM task_group")).scalar()
        group_zone = json.loads(group_schedule)
        idle = connection.execute(text("SELECT count(*) FROM run WHERE status = 'IDLE'")).scalar()
        user_zone = connection.execute(text("SELECT timezone FROM app_user")).scalar()
        audit = {
            (row.action, row.target_kind, row.target_id): row.detail
            for row in connection.execute(text("SELECT * FROM audit_event"))
        }
        reasons = connection.execute(text("SELECT reason FROM group_run")).all()
    engine.dispose()
    assert tasks[kept] == ({**cron, "timezone": "Europe/Berlin"}, [], True)
    assert tasks[mapped][0]["timezone"] == "Europe/Berlin" and tasks[mapped][2]
    assert tasks[mapped][1][0]["timezone"] == "Europe/Paris"
    assert tasks[paused][0]["timezone"] == "UTC" and tasks[paused][2] is False
    assert idle == 0  # the paused task's planned occurrence will not fire
    assert group_zone["timezone"] == "America/New_York"
    assert user_zone == "UTC"
    assert "'Factory' -> 'UTC'" in audit[("schedule.paused", "task", str(paused))]
    assert "enable it again" in audit[("schedule.paused", "task", str(paused))]
    assert ("schedule.timezone", "task", str(mapped)) in audit
    assert ("schedule.timezone", "group", "1") in audit
    assert not any(key[1:] == ("task", str(kept)) for key in audit)
    assert reasons == []  # the column exists
