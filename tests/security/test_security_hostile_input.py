"""Hostile input: metacharacters, path traversal, oversized bodies, foreign and stale tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from run_moves import create_run_in
from security.sec_support import Api
from sqlalchemy import update
from sqlmodel import col, select
from starlette.websockets import WebSocketDisconnect

from app.db.engine import session_scope
from app.db.tables import AgentToken, ApiToken, Run, Task
from app.domain.states import RunStatus, TriggerKind
from app.secrets import encrypt_secret

NASTY = [
    "x'; DROP TABLE task; --",
    "' OR '1'='1",
    "$(touch /tmp/almanac-pwned)",
    "`id`; rm -rf / &",
    'quote " and \\ backslash',
    "100% _under_ [brackets]",
    "nul-free ünïcødé ✓ <script>alert(1)</script>",
]


def test_metacharacters_in_names_and_filters_are_plain_data(secure_api: Api) -> None:
    api = secure_api.client
    for name in NASTY:
        created = api.post("/api/v1/tasks", json={"name": name, "command": f"echo {name}"})
        assert created.status_code == 201, created.text
        assert created.json()["name"] == name and created.json()["command"] == f"echo {name}"
    assert sorted(t["name"] for t in api.get("/api/v1/tasks").json()) == sorted(NASTY)
    for name in NASTY:
        found = api.get("/api/v1/tasks", params={"q": name}).json()
        assert [t["name"] for t in found] == [name]
    assert api.get("/api/v1/tasks", params={"q": "' OR 1=1 --"}).json() == []
    assert api.get("/api/v1/runs", params={"q": "' OR '1'='1' --"}).json()["items"] == []
    assert api.get("/api/v1/audit", params={"actor": "' OR 1=1 --"}).json()["items"] == []
    # LIKE wildcards in a prefix are literal: "%*" matches no action
    assert api.get("/api/v1/audit", params={"action": "%*"}).json()["items"] == []
    assert len(api.get("/api/v1/audit", params={"action": "task.*"}).json()["items"]) == len(NASTY)
    assert not __import__("pathlib").Path("/tmp/almanac-pwned").exists()


def _run(api: Api, instance: str = "default") -> int:
    with session_scope(api.engine) as session:
        run = create_run_in(
            session,
            RunStatus.SUCCESS,
            at=datetime.now(UTC),
            trigger_kind=TriggerKind.ADHOC,
            spec={"command": "true"},
            instance=instance,
        )
        return run.id or 0


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/runs/{id}/logs/download?stream=../../etc/passwd",
        "/api/v1/runs/{id}/logs/download?stream=stdout%2F..%2F..%2Fsecret.key",
        "/api/v1/runs/{id}/logs?stream=..%2Fsecret.key",
        "/api/v1/runs/..%2F..%2Fsecret.key/logs/download",
        "/api/v1/runs/{id}/outputs/..%2F..%2F..%2Fsecret.key",
        "/api/v1/runs/{id}/outputs/%2E%2E/%2E%2E/%2E%2E/secret.key",
        "/api/v1/runs/{id}/outputs//etc/passwd",
        "/api/v1/runs/{id}/outputs/sub/../../../../secret.key",
    ],
)
def test_path_traversal_in_downloads_reaches_nothing(secure_api: Api, path: str) -> None:
    encrypt_secret("x", secure_api.data_dir, {})  # makes <data_dir>/secret.key
    key = secure_api.data_dir / "secret.key"
    response = secure_api.client.get(path.replace("{id}", str(_run(secure_api))))
    assert response.status_code in (404, 422), response.text
    assert key.read_text().strip() not in response.text and "root:" not in response.text


def test_a_log_download_names_its_file_from_numbers_only(secure_api: Api) -> None:
    run_id = _run(secure_api)
    response = secure_api.client.get(
        f"/api/v1/runs/{run_id}/logs/download", params={"stream": "stderr"}
    )
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="run-{run_id}-attempt-1-stderr.log"'
    )


def test_oversized_bodies_are_refused_with_413(secure_api: Api) -> None:
    api = secure_api.client
    big = {"name": "big", "command": "x" * (6 * 1024 * 1024)}
    refused = api.post("/api/v1/tasks", json=big)
    assert refused.status_code == 413 and "larger than" in refused.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"name": "big", "command": "'
        for _ in range(6):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    chunked = api.post(
        "/api/v1/tasks", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413
    lying = api.post("/api/v1/tasks", content=b"{}", headers={"Content-Length": "99999999999"})
    assert lying.status_code == 413
    assert api.get("/api/v1/tasks").json() == []
    fine = api.post("/api/v1/tasks", json={"name": "ok", "command": "x" * 50_000})
    assert fine.status_code == 201


def test_a_token_of_another_instance_sees_and_touches_nothing_here(secure_api: Api) -> None:
    api = secure_api.client
    tid = api.post("/api/v1/tasks", json={"name": "home", "command": "true"}).json()["tid"]
    run_id = api.post(f"/api/v1/tasks/{tid}/run").json()["id"]
    gid = api.post("/api/v1/groups", json={"name": "home-group"}).json()["gid"]
    stranger = secure_api.token("stranger", "operator", ["other"])
    for method, path in [
        ("GET", f"/api/v1/tasks/{tid}"),
        ("PATCH", f"/api/v1/tasks/{tid}"),
        ("DELETE", f"/api/v1/tasks/{tid}"),
        ("POST", f"/api/v1/tasks/{tid}/run"),
        ("GET", f"/api/v1/runs/{run_id}"),
        ("GET", f"/api/v1/runs/{run_id}/logs/download"),
        ("POST", f"/api/v1/runs/{run_id}/kill"),
        ("GET", f"/api/v1/groups/{gid}"),
    ]:
        response = api.request(
            method, path, headers=stranger, json={"description": "x"} if method == "PATCH" else None
        )
        assert response.status_code == 404, (method, path, response.text)
    assert api.get("/api/v1/tasks", headers=stranger).json() == []
    assert api.get("/api/v1/runs", headers=stranger).json()["items"] == []
    assert api.get("/api/v1/runs", headers=stranger, params={"task": tid}).json()["items"] == []
    moved = api.post(
        "/api/v1/tasks",
        headers=stranger,
        json={"name": "sneak", "command": "true", "instance": "default"},
    )
    assert moved.status_code == 422 and "instance" in moved.json()["detail"]
    own = api.post(
        "/api/v1/tasks",
        headers=stranger,
        json={"name": "mine", "command": "true", "instance": "other"},
    ).json()
    assert (
        api.patch(
            f"/api/v1/tasks/{own['tid']}", headers=stranger, json={"instance": "default"}
        ).status_code
        == 422
    )
    into_group = api.patch(f"/api/v1/tasks/{own['tid']}", headers=stranger, json={"group": gid})
    assert into_group.status_code == 422 and "group" in into_group.json()["detail"]
    with session_scope(secure_api.engine) as session:
        assert session.get(Task, tid) is not None
        run = session.get(Run, run_id)
        assert run is not None and run.status == RunStatus.ACTIVE.value


def test_expired_revoked_and_forged_tokens_are_refused(secure_api: Api) -> None:
    api = secure_api.client
    created = api.post("/api/v1/tokens", json={"name": "short", "expires_in_days": 1}).json()
    bearer = {"Authorization": f"Bearer {created['token']}"}
    assert api.get("/api/v1/auth/me", headers=bearer).status_code == 200
    with session_scope(secure_api.engine) as session:
        session.exec(
            update(ApiToken)
            .where(col(ApiToken.id) == created["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert api.get("/api/v1/auth/me", headers=bearer).json()["detail"] == "token expired"
    other = api.post("/api/v1/tokens", json={"name": "other"}).json()
    assert api.delete(f"/api/v1/tokens/{other['id']}").status_code == 204
    revoked = api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {other['token']}"})
    assert revoked.status_code == 401 and revoked.headers["www-authenticate"] == "Bearer"
    for header in ("Bearer alm_forged", "Basic YWRtaW46YWRtaW4=", "Bearer", ""):
        assert api.get("/api/v1/tasks", headers={"Authorization": header}).status_code == 401
    assert (
        api.get(
            "/api/v1/tasks", params={"token": created["token"]}, headers={"Authorization": ""}
        ).status_code
        == 401
    )


def test_agent_tokens_expire_and_revoke(secure_api: Api) -> None:
    api = secure_api.client
    created = api.post(
        "/api/v1/agents/tokens", json={"name": "worker", "expires_in_days": 30}
    ).json()
    listed = api.get("/api/v1/agents/tokens").json()
    assert listed[0]["expires_at"] is not None and listed[0]["revoked_at"] is None
    with session_scope(secure_api.engine) as session:
        row = session.exec(select(AgentToken).where(AgentToken.id == created["id"])).one()
        row.revoked_at = datetime.now(UTC) - timedelta(seconds=1)
    assert api.get("/api/v1/agents/tokens").json()[0]["revoked_at"] is not None
    with pytest.raises(WebSocketDisconnect) as refused:
        with api.websocket_connect(
            "/api/v1/agents/connect", headers={"Authorization": f"Bearer {created['token']}"}
        ) as ws:
            ws.receive_text()
    assert refused.value.code == 1008
    kept = api.post("/api/v1/agents/tokens", json={"name": "forever"}).json()
    assert api.delete(f"/api/v1/agents/tokens/{kept['id']}").status_code == 204
    assert api.get("/api/v1/agents/tokens").json()[1]["revoked_at"] is not None


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tasks/9223372036854775808",
        "/api/v1/runs/99999999999999999999",
        "/api/v1/tasks/9223372036854775808/forecast",
    ],
)
def test_ids_past_64_bits_are_refused_not_crashed_on(secure_api: Api, path: str) -> None:
    assert secure_api.client.get(path).status_code in (404, 422)


def test_a_nul_character_is_refused_or_kept_never_a_crash(secure_api: Api) -> None:
    api = secure_api.client
    created = api.post("/api/v1/tasks", json={"name": "nul\x00name", "command": "true"})
    assert created.status_code in (201, 422), created.text
    assert api.get("/api/v1/tasks", params={"q": "\x00"}).status_code in (200, 422)
    assert api.get("/api/v1/audit", params={"actor": "\x00"}).status_code in (200, 422)
