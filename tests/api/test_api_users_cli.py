"""`almanac user|token|audit` and `almanac run approve|reject` against a live server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import LiveServer, start_live_server
from typer.testing import CliRunner

from app.cli.main import cli

GOOD = "Correct-Horse-9"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path / "data", local_agent=False)
    try:
        yield live
    finally:
        live.stop()
        live.engine.dispose()


def _almanac(server: LiveServer, *args: str, token: str | None = None) -> str:
    result = CliRunner().invoke(
        cli, list(args), env={"ALMANAC_URL": server.url, "ALMANAC_TOKEN": token or server.token}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_users_tokens_and_audit_from_the_command_line(server: LiveServer) -> None:
    _almanac(
        server,
        "user",
        "create",
        "cli-op",
        "--role",
        "operator",
        "--instances",
        "default,ops",
        "--password",
        GOOD,
        "--no-must-change",
    )
    users = json.loads(_almanac(server, "user", "list", "--json"))
    assert {(u["username"], u["role"]) for u in users} == {
        ("admin", "superadmin"),
        ("cli-op", "operator"),
    }
    shown = json.loads(_almanac(server, "user", "update", "cli-op", "--timezone", "Asia/Tokyo"))
    assert shown["timezone"] == "Asia/Tokyo" and shown["instances"] == ["default", "ops"]
    token = _almanac(server, "token", "create", "laptop", "--days", "3").splitlines()[0]
    assert token.startswith("alm_")
    whoami = json.loads(_almanac(server, "user", "whoami", token=token))
    assert whoami["username"] == "admin"
    _almanac(server, "user", "disable", "cli-op")
    assert json.loads(_almanac(server, "user", "show", "cli-op"))["disabled"] is True
    _almanac(server, "user", "reset-password", "cli-op", "--password", "Another-Pass-3")
    _almanac(server, "user", "delete", "cli-op", "--yes")
    audit = json.loads(_almanac(server, "audit", "--action", "user.*", "--json"))
    assert [e["action"] for e in audit["items"]] == [
        "user.delete",
        "user.password_reset",
        "user.update",
        "user.update",
        "user.create",
    ]
    refused = CliRunner().invoke(
        cli,
        ["user", "create", "weak", "--password", "short"],
        env={"ALMANAC_URL": server.url, "ALMANAC_TOKEN": server.token},
    )
    assert refused.exit_code == 1 and "password:" in refused.output


def test_approve_and_reject_from_the_command_line(server: LiveServer) -> None:
    with server.client() as http:
        assert (
            http.post(
                "/users",
                json={
                    "username": "cli-user",
                    "role": "user",
                    "password": GOOD,
                    "must_change_password": False,
                },
            ).status_code
            == 201
        )
        user = http.post("/auth/token", json={"username": "cli-user", "password": GOOD}).json()[
            "access_token"
        ]
        tid = http.post("/tasks", json={"name": "t", "command": "true"}).json()["tid"]
        first = http.post(f"/tasks/{tid}/run", headers={"Authorization": f"Bearer {user}"})
        second = http.post(f"/tasks/{tid}/run", headers={"Authorization": f"Bearer {user}"})
    assert first.json()["status"] == "PENDING_APPROVAL"
    out = _almanac(server, "run", "approve", str(first.json()["id"]), "-m", "fine")
    assert out.strip() == f"run {first.json()['id']} ACTIVE"
    out = _almanac(server, "run", "reject", str(second.json()["id"]), "-m", "no")
    assert out.strip() == f"run {second.json()['id']} REJECTED"
    _almanac(
        server, "user", "passwd", "--current", GOOD, "--password", "Changed-Pass-4", token=user
    )
