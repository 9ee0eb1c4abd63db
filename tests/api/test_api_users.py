"""Users, passwords, tokens and who may manage whom, through the REST API (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col

import app.security
from app.db.engine import session_scope
from app.db.tables import ApiToken

GOOD = "Correct-Horse-9"
OTHER = "Battery-Staple-7"


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """argon2 with the cheapest parameters: the rules under test do not depend on its cost."""
    monkeypatch.setattr(app.security, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    yield


def make_user(
    api: TestClient,
    username: str,
    role: str = "viewer",
    *,
    instances: list[str] | None = None,
    must_change: bool = False,
) -> dict[str, Any]:
    response = api.post(
        "/api/v1/users",
        json={
            "username": username,
            "password": GOOD,
            "role": role,
            "instances": instances or ["default"],
            "must_change_password": must_change,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def login(api: TestClient, username: str, password: str = GOOD) -> dict[str, Any]:
    response = api.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        headers={"Authorization": ""},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Short-1", "at least 10"),
        ("abcdefghijkl", "two kinds"),
        ("123456789012", "two kinds"),
        ("Carol.Jones", "username"),
    ],
)
def test_weak_passwords_are_refused_naming_the_field(
    api: TestClient, password: str, why: str
) -> None:
    response = api.post("/api/v1/users", json={"username": "carol.jones", "password": password})
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("password:") and why in response.json()["detail"]
    assert api.get("/api/v1/users/carol.jones").status_code == 404


def test_create_read_update_delete(api: TestClient) -> None:
    created = make_user(api, "carol", "operator", instances=["default", "ops"])
    assert created["role"] == "operator" and created["instances"] == ["default", "ops"]
    assert "password_hash" not in created and "password" not in created
    assert [u["username"] for u in api.get("/api/v1/users").json()] == ["admin", "carol"]
    assert (
        api.post("/api/v1/users", json={"username": "carol", "password": GOOD}).status_code == 409
    )
    patched = api.patch("/api/v1/users/carol", json={"timezone": "Europe/Berlin"})
    assert patched.status_code == 200 and patched.json()["timezone"] == "Europe/Berlin"
    bad = api.patch("/api/v1/users/carol", json={"timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and "timezone" in bad.json()["detail"]
    assert api.patch("/api/v1/users/carol", json={"role": "emperor"}).status_code == 422
    assert (
        api.post("/api/v1/users", json={"username": "x; rm -rf /", "password": GOOD}).status_code
        == 422
    )
    assert api.delete("/api/v1/users/carol").status_code == 204
    assert api.get("/api/v1/users/carol").status_code == 404


def test_a_forced_password_change_blocks_everything_else_until_done(api: TestClient) -> None:
    make_user(api, "dave", "operator", must_change=True)
    session = login(api, "dave")
    assert session["must_change_password"] is True
    token = session["access_token"]
    refused = api.get("/api/v1/tasks", headers=as_(token))
    assert refused.status_code == 403 and "password change required" in refused.json()["detail"]
    assert api.get("/api/v1/auth/me", headers=as_(token)).json()["must_change_password"] is True
    wrong = api.post(
        "/api/v1/auth/password",
        headers=as_(token),
        json={"current_password": "nope-nope-1", "password": OTHER},
    )
    assert wrong.status_code == 422 and "current_password" in wrong.json()["detail"]
    weak = api.post(
        "/api/v1/auth/password",
        headers=as_(token),
        json={"current_password": GOOD, "password": "dave"},
    )
    assert weak.status_code == 422 and weak.json()["detail"].startswith("password:")
    changed = api.post(
        "/api/v1/auth/password",
        headers=as_(token),
        json={"current_password": GOOD, "password": OTHER},
    )
    assert changed.status_code == 204, changed.text
    assert api.get("/api/v1/tasks", headers=as_(token)).status_code == 200
    assert login(api, "dave", OTHER)["must_change_password"] is False
    refused_old = api.post("/api/v1/auth/token", json={"username": "dave", "password": GOOD})
    assert refused_old.status_code == 401


def test_changing_ones_password_ends_the_other_sessions(api: TestClient) -> None:
    make_user(api, "erin")
    first, second = login(api, "erin")["access_token"], login(api, "erin")["access_token"]
    assert (
        api.post(
            "/api/v1/auth/password",
            headers=as_(first),
            json={"current_password": GOOD, "password": OTHER},
        ).status_code
        == 204
    )
    assert api.get("/api/v1/auth/me", headers=as_(first)).status_code == 200
    assert api.get("/api/v1/auth/me", headers=as_(second)).status_code == 401


@pytest.mark.parametrize(
    "change", [{"role": "viewer"}, {"disabled": True}, {"instances": ["elsewhere"]}, "reset"]
)
def test_a_change_of_rights_ends_sessions_and_tokens_at_once(api: TestClient, change: Any) -> None:
    make_user(api, "frank", "operator")
    session = login(api, "frank")["access_token"]
    named = api.post("/api/v1/tokens", json={"name": "ci"}, headers=as_(session)).json()["token"]
    assert api.get("/api/v1/tasks", headers=as_(named)).status_code == 200
    if change == "reset":
        response = api.post("/api/v1/users/frank/password", json={"password": OTHER})
    else:
        response = api.patch("/api/v1/users/frank", json=change)
    assert response.status_code in (200, 204), response.text
    for token in (session, named):
        assert api.get("/api/v1/tasks", headers=as_(token)).status_code == 401


def test_a_timezone_change_keeps_sessions(api: TestClient) -> None:
    make_user(api, "gina")
    token = login(api, "gina")["access_token"]
    assert api.patch("/api/v1/users/gina", json={"timezone": "Asia/Tokyo"}).status_code == 200
    assert api.get("/api/v1/auth/me", headers=as_(token)).json()["timezone"] == "Asia/Tokyo"


def test_an_admin_manages_only_weaker_accounts(api: TestClient) -> None:
    make_user(api, "boss", "superadmin", instances=["*"])
    make_user(api, "root2", "admin", instances=["*"])
    make_user(api, "ann", "admin", instances=["*"])
    admin = as_(login(api, "ann")["access_token"])
    assert (
        api.post(
            "/api/v1/users",
            headers=admin,
            json={"username": "x2", "password": GOOD, "role": "admin"},
        ).status_code
        == 403
    )
    assert (
        api.patch("/api/v1/users/boss", headers=admin, json={"timezone": "UTC"}).status_code == 403
    )
    assert api.delete("/api/v1/users/root2", headers=admin).status_code == 403
    assert (
        api.post(
            "/api/v1/users/root2/password", headers=admin, json={"password": OTHER}
        ).status_code
        == 403
    )
    assert (
        api.post(
            "/api/v1/users",
            headers=admin,
            json={"username": "olga", "password": GOOD, "role": "operator"},
        ).status_code
        == 201
    )
    assert api.patch("/api/v1/users/olga", headers=admin, json={"role": "admin"}).status_code == 403
    assert api.patch("/api/v1/users/olga", headers=admin, json={"role": "user"}).status_code == 200
    # a superadmin may
    assert api.patch("/api/v1/users/olga", json={"role": "admin"}).status_code == 200
    assert api.delete("/api/v1/users/root2").status_code == 204


def test_nobody_locks_themselves_out(api: TestClient) -> None:
    assert api.patch("/api/v1/users/admin", json={"role": "viewer"}).status_code == 409
    assert api.patch("/api/v1/users/admin", json={"disabled": True}).status_code == 409
    assert api.delete("/api/v1/users/admin").status_code == 409
    assert api.get("/api/v1/auth/me").json()["role"] == "superadmin"


def test_an_admin_grants_only_instances_it_holds_and_sees_only_their_users(api: TestClient) -> None:
    make_user(api, "ivy", "admin", instances=["default"])
    make_user(api, "outsider", "viewer", instances=["other"])
    admin = as_(login(api, "ivy")["access_token"])
    for instances in (["*"], ["other"], ["default", "other"]):
        response = api.post(
            "/api/v1/users",
            headers=admin,
            json={"username": "newbie", "password": GOOD, "instances": instances},
        )
        assert response.status_code == 403, instances
    assert (
        api.post(
            "/api/v1/users",
            headers=admin,
            json={"username": "newbie", "password": GOOD, "instances": ["default"]},
        ).status_code
        == 201
    )
    assert "outsider" not in [u["username"] for u in api.get("/api/v1/users", headers=admin).json()]
    assert api.get("/api/v1/users/outsider", headers=admin).status_code == 404
    assert (
        api.patch("/api/v1/users/outsider", headers=admin, json={"disabled": True}).status_code
        == 404
    )
    assert (
        api.get("/api/v1/users", headers=as_(login(api, "outsider")["access_token"])).status_code
        == 403
    )


def test_personal_tokens_are_shown_once_expire_and_revoke(api: TestClient) -> None:
    make_user(api, "hank", "user")
    hank = as_(login(api, "hank")["access_token"])
    created = api.post("/api/v1/tokens", headers=hank, json={"name": "ci", "expires_in_days": 7})
    assert created.status_code == 201
    token = created.json()
    assert token["token"].startswith("alm_") and token["expires_at"]
    listed = api.get("/api/v1/tokens", headers=hank).json()
    assert {t["name"] for t in listed} == {"login", "ci"}
    assert all("token" not in t and t["username"] == "hank" for t in listed)
    assert api.get("/api/v1/tokens?all=true", headers=hank).status_code == 403
    everyone = api.get("/api/v1/tokens?all=true").json()
    assert {t["username"] for t in everyone} == {"admin", "hank"}
    mine = api.get("/api/v1/tokens").json()
    assert {t["username"] for t in mine} == {"admin"}
    # another user's token does not exist for hank; his own he revokes
    admin_token_id = mine[0]["id"]
    assert api.delete(f"/api/v1/tokens/{admin_token_id}", headers=hank).status_code == 404
    assert api.get("/api/v1/auth/me", headers=as_(token["token"])).status_code == 200
    assert api.delete(f"/api/v1/tokens/{token['id']}", headers=hank).status_code == 204
    assert api.get("/api/v1/auth/me", headers=as_(token["token"])).status_code == 401
    assert api.get("/api/v1/auth/me", headers=hank).status_code == 200
    audit = api.get("/api/v1/audit", params={"action": "token.*"}).json()["items"]
    assert [(e["action"], e["actor"], e["target_id"]) for e in audit] == [
        ("token.revoke", "hank", str(token["id"])),
        ("token.create", "hank", str(token["id"])),
    ]
    assert all("token" not in (e["after"] or {}) for e in audit)


def test_an_expired_token_is_refused(api: TestClient) -> None:
    token = api.post("/api/v1/tokens", json={"name": "short", "expires_in_days": 1}).json()
    assert api.get("/api/v1/auth/me", headers=as_(token["token"])).status_code == 200
    engine = api.app.state.context.engine  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        session.exec(
            update(ApiToken)
            .where(col(ApiToken.id) == token["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    refused = api.get("/api/v1/auth/me", headers=as_(token["token"]))
    assert refused.status_code == 401 and refused.json()["detail"] == "token expired"
    for bad in (0, 1001):
        assert (
            api.post("/api/v1/tokens", json={"name": "x", "expires_in_days": bad * 10}).status_code
            == 422
        )


def test_logout_ends_the_token(api: TestClient) -> None:
    token = login(api, "admin", "test-admin-password-1")["access_token"]
    assert api.post("/api/v1/auth/logout", headers=as_(token)).status_code == 204
    assert api.get("/api/v1/auth/me", headers=as_(token)).status_code == 401
