"""Sign in, sessions stored hashed, CSRF on every state-changing request, sign out."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select
from support import ADMIN_PASSWORD
from web.web_helpers import Login, sign_in

from app.db.engine import session_scope
from app.db.tables import ApiToken, User
from app.secrets import KEY_ENV, derived_key
from app.security import SESSION_COOKIE, hash_token


def _login_token(client: TestClient) -> str:
    found = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
    assert found is not None
    return found.group(1)


def test_pages_send_the_anonymous_to_the_login_form(anonymous: TestClient) -> None:
    response = anonymous.get("/task-runs?status=FAILED")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Ftask-runs%3Fstatus%3DFAILED"
    fragment = anonymous.get("/task-runs", headers={"HX-Request": "true"})
    assert fragment.status_code == 401
    assert fragment.headers["HX-Redirect"].startswith("/login?next=")


def test_login_form_renders_with_its_own_csrf_token(anonymous: TestClient) -> None:
    response = anonymous.get("/login?next=/agents")
    assert response.template.name == "login.html"
    assert response.context["next"] == "/agents"
    assert response.context["login_token"] == response.cookies["almanac_login"]


def test_wrong_password_is_refused_with_one_message(anonymous: TestClient) -> None:
    token = _login_token(anonymous)
    for username in ("admin", "nobody"):
        response = anonymous.post(
            "/login", data={"username": username, "password": "wrong", "login_token": token}
        )
        assert response.status_code == 401
        assert response.context["error"] == "Wrong username or password."
        assert SESSION_COOKIE not in response.cookies


def test_login_without_the_form_token_is_refused(anonymous: TestClient) -> None:
    anonymous.get("/login")
    response = anonymous.post(
        "/login", data={"username": "admin", "password": ADMIN_PASSWORD, "login_token": "forged"}
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies


def test_session_cookie_is_httponly_lax_and_stored_hashed(
    anonymous: TestClient, web_engine: Engine
) -> None:
    response = anonymous.post(
        "/login",
        data={
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "login_token": _login_token(anonymous),
            "next": "//evil.example/x",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"  # never off-site
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    token = response.cookies[SESSION_COOKIE]
    with session_scope(web_engine) as session:
        rows = session.exec(select(ApiToken).where(ApiToken.kind == "session")).all()
    assert [r.token_hash for r in rows] == [hash_token(token)]
    assert rows[0].expires_at is not None


def test_cookie_is_secure_over_https(web_app: FastAPI, api_token: str) -> None:
    client = TestClient(web_app, base_url="https://testserver", follow_redirects=False)
    response = client.post(
        "/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "login_token": _login_token(client)},
    )
    assert "Secure" in response.headers["set-cookie"]


def test_an_api_token_is_not_a_session(anonymous: TestClient, api_token: str) -> None:
    anonymous.cookies.set(SESSION_COOKIE, api_token)
    assert anonymous.get("/task-runs").status_code == 303


def test_state_changes_need_the_csrf_token(login: Login) -> None:
    client = login("superadmin")
    csrf = client.headers.pop("X-CSRF-Token")
    refused = client.post("/logout")
    assert refused.status_code == 403
    assert client.get("/task-runs").status_code == 200  # still signed in
    assert client.post("/logout", data={"csrf_token": "x" * 64}).status_code == 403
    accepted = client.post("/logout", data={"csrf_token": csrf})
    assert accepted.status_code == 303 and accepted.headers["location"] == "/login"


def test_the_csrf_token_is_keyed_with_the_servers_secret(login: Login, tmp_path: Path) -> None:
    """Knowing how the token is made (the session cookie and the code) is not enough: one
    keyed with anything but this server's secret key is refused."""
    client = login("superadmin")
    session = client.cookies[SESSION_COOKIE]
    client.headers.pop("X-CSRF-Token")
    for key in (b"almanac-csrf", derived_key(tmp_path / "other-server", "csrf")):
        forged = hmac.new(key, session.encode(), hashlib.sha256).hexdigest()
        assert client.post("/logout", data={"csrf_token": forged}).status_code == 403
    assert client.get("/task-runs").status_code == 200  # still signed in


def test_replicas_sharing_a_secret_key_derive_the_same_keys(tmp_path: Path) -> None:
    environ = {KEY_ENV: Fernet.generate_key().decode()}
    first = derived_key(tmp_path / "one", "csrf", environ)
    assert derived_key(tmp_path / "two", "csrf", environ) == first
    assert derived_key(tmp_path / "one", "other", environ) != first
    assert derived_key(tmp_path / "one", "csrf", {KEY_ENV: Fernet.generate_key().decode()}) != first


def test_logout_revokes_the_session(login: Login, web_engine: Engine) -> None:
    client = login("superadmin")
    cookie = client.cookies[SESSION_COOKIE]
    assert client.post("/logout").status_code == 303
    client.cookies.set(SESSION_COOKIE, cookie)  # a copy kept by an attacker stays useless
    assert client.get("/task-runs").status_code == 303
    with session_scope(web_engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(cookie))).one()
    assert row.revoked_at is not None


def test_each_role_signs_in(login: Login) -> None:
    viewer = login("viewer")
    page = viewer.get("/task-runs")
    assert page.context["session"].user.role == "viewer"
    assert not page.context["session"].can_operate
    assert "/adhoc" not in page.text and "/admin" not in page.text


def test_signed_in_visitor_skips_the_login_form(web: TestClient) -> None:
    response = web.get("/login?next=/task-runs")
    assert response.status_code == 303 and response.headers["location"] == "/task-runs"


def test_sign_in_helper_returns_csrf(web_app: FastAPI, api_token: str) -> None:
    assert len(sign_in(TestClient(web_app, follow_redirects=False), "admin")) == 64


def test_failed_sign_ins_slow_the_account_down(anonymous: TestClient, web_engine: Engine) -> None:
    token = _login_token(anonymous)
    answers = [
        anonymous.post(
            "/login", data={"username": "admin", "password": "nope", "login_token": token}
        ).context["error"]
        for _ in range(3)
    ]
    assert answers == ["Wrong username or password."] * 3
    slowed = anonymous.post(
        "/login", data={"username": "admin", "password": ADMIN_PASSWORD, "login_token": token}
    )
    assert slowed.status_code == 429 and "try again in" in slowed.context["error"]
    assert slowed.headers["retry-after"] == "1"
    with session_scope(web_engine) as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
    assert admin.failed_logins == 3 and admin.locked_until is not None


def test_a_forced_password_change_comes_first(login: Login, web_engine: Engine) -> None:
    client = login("viewer")
    with session_scope(web_engine) as session:
        user = session.exec(select(User).where(User.username == "viewer")).one()
        user.must_change_password = True
    page = client.get("/task-runs")
    assert page.status_code == 303 and page.headers["location"] == "/password"
    assert client.get("/password").template.name == "password.html"
    mismatch = client.post(
        "/password",
        data={
            "current_password": ADMIN_PASSWORD,
            "password": "N3w-passphrase-long",
            "confirm": "other",
        },
    )
    assert mismatch.status_code == 422 and "differ" in mismatch.context["error"]
    changed = client.post(
        "/password",
        data={
            "current_password": ADMIN_PASSWORD,
            "password": "N3w-passphrase-long!",
            "confirm": "N3w-passphrase-long!",
        },
    )
    assert changed.status_code == 303, changed.text
    assert client.get("/task-runs").status_code == 200
