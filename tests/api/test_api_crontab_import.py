"""`POST /import/crontab`: a real 30-line crontab imports into tasks whose forecasts are what
cron would run (checked against an independent minute walk), a dry run stores nothing, an
untranslatable line refuses the whole import unless skipped, and only admins import."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from support import seed_user

from app.db.engine import make_engine

API = "/api/v1"
DATA = Path(__file__).parents[1] / "io" / "data"
AFTER = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
NAMES = {
    **{n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
    **{n: i + 1 for i, n in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])},
}  # fmt: skip


# An independent cron matcher, after Vixie cron's entry.c and cron.c.
def _value(text: str) -> int:
    return NAMES[text.lower()] if text.lower() in NAMES else int(text)


def _field(text: str, low: int, high: int) -> set[int]:
    found: set[int] = set()
    for part in text.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, b = span.split("-")
            first, last = _value(a), _value(b)
        else:
            first = _value(span)
            last = high if step else first
        found.update(range(first, last + 1, int(step or 1)))
    return found


def _walk(cron: str, zone: ZoneInfo, count: int) -> list[str]:
    """The first `count` fire instants after AFTER, minute by minute in local wall time."""
    minute, hour, dom, month, dow = MACROS.get(cron, cron).split()
    minutes, hours = _field(minute, 0, 59), _field(hour, 0, 23)
    doms, months = _field(dom, 1, 31), _field(month, 1, 12)
    dows = {d % 7 for d in _field(dow, 0, 7)}
    either = not (dom.startswith("*") or dow.startswith("*"))
    found: list[str] = []
    day = AFTER.astimezone(zone).date()
    while len(found) < count:
        by_dom, by_dow = day.day in doms, (day.weekday() + 1) % 7 in dows
        if day.month in months and ((by_dom or by_dow) if either else (by_dom and by_dow)):
            wall = datetime.combine(day, time(0, 0))
            for _ in range(24 * 60):
                if wall.hour in hours and wall.minute in minutes:
                    at = wall.replace(tzinfo=zone).astimezone(UTC)
                    if at > AFTER and len(found) < count:
                        found.append(at.isoformat().replace("+00:00", "Z"))
                wall += timedelta(minutes=1)
        day += timedelta(days=1)
    return found


def _body(text: str, **options: object) -> dict[str, object]:
    return {"text": text, **options}


def test_a_real_crontab_imports_into_tasks_that_fire_as_cron_would(api: TestClient) -> None:
    text = (DATA / "user.crontab").read_text()
    dry = api.post(f"{API}/import/crontab", params={"dry_run": True}, json=_body(text))
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] and not dry.json()["applied"]
    assert len(dry.json()["tasks"]) == 17 and dry.json()["untranslatable"] == []
    assert api.get(f"{API}/tasks").json() == []  # a dry run stores nothing
    done = api.post(f"{API}/import/crontab", json=_body(text, group="legacy"))
    assert done.status_code == 200, done.text
    assert done.json()["applied"]
    tasks = api.get(f"{API}/tasks").json()
    assert sorted(t["name"] for t in tasks) == sorted(t["name"] for t in dry.json()["tasks"])
    for task in tasks:
        assert task["labels"] == {"group": "legacy"} and task["next_fire_time"]
        schedule = task["schedule"]
        count = 2 if schedule["cron"] in ("@yearly", "@monthly", "0 0 1 * *") else 12
        forecast = api.get(
            f"{API}/tasks/{task['tid']}/forecast",
            params={"count": count, "after": AFTER.isoformat()},
        ).json()
        got = [o["at"] for o in forecast["occurrences"]]
        expected = _walk(schedule["cron"], ZoneInfo(schedule.get("timezone", "UTC")), count)
        assert got == expected, (task["name"], schedule)


def test_a_bad_line_refuses_the_whole_import_unless_skipped(api: TestClient) -> None:
    text = "0 1 * * * /bin/first\n@reboot /bin/at-boot\n0 2 * * * /bin/second\n"
    refused = api.post(f"{API}/import/crontab", json=_body(text))
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [
        {
            "item": "line 2",
            "field": "line",
            "problem": "schedule '@reboot': @reboot is not supported: it fires when a "
            "machine starts, and a schedule needs fire times",
        }
    ]
    assert api.get(f"{API}/tasks").json() == []
    dry = api.post(f"{API}/import/crontab", params={"dry_run": True}, json=_body(text)).json()
    assert [r["line"] for r in dry["untranslatable"]] == [2] and "refused" in dry["message"]
    skipped = api.post(f"{API}/import/crontab", json=_body(text, skip_untranslatable=True))
    assert skipped.status_code == 200 and skipped.json()["applied"]
    assert sorted(t["name"] for t in api.get(f"{API}/tasks").json()) == [
        "first",
        "second",
    ]
    # again: the names are taken, so new ones are made (nothing is overwritten)
    again = api.post(f"{API}/import/crontab", json=_body(text, skip_untranslatable=True))
    assert [t["name"] for t in again.json()["tasks"]] == ["first-2", "second-2"]


def test_bad_options_are_refused_naming_them(api: TestClient) -> None:
    text = "0 1 * * * /bin/fine\n0 2 * * * /bin/other\n"
    response = api.post(f"{API}/import/crontab", json=_body(text, prefix="a/b"))
    assert response.status_code == 422 and "prefix" in response.json()["detail"]
    empty = api.post(f"{API}/import/crontab", json=_body("# nothing\nA=1\n"))
    assert empty.status_code == 422 and "no job lines" in empty.json()["detail"]
    bad_zone = api.post(f"{API}/import/crontab", json=_body(text, timezone="Mars/Base"))
    assert bad_zone.status_code == 422 and "timezone" in bad_zone.json()["detail"]
    assert api.get(f"{API}/tasks").json() == []


def test_only_an_admin_of_the_instance_imports(api: TestClient, database_url: str) -> None:
    text = "0 1 * * * /bin/job\n"
    api_engine = make_engine(database_url)
    operator = seed_user(api_engine, "op", role="operator")
    denied = api.post(
        f"{API}/import/crontab",
        json=_body(text),
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert denied.status_code == 403
    scoped = seed_user(api_engine, "scoped", role="admin", instances=["default"])
    other = api.post(
        f"{API}/import/crontab",
        json=_body(text, instance="team-b"),
        headers={"Authorization": f"Bearer {scoped}"},
    )
    assert other.status_code == 422, other.text
    assert other.json()["errors"] == [
        {
            "item": "line 1",
            "field": "instance",
            "problem": "instance 'team-b' is not granted to you",
        }
    ]
    assert api.get(f"{API}/tasks").json() == []
