"""The Alerts screen: rules for everyone to read and operators to change, integrations for
admins with write-only secrets, each enforcing roles and instance scopes like the API."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user
from web.web_helpers import Login, sign_in

SECRET = "s3cr3t-signing-key"


def _arrange(web: TestClient, api: TestClient) -> tuple[int, int, int]:
    """A webhook integration (with a secret) and a task in each of two instances."""
    made = web.post(
        "/alerts/integrations",
        data={
            "name": "hook",
            "kind": "webhook",
            "config": '{"url": "https://example.com/hook"}',
            "secret": SECRET,
        },
    )
    assert made.status_code == 303, made.text
    channel = api.get("/api/v1/integrations").json()[0]
    assert channel["has_secret"] is True
    mine = api.post("/api/v1/tasks", json={"name": "load", "command": "true"}).json()["tid"]
    other = api.post(
        "/api/v1/tasks", json={"name": "ops-job", "command": "true", "instance": "ops"}
    ).json()["tid"]
    return channel["id"], mine, other


def test_rules_and_integrations_are_made_changed_and_deleted(
    web: TestClient, api: TestClient
) -> None:
    channel, tid, _ = _arrange(web, api)
    page = web.get("/alerts").text
    assert "hook" in page and SECRET not in page and ">set<" in page
    created = web.post(
        "/alerts/rules",
        data={"target": f"task:{tid}", "integration": str(channel), "events": ["failed"]},
    )
    assert created.status_code == 303, created.text
    rule = api.get("/api/v1/alerts").json()[0]
    assert rule["task"] == tid and rule["events"] == ["failed"] and rule["active"] is False
    changed = web.post(
        f"/alerts/rules/{rule['id']}",
        data={
            "integration": str(channel),
            "events": ["failed", "late_start"],
            "late_minutes": "15",
            "active": "on",
        },
    )
    assert changed.status_code == 303, changed.text
    rule = api.get(f"/api/v1/alerts/{rule['id']}").json()
    assert rule["events"] == ["failed", "late_start"] and rule["late_minutes"] == 15
    # Still used by the rule: said on the page, nothing deleted.
    used = web.post(f"/alerts/integrations/{channel}/delete")
    assert used.status_code == 409 and "used by alert rules" in used.text
    # The secret is replaced only when one is typed; a rename keeps it.
    renamed = web.post(
        f"/alerts/integrations/{channel}",
        data={"name": "hook2", "config": '{"url": "https://example.com/h2"}', "secret": ""},
    )
    assert renamed.status_code == 303
    assert api.get(f"/api/v1/integrations/{channel}").json()["has_secret"] is True
    assert web.post(f"/alerts/rules/{rule['id']}/delete").status_code == 303
    assert web.post(f"/alerts/integrations/{channel}/delete").status_code == 303
    assert api.get("/api/v1/alerts").json() == [] and api.get("/api/v1/integrations").json() == []


def test_a_refused_rule_names_every_field_at_once(web: TestClient, api: TestClient) -> None:
    _arrange(web, api)
    refused = web.post("/alerts/rules", data={"target": "", "late_minutes": "soon"})
    assert refused.status_code == 422
    html = refused.text.split('id="new-rule"')[1]
    for field, words in [
        ("target", "choose a task or a group"),
        ("integration", "choose an integration"),
        ("late_minutes", "must be a number of minutes"),
    ]:
        assert re.search(rf'id="err-{field}">{words}<', html), field
    bad_config = web.post(
        "/alerts/integrations",
        data={"name": "x", "kind": "webhook", "config": '{"url": "ftp://x"}', "secret": SECRET},
    )
    assert bad_config.status_code == 422 and SECRET not in bad_config.text
    assert "must be" in bad_config.text.split('id="new-integration"')[1]


def test_viewers_read_only_and_scoped_users_see_their_instances(
    web: TestClient,
    api: TestClient,
    login: Login,
    web_app: FastAPI,
    web_engine: Engine,
) -> None:
    channel, tid, other = _arrange(web, api)
    for target in (tid, other):
        api.post(
            "/api/v1/alerts",
            json={"task": target, "integration": channel, "events": ["failed"]},
        ).raise_for_status()
    viewer = login("viewer")
    page = viewer.get("/alerts")
    assert page.status_code == 200 and "New alert rule" not in page.text
    assert "Integrations" not in page.text and "ops-job" in page.text
    refused = viewer.post(
        "/alerts/rules",
        data={"target": f"task:{tid}", "integration": str(channel), "events": ["failed"]},
    )
    assert refused.status_code == 403
    assert viewer.post("/alerts/integrations", data={"name": "x"}).status_code == 403
    assert len(api.get("/api/v1/alerts").json()) == 2

    seed_user(web_engine, "scoped", role="operator", instances=["default"])
    scoped = TestClient(web_app, follow_redirects=False)
    sign_in(scoped, "scoped")
    shown = scoped.get("/alerts").text
    assert "load" in shown and "ops-job" not in shown
    ops_rule = next(r for r in api.get("/api/v1/alerts").json() if r["task"] == other)
    assert scoped.post(f"/alerts/rules/{ops_rule['id']}/delete").status_code == 404
    assert len(api.get("/api/v1/alerts").json()) == 2
