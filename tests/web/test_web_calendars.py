"""Calendars: the list, a year view of closed days, and the admin's form."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from web.web_helpers import Login

from app.web.calendar_view import year_view

CALENDAR = {
    "name": "ops",
    "skip_weekends": True,
    "extra_dates": ["2026-12-24"],
    "working_dates": ["2026-12-26"],
}


def test_year_view_marks_why_each_day_is_closed(web: TestClient, api: TestClient) -> None:
    api.post("/api/v1/calendars", json=CALENDAR)
    page = web.get("/calendars/ops?year=2026")
    assert page.template.name == "calendars/page.html"
    assert page.context["panel"] == "calendars/_calendar.html"
    year = page.context["year"]
    december = year.months[11]
    days = {d.day: d for week in december.weeks for d in week if d}
    assert days[date(2026, 12, 24)].kind == "extra"
    assert days[date(2026, 12, 26)].kind == "working"  # a Saturday, open by exception
    assert days[date(2026, 12, 27)].kind == "weekend"
    assert days[date(2026, 12, 28)].kind == "open"
    assert december.closed == 8  # 7 weekend days + Christmas Eve
    assert 'title="2026-12-24 — closed: extra date"' in page.text
    nxt = web.get("/calendars/ops?year=2027", headers={"HX-Request": "true"})
    assert nxt.template.name == "calendars/_calendar.html" and nxt.context["year"].year == 2027
    assert web.get("/calendars").context["selected"] == "ops"


def test_holidays_of_a_country_are_named() -> None:
    view = year_view(
        2026,
        [
            {"date": "2026-01-01", "reason": "holiday: New Year's Day"},
            {"date": "2026-01-03", "reason": "weekend"},
        ],
        [],
    )
    assert view.holidays == [(date(2026, 1, 1), "New Year's Day")]
    assert view.months[0].weeks[0][3] is not None and view.months[0].weeks[0][3].kind == "holiday"
    assert view.months[0].weeks[0][0] is None  # 2026 starts on a Thursday
    assert view.closed == 2


def test_admin_creates_edits_and_deletes_through_the_form(web: TestClient, api: TestClient) -> None:
    assert web.get("/calendars/new").context["panel"] == "calendars/_form.html"
    created = web.post(
        "/calendars",
        data={
            "name": "plant",
            "country": "de",
            "skip_weekends": "on",
            "extra_dates": "2026-08-03\n2026-08-04",
        },
    )
    assert created.status_code == 204 and created.headers["HX-Redirect"] == "/calendars/plant"
    stored = api.get("/api/v1/calendars/plant").json()
    assert stored["country"] == "DE" and stored["extra_dates"] == ["2026-08-03", "2026-08-04"]
    refused = web.post("/calendars/plant", data={"extra_dates": "someday"})
    assert refused.status_code == 422 and refused.context["errors"]
    assert web.post("/calendars/plant", data={"country": "DE"}).status_code == 204
    assert api.get("/api/v1/calendars/plant").json()["skip_weekends"] is False
    assert web.post("/calendars/plant/delete").headers["HX-Redirect"] == "/calendars"
    assert api.get("/api/v1/calendars/plant").status_code == 404


def test_viewer_reads_but_cannot_edit(login: Login, api: TestClient) -> None:
    api.post("/api/v1/calendars", json=CALENDAR)
    viewer = login("viewer")
    page = viewer.get("/calendars/ops")
    assert page.status_code == 200 and "New calendar" not in page.text and "Edit" not in page.text
    assert viewer.post("/calendars", data={"name": "x"}).status_code == 403
