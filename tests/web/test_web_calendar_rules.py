"""The calendar year view shows why each day is closed or opened, and the calendars it
combines; the form sets categories, include and exclude."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient


def test_year_view_shows_reasons_and_combined_calendars(web: TestClient, api: TestClient) -> None:
    api.post("/api/v1/calendars", json={"name": "by", "country": "DE", "subdivision": "BY",
                                        "categories": ["catholic"]})  # fmt: skip
    api.post("/api/v1/calendars", json={"name": "saturdays", "extra_dates": ["2025-03-08"]})
    made = api.post(
        "/api/v1/calendars",
        json={"name": "desk", "skip_weekends": True, "include": ["by"], "exclude": ["saturdays"]},
    )
    assert made.status_code == 201, made.text
    page = web.get("/calendars/desk?year=2025")
    assert page.status_code == 200
    days = {d.day: d for m in page.context["year"].months for w in m.weeks for d in w if d}
    assert days[date(2025, 8, 15)].kind == "calendar"
    assert days[date(2025, 8, 15)].reason == "from calendar by: holiday: Assumption Day (catholic)"
    assert days[date(2025, 3, 8)].kind == "excluded"
    assert days[date(2025, 3, 9)].kind == "weekend"
    assert (date(2025, 8, 15), "Assumption Day (catholic) (from by)") in page.context[
        "year"
    ].holidays
    assert 'href="/calendars/by?year=2025"' in page.text
    assert 'href="/calendars/saturdays?year=2025"' in page.text
    assert "open: closed in excluded calendar saturdays (closed: extra date)" in page.text
    assert "Why each day is closed or opened" in page.text


def test_the_form_sets_categories_include_and_exclude(web: TestClient, api: TestClient) -> None:
    api.post("/api/v1/calendars", json={"name": "base", "skip_weekends": True})
    created = web.post(
        "/calendars",
        data={"name": "by", "country": "de", "subdivision": "BY", "categories": "Catholic, public",
              "include": "base"},
    )  # fmt: skip
    assert created.status_code == 204, created.text
    stored = api.get("/api/v1/calendars/by").json()
    assert stored["categories"] == ["catholic", "public"] and stored["include"] == ["base"]
    edit = web.get("/calendars/by/edit")
    assert edit.context["values"]["categories"] == "catholic, public"
    cycle = web.post("/calendars/base", data={"include": "by"})
    assert cycle.status_code == 422 and "base -&gt; by -&gt; base" in cycle.text
    bad = web.post("/calendars/by", data={"country": "DE", "categories": "sporty"})
    assert bad.status_code == 422 and "sporty" in bad.text
