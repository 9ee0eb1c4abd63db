"""Isolation between instances: moves, the group gate for users, shared objects (calendars,
integrations), the audit log, nesting, names, headers, the docs, the agents list and the
live streams. Real app, real database (both backends)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from security.sec_support import Api
from sqlmodel import select

from app.db.alert_tables import AlertDelivery, AlertRule
from app.db.engine import session_scope
from app.db.runs import create_run
from app.db.tables import Agent, ApiToken, AuditEvent, Integration, User
from app.domain.states import ON_AGENT, RunStatus, TriggerKind
from app.security import SESSION_COOKIE, hash_token, new_token

API = "/api/v1"
HOURLY = {"kind": "cron", "cron": "0 * * * *", "timezone": "UTC"}
EVERY_MINUTE = {"kind": "cron", "cron": "* * * * *", "timezone": "UTC"}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _group_with_task(api: Api, instance: str = "alpha", active: bool = True) -> tuple[int, int]:
    task = _ok(
        api.client.post(
            f"{API}/tasks",
            json={
                "name": f"t-{instance}-{time.monotonic_ns()}",
                "command": "true",
                "instance": instance,
            },
        ),
        201,
    )
    group = _ok(
        api.client.post(
            f"{API}/groups",
            json={
                "name": f"g-{time.monotonic_ns()}",
                "instance": instance,
                "schedule": HOURLY,
                "active": active,
                "tasks": [task["tid"]],
            },
        ),
        201,
    )
    return group["gid"], task["tid"]


# -- 8: moves into an instance not held --------------------------------------------------


def test_a_user_cannot_move_a_group_into_an_instance_it_does_not_hold(secure_api: Api) -> None:
    gid, tid = _group_with_task(secure_api)
    user = secure_api.token("mover", "user", ["alpha"])
    refused = secure_api.client.patch(
        f"{API}/groups/{gid}", json={"instance": "beta"}, headers=user
    )
    assert refused.status_code == 422, refused.text
    assert "instance" in refused.json()["detail"]
    assert _ok(secure_api.client.get(f"{API}/groups/{gid}"))["instance"] == "alpha"
    assert _ok(secure_api.client.get(f"{API}/tasks/{tid}"))["instance"] == "alpha"


def test_a_moved_group_takes_its_tasks_and_is_audited_in_both_instances(secure_api: Api) -> None:
    gid, tid = _group_with_task(secure_api)
    user = secure_api.token("both", "user", ["alpha", "beta"])
    moved = _ok(
        secure_api.client.patch(f"{API}/groups/{gid}", json={"instance": "beta"}, headers=user)
    )
    assert moved["instance"] == "beta"
    task = _ok(secure_api.client.get(f"{API}/tasks/{tid}"))
    assert task["instance"] == "beta"
    assert task["active"] is False and moved["active"] is False  # a user's move waits
    alpha_viewer = secure_api.token("alpha-viewer", "viewer", ["alpha"])
    assert secure_api.client.get(f"{API}/tasks/{tid}", headers=alpha_viewer).status_code == 404
    with session_scope(secure_api.engine) as session:
        rows = session.exec(
            select(AuditEvent.instance).where(
                AuditEvent.action == "group.update", AuditEvent.target_id == str(gid)
            )
        ).all()
    assert sorted(r or "" for r in rows) == ["alpha", "beta"]


def test_a_task_move_carries_its_alert_rules_and_checks_their_integration(secure_api: Api) -> None:
    task = _ok(
        secure_api.client.post(
            f"{API}/tasks", json={"name": "alerted", "command": "true", "instance": "alpha"}
        ),
        201,
    )
    hook = _ok(
        secure_api.client.post(
            f"{API}/integrations",
            json={
                "name": "alpha-hook",
                "kind": "webhook",
                "instance": "alpha",
                "config": {"url": "http://127.0.0.1:9/"},
            },
        ),
        201,
    )
    _ok(
        secure_api.client.post(
            f"{API}/alerts",
            json={"task": task["tid"], "events": ["failed"], "integration": hook["id"]},
        ),
        201,
    )
    refused = secure_api.client.patch(f"{API}/tasks/{task['tid']}", json={"instance": "beta"})
    assert refused.status_code == 422 and "alpha-hook" in refused.text
    assert _ok(secure_api.client.get(f"{API}/tasks/{task['tid']}"))["instance"] == "alpha"


# -- 9: freezing and a user's schedule change on groups -----------------------------------


def test_a_user_cannot_unfreeze_a_group(secure_api: Api) -> None:
    gid, _ = _group_with_task(secure_api, active=False)
    user = secure_api.token("thawer", "user", ["alpha"])
    refused = secure_api.client.patch(f"{API}/groups/{gid}", json={"active": True}, headers=user)
    assert refused.status_code == 403 and "active" in refused.text
    assert _ok(secure_api.client.get(f"{API}/groups/{gid}"))["active"] is False


def test_a_users_schedule_change_leaves_the_group_inactive(secure_api: Api) -> None:
    gid, _ = _group_with_task(secure_api)
    user = secure_api.token("rescheduler", "user", ["alpha"])
    changed = _ok(
        secure_api.client.patch(
            f"{API}/groups/{gid}", json={"schedule": EVERY_MINUTE}, headers=user
        )
    )
    assert changed["active"] is False and changed["next_fire_time"] is None
    operator = secure_api.token("op", "operator", ["alpha"])
    again = _ok(
        secure_api.client.patch(f"{API}/groups/{gid}", json={"active": True}, headers=operator)
    )
    assert again["active"] is True


def test_a_users_new_group_starts_inactive(secure_api: Api) -> None:
    user = secure_api.token("maker", "user", ["alpha"])
    made = _ok(
        secure_api.client.post(
            f"{API}/groups",
            json={"name": "mine", "instance": "alpha", "schedule": EVERY_MINUTE},
            headers=user,
        ),
        201,
    )
    assert made["active"] is False


# -- 13: integrations and calendars are not shared levers --------------------------------


def test_a_scoped_admin_cannot_redirect_a_global_integration(secure_api: Api) -> None:
    hook = _ok(
        secure_api.client.post(
            f"{API}/integrations",
            json={"name": "shared", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/a"}},
        ),
        201,
    )
    assert hook["instance"] is None
    admin = secure_api.token("alpha-admin", "admin", ["alpha"])
    for call in (
        lambda: secure_api.client.patch(
            f"{API}/integrations/{hook['id']}",
            headers=admin,
            json={"config": {"url": "http://evil.test/"}},
        ),
        lambda: secure_api.client.delete(f"{API}/integrations/{hook['id']}", headers=admin),
        lambda: secure_api.client.post(
            f"{API}/integrations",
            headers=admin,
            json={"name": "global-2", "kind": "webhook", "config": {"url": "http://evil.test/"}},
        ),
    ):
        assert call().status_code == 403
    assert (
        _ok(secure_api.client.get(f"{API}/integrations/{hook['id']}"))["config"]["url"]
        == "http://127.0.0.1:9/a"
    )


def test_an_instances_integration_is_invisible_to_another_and_unusable_by_its_rules(
    secure_api: Api,
) -> None:
    beta_hook = _ok(
        secure_api.client.post(
            f"{API}/integrations",
            json={
                "name": "beta-hook",
                "kind": "webhook",
                "instance": "beta",
                "config": {"url": "http://127.0.0.1:9/b"},
            },
        ),
        201,
    )
    admin = secure_api.token("alpha-admin2", "admin", ["alpha"])
    assert (
        secure_api.client.get(f"{API}/integrations/{beta_hook['id']}", headers=admin).status_code
        == 404
    )
    listed = _ok(secure_api.client.get(f"{API}/integrations", headers=admin))
    assert all(i["id"] != beta_hook["id"] for i in listed)
    task = _ok(
        secure_api.client.post(
            f"{API}/tasks", json={"name": "a-task", "command": "true", "instance": "alpha"}
        ),
        201,
    )
    refused = secure_api.client.post(
        f"{API}/alerts",
        json={"task": task["tid"], "events": ["failed"], "integration": beta_hook["id"]},
    )
    assert refused.status_code == 422 and "integration" in refused.text


def test_a_delivery_is_never_sent_through_another_instances_integration(secure_api: Api) -> None:
    """A row written before the check (or by hand) still does not cross instances."""
    from app.alerts.service import AlertService

    with session_scope(secure_api.engine) as session:
        hook = Integration(
            name="beta-only",
            kind="webhook",
            instance="beta",
            config={"url": "http://127.0.0.1:9/", "timeout_seconds": 1},
        )
        session.add(hook)
        session.flush()
        rule = AlertRule(
            task_id=None,
            group_id=None,
            integration_id=hook.id or 0,
            events=["failed"],
            instance="alpha",
            created_by="x",
        )
        session.add(rule)
        session.flush()
        delivery = AlertDelivery(
            rule_id=rule.id or 0,
            integration_id=hook.id or 0,
            run_id=1,
            attempt=1,
            event="failed",
            payload={"text": "alpha secret"},
            status="pending",
        )
        session.add(delivery)
        session.flush()
        service = secure_api.client.app.state.alerts  # type: ignore[attr-defined]
        assert isinstance(service, AlertService)
        assert service._outgoing(session, delivery) is None
        assert delivery.status == "failed" and "another instance" in (delivery.last_error or "")


def test_only_an_admin_of_every_instance_changes_calendars(secure_api: Api) -> None:
    _ok(secure_api.client.post(f"{API}/calendars", json={"name": "bank"}), 201)
    admin = secure_api.token("cal-admin", "admin", ["alpha"])
    assert (
        secure_api.client.post(f"{API}/calendars", json={"name": "x"}, headers=admin).status_code
        == 403
    )
    assert (
        secure_api.client.patch(
            f"{API}/calendars/bank", json={"skip_weekends": True}, headers=admin
        ).status_code
        == 403
    )
    assert secure_api.client.delete(f"{API}/calendars/bank", headers=admin).status_code == 403
    assert (
        _ok(secure_api.client.get(f"{API}/calendars/bank", headers=admin))["skip_weekends"] is False
    )


# -- 15: the audit log of a scoped admin --------------------------------------------------


def test_a_scoped_admin_reads_only_its_instances_audit(secure_api: Api) -> None:
    _group_with_task(secure_api, "alpha")
    _group_with_task(secure_api, "beta")
    _ok(secure_api.client.post(f"{API}/calendars", json={"name": "global-row"}), 201)
    admin = secure_api.token("audit-admin", "admin", ["alpha"])
    items = _ok(secure_api.client.get(f"{API}/audit", params={"page_size": 500}, headers=admin))[
        "items"
    ]
    assert items and {i["instance"] for i in items} == {"alpha"}
    everything = _ok(secure_api.client.get(f"{API}/audit", params={"page_size": 500}))
    assert {i["instance"] for i in everything["items"]} >= {"alpha", "beta", None}


# -- 16: deep nesting ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"{API}/import", f"{API}/tasks", f"{API}/integrations"])
def test_deeply_nested_json_is_a_400(secure_api: Api, path: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    response = secure_api.client.post(
        path, content=deep, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


def test_an_import_nested_past_the_limit_is_refused_with_the_reason(secure_api: Api) -> None:
    document = {"format": "almanac/v1", "tasks": [{"name": "x", "command": "true", "labels": {}}]}
    nested: Any = 1
    for _ in range(200):
        nested = {"a": nested}
    document["tasks"][0]["labels"] = nested  # type: ignore[index]
    response = secure_api.client.post(f"{API}/import", content=json.dumps(document))
    assert response.status_code == 400 and "nested deeper" in response.text


# -- 17: names a path can carry -----------------------------------------------------------


HIDDEN = ["tab\there", "nl\nx"]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("name", ["a/b", ".", "..", "back\\slash", *HIDDEN])
def test_names_a_path_cannot_carry_are_refused(secure_api: Api, name: str) -> None:
    # Tasks and groups are addressed by id: only hidden characters are refused in their names.
    by_id = (
        [(f"{API}/tasks", {"name": name, "command": "true"}), (f"{API}/groups", {"name": name})]
        if name in HIDDEN
        else []
    )
    for path, body in (
        (f"{API}/calendars", {"name": name}),
        (
            f"{API}/integrations",
            {"name": name, "kind": "webhook", "config": {"url": "http://127.0.0.1:9/"}},
        ),
        (f"{API}/agents/tokens", {"name": name}),
        *by_id,
    ):
        response = secure_api.client.post(path, json=body)
        assert response.status_code == 422, (path, name, response.text)
        assert "name" in response.json()["detail"]
    assert _ok(secure_api.client.get(f"{API}/calendars")) == []


# -- 19: headers, docs, the agents list, live streams -------------------------------------


def test_pages_and_answers_carry_the_browser_security_headers(secure_api: Api) -> None:
    for path in ("/login", f"{API}/tasks"):
        headers = secure_api.client.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-eval" not in csp


def test_the_api_description_and_docs_need_a_login(secure_api: Api) -> None:
    anonymous = TestClient(secure_api.client.app)
    for path in (f"{API}/openapi.json", f"{API}/docs"):
        assert anonymous.get(path).status_code == 401
        assert secure_api.client.get(path).status_code == 200
    session = new_token("alm")
    with session_scope(secure_api.engine) as db:
        root = db.exec(select(User).where(User.username == "admin")).one()
        db.add(
            ApiToken(user_id=root.id or 0, name="s", kind="session", token_hash=hash_token(session))
        )
    anonymous.cookies.set(SESSION_COOKIE, session)
    assert anonymous.get(f"{API}/openapi.json").status_code == 200


def test_the_agents_list_shows_only_the_callers_runs(secure_api: Api) -> None:
    with session_scope(secure_api.engine) as session:
        session.add(Agent(name="shared-host", status="online"))
        running = next(iter(ON_AGENT))
        ids = {}
        for instance in ("alpha", "beta"):
            run = create_run(
                session,
                at=secure_api_now(),
                status=RunStatus.ACTIVE,
                trigger_kind=TriggerKind.MANUAL,
                spec={"command": "true"},
                instance=instance,
                created_by="t",
            )
            run.agent, run.status = "shared-host", running
            session.flush()
            ids[instance] = run.id
    viewer = secure_api.token("agents-viewer", "viewer", ["alpha"])
    agents = _ok(secure_api.client.get(f"{API}/agents", headers=viewer))
    assert [a["running_runs"] for a in agents if a["name"] == "shared-host"] == [[ids["alpha"]]]


def secure_api_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_live_streams_do_not_signal_other_instances_changes(secure_api: Api) -> None:
    """The dashboard's stream of an alpha viewer stays silent while a beta run changes, and
    speaks when an alpha run does."""
    import anyio

    from app.web.events import Change
    from app.web.scoped_changes import for_viewer

    with session_scope(secure_api.engine) as session:
        runs = {}
        for instance in ("alpha", "beta"):
            run = create_run(
                session,
                at=secure_api_now(),
                status=RunStatus.ACTIVE,
                trigger_kind=TriggerKind.MANUAL,
                spec={"command": "true"},
                instance=instance,
                created_by="t",
            )
            runs[instance] = run.id or 0
    relevant = for_viewer(secure_api.engine, ["alpha"])

    async def judge() -> tuple[bool, bool, bool]:
        return (
            await relevant(Change(runs=frozenset({runs["beta"]}))),
            await relevant(Change(runs=frozenset({runs["alpha"], runs["beta"]}))),
            await relevant(Change(logs=frozenset({runs["beta"]}))),
        )

    assert anyio.run(judge) == (False, True, False)
