"""Calendar categories, include and exclude travel in the document by name: export -> import
-> export is identical, and a file naming an unknown calendar or closing a cycle is refused."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

API = "/api/v1"


def _import(api: TestClient, body: str | dict[str, Any], **params: Any) -> Any:
    content = json.dumps(body) if isinstance(body, dict) else body
    return api.post(
        f"{API}/import", content=content, params=params,
        headers={"content-type": "application/json"},
    )  # fmt: skip


def _calendars() -> list[dict[str, Any]]:
    return [
        {"name": "by", "country": "DE", "subdivision": "BY", "categories": ["public", "catholic"]},
        {"name": "saturdays", "extra_dates": ["2026-03-07"]},
        {"name": "desk", "include": ["by"], "exclude": ["saturdays"], "skip_weekends": True},
    ]


def test_new_fields_round_trip_identically(api: TestClient) -> None:
    report = _import(api, {"format": "almanac/v1", "calendars": _calendars()})
    assert report.status_code == 200, report.text
    first = api.get(f"{API}/export").text
    desk = {c["name"]: c for c in json.loads(first)["calendars"]}["desk"]
    assert desk["include"] == ["by"] and desk["exclude"] == ["saturdays"]
    by = {c["name"]: c for c in json.loads(first)["calendars"]}["by"]
    assert by["categories"] == ["catholic", "public"]
    again = _import(api, first)
    assert again.json()["summary"]["update"] == 0, again.text
    assert api.get(f"{API}/export").text == first
    closed = api.get(f"{API}/calendars/desk/closed", params={"year": 2025}).json()
    reasons = {d["date"]: d["reason"] for d in closed}
    assert reasons["2025-08-15"] == "from calendar by: holiday: Assumption Day (catholic)"
    closed = api.get(f"{API}/calendars/desk/closed", params={"year": 2026}).json()
    reasons = {d["date"]: d["reason"] for d in closed}
    assert reasons["2026-08-15"] == "weekend"  # a Saturday: the calendar's own rule speaks first
    assert "2026-03-07" not in reasons  # closed in the excluded calendar: open here


def test_unknown_references_bad_categories_and_cycles_are_refused(api: TestClient) -> None:
    calendars = _calendars()
    calendars[2]["include"] = ["by", "nope"]
    calendars[0]["categories"] = ["school", "sporty"]
    calendars[1]["include"] = ["desk"]  # desk excludes saturdays, which would include desk
    response = _import(api, {"format": "almanac/v1", "calendars": calendars})
    assert response.status_code == 422, response.text
    errors = {(e["field"], e["problem"]) for e in response.json()["errors"]}
    assert ("include", "unknown calendar 'nope'") in errors
    assert any(f == "categories" and "'sporty'" in p for f, p in errors)
    assert any(f == "include" and "saturdays -> desk -> saturdays" in p for f, p in errors)
    assert api.get(f"{API}/calendars").json() == []
