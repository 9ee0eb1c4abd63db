"""Form fields ⇄ API payloads, error paths onto fields, and cron in plain words."""

from __future__ import annotations

import pytest

from app.web.cron_words import describe
from app.web.forms import (
    FormErrors,
    error_key,
    schedule_from_form,
    schedule_to_form,
    task_from_form,
    task_to_form,
)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("name", "name"),
        ("gpus.0", "gpus"),
        ("schedule.cron.cron", "sched_cron"),
        ("schedule.cron", "sched_cron"),
        ("schedule.times.times.0", "sched_times"),
        ("schedule.frequency.window.end", "sched_window_end"),
        ("body.schedule.once.at", "sched_at"),
        ("schedule.cron.timezone", "sched_timezone"),
        ("schedule", "sched_kind"),
    ],
)
def test_error_paths_land_on_form_fields(path: str, field: str) -> None:
    assert error_key(path) == field


def test_schedules_round_trip_through_the_form() -> None:
    for schedule in (
        {"kind": "cron", "cron": "30 8 * * 1-5", "timezone": "Europe/Berlin"},
        {
            "kind": "times",
            "times": ["09:00", "13:30"],
            "days": "first mon",
            "timezone": "UTC",
            "calendar": "de",
            "on_closed": "next_open_day",
        },
        {
            "kind": "frequency",
            "every_minutes": 15,
            "window": {"start": "08:00", "end": "18:00"},
            "days": "mon-fri",
            "timezone": "UTC",
            "start_date": "2026-01-01",
        },
        {"kind": "once", "at": "2026-12-24T18:00", "timezone": "UTC"},
    ):
        assert schedule_from_form(schedule_to_form(schedule)) == schedule
    assert schedule_from_form({"sched_kind": ""}) is None


def test_task_form_reads_every_field() -> None:
    task = {
        "name": "x",
        "command": "run",
        "description": "d",
        "target": "a1",
        "run_as_user": "svc",
        "image": "alpine",
        "memory": "1G",
        "workdir": "/w",
        "instance": "default",
        "concurrency": "queue",
        "misfire": "skip",
        "retry_attempts": 3,
        "retry_delay_seconds": 5.0,
        "misfire_grace_seconds": 60.0,
        "misfire_max_replays": 10,
        "cpus": 1.5,
        "max_run_seconds": 600.0,
        "gpu_count": None,
        "numa_node": None,
        "group": 4,
        "gpus": [0, 1],
        "mounts": ["/a:/b:ro"],
        "env": {"K": "v"},
        "labels": {"zone": "eu"},
        "active": True,
        "retry_exponential": True,
        "params": [{"name": "region", "type": "choice", "choices": ["EU"], "default": "EU"}],
        "schedule": {
            "kind": "cron",
            "cron": "0 1 * * *",
            "timezone": "UTC",
            "dst_fold": "both",
            "dst_interval": "wall_clock",
        },
        "schedules": [
            {"kind": "cron", "cron": "0 18 * * 1-5", "timezone": "UTC"},
            {"kind": "times", "times": ["12:00"], "timezone": "Europe/Paris"},
        ],
        "blackouts": [{"name": "year end", "start_date": "2026-12-24", "end_date": "2027-01-02"}],
    }
    values = task_to_form(task)
    assert values["extra_schedules"].splitlines()[0] == "0 18 * * 1-5"
    assert task_from_form(values) == task


def test_extra_schedules_and_blackouts_are_lines_of_the_form() -> None:
    values = {
        "name": "x",
        "sched_kind": "cron",
        "sched_cron": "0 8 * * *",
        "sched_timezone": "Europe/London",
        "extra_schedules": "0 18 * * 1-5\n\n",
        "blackouts": '{"name": "nights", "start": "22:00", "end": "06:00"}',
    }
    payload = task_from_form(values)
    assert payload["schedules"] == [
        {"kind": "cron", "cron": "0 18 * * 1-5", "timezone": "Europe/London"}
    ]
    assert payload["blackouts"] == [{"name": "nights", "start": "22:00", "end": "06:00"}]
    with pytest.raises(FormErrors) as caught:
        task_from_form({**values, "blackouts": "nights 22:00-06:00"})
    assert caught.value.errors == {"blackouts": "line 1: not a JSON object"}
    assert error_key("schedules[1].cron") == "extra_schedules"
    assert error_key("blackouts.0.name") == "blackouts"


def test_task_form_names_what_it_cannot_read() -> None:
    with pytest.raises(FormErrors) as refused:
        task_from_form(
            {
                "name": "x",
                "cpus": "many",
                "gpus": "0, a",
                "env": "novalue",
                "sched_kind": "frequency",
                "sched_every": "soon",
            }
        )
    assert set(refused.value.errors) == {"cpus", "gpus", "env", "sched_every"}


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("30 8 * * 1-5", "At 08:30, Monday through Friday"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("0 9,13 * * *", "At 09:00 and 13:00, every day"),
        ("0 0 1 * *", "At 00:00, on day 1 of the month"),
        ("*/5 9-17 * * mon-fri", "Every 5 minutes from 09:00 to 17:59, Monday through Friday"),
        ("0 8 * 1,6 0", "At 08:00, on Sunday, in January and June"),
        ("@daily", "At 00:00, every day"),
        ("0 0 12 ? * MON-FRI", "At 12:00, Monday through Friday"),
        ("0 0 12 ? * 2", "At 12:00, on Monday"),  # Quartz: 1 = Sunday
        ("*/10 * * * * *", "Every 10 seconds"),
        ("0 0 L * *", "At 00:00, on the last day of the month"),
        ("0 0 15W * *", "At 00:00, on the weekday nearest day 15"),
        ("0 0 * * 5L", "At 00:00, on the last Friday of the month"),
        ("0 0 * * 1#2", "At 00:00, on the second Monday of the month"),
        ("0 30 9 ? * 6#3 2026-2028", "At 09:30, on the third Friday of the month, in 2026-2028"),
    ],
)
def test_cron_in_plain_words(expression: str, words: str) -> None:
    assert describe(expression) == words


def test_cron_words_refuse_an_invalid_expression() -> None:
    with pytest.raises(ValueError, match="minute"):
        describe("61 * * * *")
