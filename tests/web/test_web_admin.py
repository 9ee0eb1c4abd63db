"""Admin: users, agent tokens (shown once), API tokens and the audit log, through the API."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from web.web_helpers import Login

NEW_PASSWORD = "Temp-passphrase-0001"


def test_users_are_created_changed_and_deleted(web: TestClient, api: TestClient) -> None:
    page = web.get("/admin")
    assert page.template.name == "admin/page.html" and page.context["tab"] == "users"
    created = web.post(
        "/admin/users",
        data={
            "username": "dana",
            "password": NEW_PASSWORD,
            "role": "operator",
            "instances": "default, ops",
        },
    )
    assert json.loads(created.headers["HX-Trigger"])["toast"]["text"] == "User dana created"
    dana = api.get("/api/v1/users/dana").json()
    assert dana["role"] == "operator" and dana["instances"] == ["default", "ops"]
    assert dana["must_change_password"]
    web.post("/admin/users/dana", data={"role": "viewer"})
    web.post("/admin/users/dana", data={"disabled": "true"})
    dana = api.get("/api/v1/users/dana").json()
    assert dana["role"] == "viewer" and dana["disabled"]
    reset = web.post("/admin/users/dana/password", headers={"HX-Prompt": NEW_PASSWORD + "x"})
    assert "reset" in json.loads(reset.headers["HX-Trigger"])["toast"]["text"]
    weak = web.post("/admin/users", data={"username": "eve", "password": "short"})
    assert json.loads(weak.headers["HX-Trigger"])["toast"]["kind"] == "error"
    # ... and stays on the tab, beside the form, in plain words.
    assert 'id="admin-refusal"' in weak.text and "<b>password</b>: " in weak.text
    web.post("/admin/users/dana/delete")
    assert api.get("/api/v1/users/dana").status_code == 404


def test_agent_token_is_shown_once_then_revoked(web: TestClient) -> None:
    created = web.post("/admin/agent-tokens", data={"name": "gpu hosts"})
    token = created.context["created"]["token"]
    assert token in created.text and 'id="new-token"' in created.text
    listed = web.get("/admin?tab=agent-tokens", headers={"HX-Request": "true"})
    assert listed.template.name == "admin/_tab.html" and token not in listed.text
    [row] = listed.context["agent_tokens"]
    revoked = web.post(f"/admin/agent-tokens/{row['id']}/revoke")
    assert revoked.context["agent_tokens"][0]["revoked_at"] is not None


def test_an_agent_token_made_on_the_page_is_bound_to_the_agent_named(
    web: TestClient, api: TestClient
) -> None:
    web.post("/admin/agent-tokens", data={"name": "db hosts", "agent": "db-01"})
    web.post("/admin/agent-tokens", data={"name": "gpu-02"})
    bound = {t["name"]: t["agent"] for t in api.get("/api/v1/agents/tokens").json()}
    assert bound == {"db hosts": "db-01", "gpu-02": "gpu-02"}
    page = web.get("/admin?tab=agent-tokens")
    assert "<th>Agent</th>" in page.text and ">db-01</td>" in page.text
    refused = web.post("/admin/agent-tokens", data={"name": "bad", "agent": "a/b"})
    assert json.loads(refused.headers["HX-Trigger"])["toast"]["kind"] == "error"
    assert "bad" not in {t["name"] for t in api.get("/api/v1/agents/tokens").json()}


def test_api_tokens_and_audit_log(web: TestClient, api: TestClient) -> None:
    tokens = web.get("/admin?tab=tokens").context["tokens"]
    assert {t["kind"] for t in tokens} == {"api", "session"}
    web.post("/admin/agent-tokens", data={"name": "x"})
    audit = web.get("/admin?tab=audit&action=agent_token.*").context["audit"]
    assert audit["items"] and all(e["action"].startswith("agent_token") for e in audit["items"])
    everything = web.get("/admin?tab=audit").context["audit"]["items"]
    assert any(e["action"] == "agent_token.create" for e in everything)


def test_admin_pages_are_for_admins(login: Login) -> None:
    operator = login("operator")
    assert operator.get("/admin").status_code == 403
    assert "/admin" not in operator.get("/task-runs").text
