"""Calendar categories and combinations through the API: Bavaria's catholic holidays,
include (union) and exclude (difference) against an independent computation, cycles,
deletion of a combined calendar, and the year preview."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import holidays
from fastapi.testclient import TestClient

API = "/api/v1"


def _create(api: TestClient, **fields: Any) -> dict[str, Any]:
    response = api.post(f"{API}/calendars", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _closed(api: TestClient, name: str, year: int = 2026) -> dict[str, str]:
    response = api.get(f"{API}/calendars/{name}/closed", params={"year": year})
    assert response.status_code == 200, response.text
    return {d["date"]: d["reason"] for d in response.json()}


def _year(year: int = 2026) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]


def test_bavaria_catholic_closes_assumption_while_public_does_not(api: TestClient) -> None:
    # The library itself: Assumption is in Bavaria's "catholic" category, not in "public".
    assert date(2026, 8, 15) not in holidays.country_holidays("DE", subdiv="BY", years=2026)
    assert date(2026, 8, 15) in holidays.country_holidays(
        "DE", subdiv="BY", years=2026, categories=("catholic",)
    )
    _create(api, name="by-public", country="DE", subdivision="BY")
    _create(
        api, name="by-catholic", country="DE", subdivision="BY", categories=["public", "catholic"]
    )
    assert "2026-08-15" not in _closed(api, "by-public")
    catholic = _closed(api, "by-catholic")
    assert catholic["2026-08-15"] == "holiday: Assumption Day (catholic)"
    assert catholic["2026-01-06"] == "holiday: Epiphany"  # public ones stay, unmarked
    # A task on the catholic calendar does not fire on 15 August 2026 (a Saturday: use 2025,
    # a Friday, to be sure it is the holiday and not a weekend that closes it).
    task = api.post(
        f"{API}/tasks",
        json={
            "name": "report",
            "command": "true",
            "schedule": {
                "kind": "cron",
                "cron": "0 9 * * *",
                "timezone": "Europe/Berlin",
                "calendar": "by-catholic",
            },
        },
    )
    assert task.status_code == 201, task.text
    forecast = api.get(
        f"{API}/tasks/{task.json()['tid']}/forecast",
        params={"count": 3, "after": "2025-08-14T12:00:00+00:00"},
    ).json()
    assert [o["at"] for o in forecast["occurrences"]] == [
        "2025-08-16T07:00:00Z",
        "2025-08-17T07:00:00Z",
        "2025-08-18T07:00:00Z",
    ]


def test_categories_are_checked_against_the_country(api: TestClient) -> None:
    bad = api.post(
        f"{API}/calendars", json={"name": "x", "country": "GB", "categories": ["catholic"]}
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("categories:")
    assert "public" in bad.json()["detail"]
    alone = api.post(f"{API}/calendars", json={"name": "x", "categories": ["public"]})
    assert alone.status_code == 422 and alone.json()["detail"].startswith("categories:")
    _create(api, name="us", country="US")
    patched = api.patch(f"{API}/calendars/us", json={"categories": ["bank"]})
    assert patched.status_code == 422 and patched.json()["detail"].startswith("categories:")
    assert api.get(f"{API}/calendars/us").json()["categories"] == []
    assert [c["name"] for c in api.get(f"{API}/calendars").json()] == ["us"]


def test_union_and_difference_match_an_independent_computation(api: TestClient) -> None:
    saturdays = [d for d in _year() if d.weekday() == 5 and d.month in (3, 9)]
    _create(api, name="us-federal", country="US", skip_weekends=True)
    half = {date(2026, 11, 27), date(2026, 12, 24)}  # NYSE half days, written by hand
    _create(api, name="half-days", extra_dates=[d.isoformat() for d in half])
    _create(api, name="working-saturdays", extra_dates=[d.isoformat() for d in saturdays])
    combined = _create(
        api, name="desk", include=["us-federal", "half-days"], exclude=["working-saturdays"]
    )
    assert combined["include"] == ["us-federal", "half-days"]
    federal = holidays.country_holidays("US", years=2026)
    expected = {
        d
        for d in _year()
        if (d in federal or d.weekday() >= 5 or d in half) and d not in set(saturdays)
    }
    closed = _closed(api, "desk")
    assert {date.fromisoformat(d) for d in closed} == expected
    assert closed["2026-12-25"] == "from calendar us-federal: holiday: Christmas Day"
    assert closed["2026-12-24"] == "from calendar half-days: closed: extra date"
    assert "2026-03-07" not in closed  # a working Saturday


def test_cycles_are_refused_with_their_path(api: TestClient) -> None:
    _create(api, name="a")
    _create(api, name="b", include=["a"])
    _create(api, name="c", exclude=["b"])
    response = api.patch(f"{API}/calendars/a", json={"include": ["c"]})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "include: calendars would form a cycle: a -> c -> b -> a"
    itself = api.post(f"{API}/calendars", json={"name": "d", "include": ["d"]})
    assert itself.status_code == 422 and "d -> d" in itself.json()["detail"]
    unknown = api.post(f"{API}/calendars", json={"name": "e", "exclude": ["nope"]})
    assert unknown.json()["detail"] == "exclude: unknown calendar 'nope'"
    both = api.post(f"{API}/calendars", json={"name": "f", "include": ["a"], "exclude": ["a"]})
    assert both.status_code == 422 and both.json()["detail"].startswith("exclude:")
    assert api.get(f"{API}/calendars/a").json()["include"] == []


def test_a_calendar_combined_into_another_cannot_be_deleted(api: TestClient) -> None:
    _create(api, name="base", skip_weekends=True)
    _create(api, name="desk", include=["base"])
    assert api.get(f"{API}/calendars/base").json()["used_by"] == ["calendar desk"]
    refused = api.delete(f"{API}/calendars/base")
    assert refused.status_code == 409 and "calendar desk" in refused.json()["detail"]
    assert api.delete(f"{API}/calendars/desk").status_code == 204
    assert api.delete(f"{API}/calendars/base").status_code == 204


def test_editing_an_included_calendar_replans_tasks_on_the_combined_one(api: TestClient) -> None:
    _create(api, name="base")
    _create(api, name="desk", include=["base"])
    task = api.post(
        f"{API}/tasks",
        json={
            "name": "t",
            "command": "true",
            "schedule": {"kind": "times", "times": ["09:00"], "calendar": "desk"},
        },
    ).json()
    first = task["next_fire_time"]
    assert api.patch(f"{API}/calendars/base", json={"extra_dates": [first[:10]]}).status_code == 200
    replanned = api.get(f"{API}/tasks/{task['tid']}").json()["next_fire_time"]
    assert replanned > first and not replanned.startswith(first[:10])


def test_year_preview_gives_every_closed_date_with_its_reason(api: TestClient) -> None:
    _create(api, name="saturdays", extra_dates=["2026-03-07"])
    _create(
        api,
        name="munich",
        country="DE",
        subdivision="BY",
        categories=["catholic"],
        skip_weekends=True,
        extra_dates=["2026-12-31"],
        working_dates=["2026-01-06"],
        exclude=["saturdays"],
    )
    preview = api.get(f"{API}/calendars/munich/preview", params={"year": 2026})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    closed = {d["date"]: d for d in body["closed"]}
    opened = {d["date"]: d for d in body["opened"]}
    assert (
        closed["2026-08-15"]["kind"] == "holiday" and closed["2026-08-15"]["category"] == "catholic"
    )
    assert closed["2026-12-31"]["kind"] == "extra_date"
    assert closed["2026-01-03"] == {
        "date": "2026-01-03",
        "kind": "weekend",
        "reason": "weekend",
        "category": None,
        "calendar": None,
    }
    assert opened["2026-01-06"]["kind"] == "working_date"
    assert (
        opened["2026-03-07"]["kind"] == "excluded"
        and opened["2026-03-07"]["calendar"] == "saturdays"
    )
    assert body["exclude"] == ["saturdays"] and body["open_days"] + body["closed_days"] == 365
    assert body["closed_days"] == len(body["closed"])
    assert api.get(f"{API}/calendars/nope/preview", params={"year": 2026}).status_code == 404
