"""Each user picks the zone their pages show times in; every time says its zone and its UTC
instant on hover."""

from __future__ import annotations

from fastapi.testclient import TestClient
from web.web_helpers import Login


def test_a_viewer_sets_their_own_timezone_and_times_follow(login: Login, api: TestClient) -> None:
    viewer = login("viewer")
    form = viewer.get("/profile")
    assert form.status_code == 200
    assert 'option value="Asia/Tokyo"' in form.text
    saved = viewer.post(
        "/profile",
        data={"timezone": "Asia/Tokyo"},
        headers={"X-CSRF-Token": form.context["session"].csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    page = viewer.get("/profile?saved=1")
    assert "times are shown in Asia/Tokyo" in page.text
    # The hint's "now" is labelled JST, with its UTC instant on hover.
    assert "JST</time>" in page.text and ' UTC">' in page.text


def test_an_unknown_zone_is_refused_on_its_field(login: Login) -> None:
    viewer = login("viewer")
    form = viewer.get("/profile")
    refused = viewer.post(
        "/profile",
        data={"timezone": "Mars/Olympus"},
        headers={"X-CSRF-Token": form.context["session"].csrf},
    )
    assert refused.status_code == 422
    assert refused.context["error"] == "timezone: unknown timezone 'Mars/Olympus'"


def test_the_api_changes_only_your_own_timezone(api: TestClient) -> None:
    answer = api.patch("/api/v1/auth/me", json={"timezone": "Europe/Berlin"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["timezone"] == "Europe/Berlin"
    assert api.get("/api/v1/auth/me").json()["timezone"] == "Europe/Berlin"
    bad = api.patch("/api/v1/auth/me", json={"timezone": "Nowhere/Else"})
    assert bad.status_code == 422 and "timezone" in bad.json()["detail"]
    extra = api.patch("/api/v1/auth/me", json={"timezone": "UTC", "role": "superadmin"})
    assert extra.status_code == 422
