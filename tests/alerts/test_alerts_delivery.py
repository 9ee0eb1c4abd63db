"""Alerts sent when runs end: signed webhooks, Slack, email, retries with backoff, the log.

Runs are ended the way the agent hub and the lost-agent check end them (`apply` and
`schedule_retry` in one transaction), so each event is produced exactly as in production.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from run_moves import move
from sqlalchemy import Engine
from support import wait_for

from app.alerts.senders import SIGNATURE_HEADER, signature
from app.alerts.service import AlertService
from app.clock import SystemClock
from app.db.engine import session_scope
from app.db.runs import create_run, get_run, task_spec
from app.db.tables import Task
from app.domain.states import RunStatus, TriggerKind
from app.scheduler.lifecycle import fail_runs_of_lost_agent, schedule_retry

API = "/api/v1"


def _now() -> datetime:
    return SystemClock().now()


def start_run(engine: Engine, tid: int, agent: str = "ghost") -> int:
    with session_scope(engine) as session:
        task = session.get(Task, tid)
        assert task is not None
        run = create_run(
            session,
            at=_now(),
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec=task_spec(task),
            task=task,
        )
        move(session, run, RunStatus.TRIGGER, at=_now(), agent=agent)
        move(session, run, RunStatus.RUNNING, at=_now())
        return run.id or 0


def end_run(
    engine: Engine,
    run_id: int,
    status: RunStatus,
    reason: str | None = None,
    exit_code: int | None = None,
) -> None:
    """As the hub applies an agent's final state: the end, then a retry if the task has one."""
    with session_scope(engine) as session:
        run = get_run(session, run_id, lock=True)
        move(session, run, status, at=_now(), reason=reason, exit_code=exit_code)
        if status is RunStatus.FAILED:
            schedule_retry(session, run, now=_now())


def _setup(
    api: TestClient,
    kind: str,
    config: dict[str, Any],
    events: list[str],
    secret: str | None = None,
    **task: Any,
) -> int:
    body: dict[str, Any] = {"name": kind, "kind": kind, "config": config}
    if secret:
        body["secret"] = secret
    iid = api.post(f"{API}/integrations", json=body).json()["id"]
    tid = api.post(f"{API}/tasks", json={"name": "load", "command": "false", **task}).json()["tid"]
    assert (
        api.post(
            f"{API}/alerts", json={"task": tid, "events": events, "integration": iid}
        ).status_code
        == 201
    )
    return int(tid)


def _deliveries(api: TestClient, run_id: int) -> list[dict[str, Any]]:
    return list(api.get(f"{API}/runs/{run_id}/alerts").json())


def test_a_failure_posts_a_signed_webhook(
    api: TestClient, alert_engine: Engine, webhook: Any
) -> None:
    tid = _setup(api, "webhook", {"url": webhook.url}, ["failed", "succeeded"], secret="hmac-key")
    run_id = start_run(alert_engine, tid)
    end_run(alert_engine, run_id, RunStatus.FAILED, reason="exit code 3", exit_code=3)
    [got] = wait_for(lambda: webhook.received, timeout=10)
    assert got.headers[SIGNATURE_HEADER] == signature("hmac-key", got.body)
    body = got.json()
    assert body["event"] == "failed" and body["run"]["id"] == run_id
    assert body["run"]["exit_code"] == 3 and body["run"]["agent"] == "ghost"
    assert body["text"] == (
        f"Almanac: task 'load' run {run_id} failed (exit code 3), attempt 1 on agent ghost"
    )
    [logged] = wait_for(lambda: [d for d in _deliveries(api, run_id) if d["status"] == "sent"])
    assert logged["event"] == "failed" and logged["tries"] == 1 and logged["sent_at"]


def test_retries_exhausted_only_after_the_last_attempt(
    api: TestClient, alert_engine: Engine, webhook: Any
) -> None:
    tid = _setup(
        api, "webhook", {"url": webhook.url}, ["failed", "retries_exhausted"], retry_attempts=1
    )
    run_id = start_run(alert_engine, tid)
    end_run(alert_engine, run_id, RunStatus.FAILED, reason="exit code 1", exit_code=1)
    wait_for(lambda: len(webhook.received) == 1, timeout=10)
    with session_scope(alert_engine) as session:  # the retry is dispatched and runs again
        run = get_run(session, run_id, lock=True)
        move(session, run, RunStatus.TRIGGER, at=_now(), agent="ghost")
        move(session, run, RunStatus.RUNNING, at=_now())
    end_run(alert_engine, run_id, RunStatus.FAILED, reason="exit code 1", exit_code=1)
    wait_for(lambda: len(webhook.received) == 3, timeout=10)
    seen = sorted((r.json()["run"]["attempt"], r.json()["event"]) for r in webhook.received)
    assert seen == [(1, "failed"), (2, "failed"), (2, "retries_exhausted")]


