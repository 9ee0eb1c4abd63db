"""Admin: users, agent tokens (shown once), API tokens and the audit log, through the API."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user
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
    assert "<th>Agent</th>" in page.text and 'value="db-01"' in page.text
    refused = web.post("/admin/agent-tokens", data={"name": "bad", "agent": "a/b"})
    assert json.loads(refused.headers["HX-Trigger"])["toast"]["kind"] == "error"
    assert "bad" not in {t["name"] for t in api.get("/api/v1/agents/tokens").json()}


def test_an_admin_changes_an_existing_tokens_scope_audited(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    web.post("/admin/agent-tokens", data={"name": "db hosts", "agent": "db-01"})
    [token] = api.get("/api/v1/agents/tokens").json()
    tid = token["id"]
    changed = web.post(f"/admin/agent-tokens/{tid}/scope", data={"agent": "db-02"})
    assert json.loads(changed.headers["HX-Trigger"])["toast"]["kind"] == ""
    assert f'id="agent-token-{tid}"' in changed.text and 'value="db-02"' in changed.text
    assert api.get("/api/v1/agents/tokens").json()[0]["agent"] == "db-02"
    [audit] = api.get("/api/v1/audit", params={"action": "agent_token.scope"}).json()["items"]
    assert (audit["before"]["agent"], audit["after"]["agent"]) == ("db-01", "db-02")
    assert audit["target_id"] == str(tid)
    # Through the API too; the same name again changes (and audits) nothing.
    patched = api.patch(f"/api/v1/agents/tokens/{tid}", json={"agent": "db-03"})
    assert patched.status_code == 200 and patched.json()["agent"] == "db-03"
    assert api.patch(f"/api/v1/agents/tokens/{tid}", json={"agent": "db-03"}).status_code == 200
    assert (
        len(api.get("/api/v1/audit", params={"action": "agent_token.scope"}).json()["items"]) == 2
    )
    # Bad input: a 4xx naming the field, on the page and in the API; nothing changed.
    refused = web.post(f"/admin/agent-tokens/{tid}/scope", data={"agent": "a/b"})
    assert json.loads(refused.headers["HX-Trigger"])["toast"]["kind"] == "error"
    assert 'id="admin-refusal"' in refused.text and "<b>agent</b>: " in refused.text
    for body in ({"agent": "a/b"}, {"agent": ""}, {}, {"agent": "x", "name": "y"}):
        answer = api.patch(f"/api/v1/agents/tokens/{tid}", json=body)
        assert answer.status_code == 422, body
        assert "agent" in answer.text or "name" in answer.text
    assert api.patch("/api/v1/agents/tokens/999", json={"agent": "x"}).status_code == 404
    assert api.get("/api/v1/agents/tokens").json()[0]["agent"] == "db-03"
    # A revoked token keeps its scope: a 409.
    web.post(f"/admin/agent-tokens/{tid}/revoke")
    gone = api.patch(f"/api/v1/agents/tokens/{tid}", json={"agent": "db-04"})
    assert gone.status_code == 409 and "revoked" in gone.text
    assert 'name="agent" value="db-03"' not in web.get("/admin?tab=agent-tokens").text


def test_only_an_admin_changes_a_tokens_scope(
    web: TestClient, api: TestClient, login: Login, web_app: FastAPI, web_engine: Engine
) -> None:
    tid = api.post("/api/v1/agents/tokens", json={"name": "gpu", "agent": "gpu-01"}).json()["id"]
    operator = login("operator")
    assert operator.post(f"/admin/agent-tokens/{tid}/scope", data={"agent": "x"}).status_code == 403
    client = TestClient(web_app)  # not entered: the app's lifespan runs once, under `api`
    client.headers["Authorization"] = f"Bearer {seed_user(web_engine, 'ops', role='operator')}"
    refused = client.patch(f"/api/v1/agents/tokens/{tid}", json={"agent": "x"})
    assert refused.status_code == 403
    assert api.get("/api/v1/agents/tokens").json()[0]["agent"] == "gpu-01"
    assert api.get("/api/v1/audit", params={"action": "agent_token.scope"}).json()["items"] == []


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
