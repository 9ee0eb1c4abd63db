"""Integrations and alert rules through the API: validation, secrets, roles, cascades."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select
from support import seed_user

from app.db.engine import session_scope
from app.db.tables import Integration
from app.secrets import decrypt_secret

API = "/api/v1"


def _webhook(api: TestClient, name: str = "hook", secret: str | None = "s3cret") -> int:
    body = {"name": name, "kind": "webhook", "config": {"url": "http://127.0.0.1:9/x"}}
    if secret:
        body["secret"] = secret
    response = api.post(f"{API}/integrations", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_a_secret_is_stored_encrypted_and_never_returned(
    api: TestClient, alert_engine: Engine, tmp_path: Path
) -> None:
    iid = _webhook(api)
    shown = api.get(f"{API}/integrations/{iid}").json()
    assert shown["has_secret"] is True and "secret" not in shown
    assert "s3cret" not in api.get(f"{API}/integrations").text
    with session_scope(alert_engine) as session:
        row = session.exec(select(Integration)).one()
    assert row.secret_encrypted and "s3cret" not in row.secret_encrypted
    assert decrypt_secret(row.secret_encrypted, tmp_path) == "s3cret"
    cleared = api.patch(f"{API}/integrations/{iid}", json={"secret": ""}).json()
    assert cleared["has_secret"] is False


def test_each_kind_checks_its_config(api: TestClient) -> None:
    bad = api.post(
        f"{API}/integrations",
        json={"name": "x", "kind": "webhook", "config": {"url": "ftp://nope"}},
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("config.url")
    mail = api.post(
        f"{API}/integrations",
        json={
            "name": "m",
            "kind": "email",
            "config": {
                "host": "smtp.example.com",
                "from": "almanac@example.com",
                "to": ["ops@example.com"],
            },
        },
    )
    assert mail.status_code == 201, mail.text
    assert mail.json()["config"]["from"] == "almanac@example.com"
    assert mail.json()["config"]["port"] == 25
    no_to = api.post(
        f"{API}/integrations",
        json={
            "name": "m2",
            "kind": "email",
            "config": {"host": "smtp.example.com", "from": "almanac@example.com"},
        },
    )
    assert no_to.status_code == 422 and "config.to" in no_to.json()["detail"]
    assert (
        api.post(
            f"{API}/integrations", json={"name": "m", "kind": "slack", "config": {}}
        ).status_code
        == 409
    )
    unknown = api.post(f"{API}/integrations", json={"name": "p", "kind": "pager"})
    assert unknown.status_code == 422


def test_integrations_are_for_admins(api: TestClient, alert_engine: Engine) -> None:
    operator = seed_user(alert_engine, "op", role="operator")
    headers = {"Authorization": f"Bearer {operator}"}
    assert api.get(f"{API}/integrations", headers=headers).status_code == 403
    assert (
        api.post(
            f"{API}/integrations",
            headers=headers,
            json={"name": "x", "kind": "slack", "config": {"url": "http://127.0.0.1:9"}},
        ).status_code
        == 403
    )


def test_rules_name_one_target_and_normalise_events(api: TestClient, alert_engine: Engine) -> None:
    iid = _webhook(api)
    tid = api.post(f"{API}/tasks", json={"name": "t", "command": "true"}).json()["tid"]
    gid = api.post(f"{API}/groups", json={"name": "g"}).json()["gid"]
    both = api.post(
        f"{API}/alerts", json={"task": tid, "group": gid, "events": ["failed"], "integration": iid}
    )
    assert both.status_code == 422 and "exactly one of task or group" in both.json()["detail"]
    late = api.post(
        f"{API}/alerts", json={"task": tid, "events": ["late start"], "integration": iid}
    )
    assert late.status_code == 422 and "late_minutes" in late.json()["detail"]
    bogus = api.post(
        f"{API}/alerts", json={"task": tid, "events": ["exploded"], "integration": iid}
    )
    assert bogus.status_code == 422 and bogus.json()["detail"].startswith("events.0")
    rule = api.post(
        f"{API}/alerts",
        json={
            "task": tid,
            "events": ["retries exhausted", "Late-Start", "failed"],
            "late_minutes": 5,
            "integration": iid,
        },
    )
    assert rule.status_code == 201, rule.text
    assert rule.json()["events"] == ["retries_exhausted", "late_start", "failed"]
    assert rule.json()["target_name"] == "t" and rule.json()["integration_name"] == "hook"
    on_group = api.post(
        f"{API}/alerts", json={"group": gid, "events": ["succeeded"], "integration": iid}
    ).json()
    assert [r["id"] for r in api.get(f"{API}/alerts", params={"group": gid}).json()] == [
        on_group["id"]
    ]
    paused = api.patch(f"{API}/alerts/{on_group['id']}", json={"active": False}).json()
    assert paused["active"] is False
    viewer = seed_user(alert_engine, "v", role="viewer")
    assert len(api.get(f"{API}/alerts", headers={"Authorization": f"Bearer {viewer}"}).json()) == 2
    assert (
        api.delete(
            f"{API}/alerts/{on_group['id']}", headers={"Authorization": f"Bearer {viewer}"}
        ).status_code
        == 403
    )


def test_rules_go_with_their_task_and_hold_their_integration(api: TestClient) -> None:
    iid = _webhook(api)
    tid = api.post(f"{API}/tasks", json={"name": "t", "command": "true"}).json()["tid"]
    rule = api.post(
        f"{API}/alerts", json={"task": tid, "events": ["failed"], "integration": iid}
    ).json()
    used = api.delete(f"{API}/integrations/{iid}")
    assert used.status_code == 409 and str(rule["id"]) in used.json()["detail"]
    assert api.delete(f"{API}/tasks/{tid}").status_code == 204
    assert api.get(f"{API}/alerts").json() == []
    assert api.delete(f"{API}/integrations/{iid}").status_code == 204


def test_the_test_endpoint_reports_an_unreachable_channel(api: TestClient) -> None:
    iid = _webhook(api, secret=None)
    result = api.post(f"{API}/integrations/{iid}/test").json()
    assert result["ok"] is False and result["error"]