def test_timeout_and_agent_lost(api: TestClient, alert_engine: Engine, webhook: Any) -> None:
    tid = _setup(api, "webhook", {"url": webhook.url}, ["timeout", "agent_lost"])
    timed_out = start_run(alert_engine, tid)
    end_run(alert_engine, timed_out, RunStatus.FAILED, reason="timeout")
    lost = start_run(alert_engine, tid, agent="vanished")
    with session_scope(alert_engine) as session:
        assert fail_runs_of_lost_agent(session, "vanished", now=_now()) == [lost]
    wait_for(lambda: len(webhook.received) == 2, timeout=10)
    assert sorted((r.json()["run"]["id"], r.json()["event"]) for r in webhook.received) == [
        (timed_out, "timeout"),
        (lost, "agent_lost"),
    ]


def test_success_goes_to_slack(api: TestClient, alert_engine: Engine, webhook: Any) -> None:
    tid = _setup(api, "slack", {"url": webhook.url}, ["succeeded"])
    run_id = start_run(alert_engine, tid)
    end_run(alert_engine, run_id, RunStatus.SUCCESS, exit_code=0)
    [got] = wait_for(lambda: webhook.received, timeout=10)
    assert got.json() == {
        "text": f"Almanac: task 'load' run {run_id} succeeded, attempt 1 on agent ghost"
    }


def test_email_logs_in_with_the_secret(api: TestClient, alert_engine: Engine, mailbox: Any) -> None:
    tid = _setup(
        api,
        "email",
        {
            "host": mailbox.host,
            "port": mailbox.port,
            "from": "almanac@example.com",
            "to": ["ops@example.com"],
            "username": "almanac",
        },
        ["failed"],
        secret="smtp-secret",
    )
    run_id = start_run(alert_engine, tid)
    end_run(alert_engine, run_id, RunStatus.FAILED, reason="exit code 1", exit_code=1)
    [mail] = wait_for(lambda: mailbox.messages, timeout=10)
    assert mailbox.logins == [("almanac", "smtp-secret")]
    assert mail.mail_from == "almanac@example.com" and mail.rcpt_tos == ["ops@example.com"]
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert message["Subject"].strip() == f"[Almanac] task 'load' run {run_id} failed (exit code 1)"
    assert "exit_code: 1" in message.get_body().get_content()  # type: ignore[union-attr]


def test_a_refused_delivery_is_retried_then_given_up(
    api: TestClient, alert_engine: Engine, webhook: Any
) -> None:
    service: AlertService = api.app.state.alerts  # type: ignore[attr-defined]
    service.max_tries = 3
    webhook.statuses = [500, 503]  # then 200
    tid = _setup(api, "webhook", {"url": webhook.url}, ["failed"])
    first = start_run(alert_engine, tid)
    end_run(alert_engine, first, RunStatus.FAILED, reason="exit code 1")
    [sent] = wait_for(lambda: [d for d in _deliveries(api, first) if d["status"] == "sent"])
    assert sent["tries"] == 3 and len(webhook.received) == 3
    webhook.statuses = [500, 500, 500]
    second = start_run(alert_engine, tid)
    end_run(alert_engine, second, RunStatus.FAILED, reason="exit code 1")
    [failed] = wait_for(lambda: [d for d in _deliveries(api, second) if d["status"] == "failed"])
    assert failed["tries"] == 3 and failed["last_error"].startswith("HTTP 500")


def test_a_rule_on_a_group_covers_its_tasks_and_rolled_back_ends_send_nothing(
    api: TestClient, alert_engine: Engine, webhook: Any
) -> None:
    iid = api.post(
        f"{API}/integrations", json={"name": "h", "kind": "webhook", "config": {"url": webhook.url}}
    ).json()["id"]
    tid = api.post(f"{API}/tasks", json={"name": "member", "command": "true"}).json()["tid"]
    gid = api.post(f"{API}/groups", json={"name": "g", "tasks": [tid]}).json()["gid"]
    api.post(f"{API}/alerts", json={"group": gid, "events": ["failed"], "integration": iid})
    rolled_back = start_run(alert_engine, tid)
    try:
        with session_scope(alert_engine) as session:
            run = get_run(session, rolled_back, lock=True)
            move(session, run, RunStatus.FAILED, at=_now(), reason="exit code 1")
            raise RuntimeError("the transaction fails after the change")
    except RuntimeError:
        pass
    kept = start_run(alert_engine, tid)
    end_run(alert_engine, kept, RunStatus.FAILED, reason="exit code 2")
    [got] = wait_for(lambda: webhook.received, timeout=10)
    assert got.json()["run"]["id"] == kept
    assert _deliveries(api, rolled_back) == []
