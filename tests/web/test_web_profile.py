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


def test_until_a_user_chooses_pages_follow_the_browsers_zone(login: Login, api: TestClient) -> None:
    viewer = login("viewer")
    viewer.cookies.set("almanac_tz", "America/New_York")
    page = viewer.get("/profile")
    assert page.context["session"].zone == "America/New_York"
    assert "This browser's zone (America/New_York)" in page.text
    assert "EST</time>" in page.text or "EDT</time>" in page.text
    assert api.get("/api/v1/users/viewer").json()["timezone_chosen"] is False
    # A cookie naming no IANA zone is ignored: the user's own zone (UTC) holds.
    for forged in ("localtime", "Mars/Olympus", "../../etc/passwd"):
        viewer.cookies.set("almanac_tz", forged)
        assert viewer.get("/profile").context["session"].zone == "UTC"
    viewer.cookies.set("almanac_tz", "America/New_York")
    csrf = page.context["session"].csrf
    chosen = viewer.post(
        "/profile", data={"timezone": "Asia/Tokyo"}, headers={"X-CSRF-Token": csrf}
    )
    assert chosen.status_code == 303
    assert viewer.get("/profile").context["session"].zone == "Asia/Tokyo"  # chosen beats browser
    assert api.get("/api/v1/users/viewer").json()["timezone_chosen"] is True
    # Choosing "this browser's zone" again drops the choice.
    unchosen = viewer.post("/profile", data={"timezone": ""}, headers={"X-CSRF-Token": csrf})
    assert unchosen.status_code == 303
    assert viewer.get("/profile").context["session"].zone == "America/New_York"
