"""Helpers for the web tests: sign in through the form like a person does."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from support import ADMIN_PASSWORD

Login = Callable[[str], TestClient]


def sign_in(client: TestClient, username: str, password: str = ADMIN_PASSWORD) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "login_token": token.group(1),
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/task-runs").text)
    assert csrf is not None
    client.headers["X-CSRF-Token"] = csrf.group(1)
    return csrf.group(1)
