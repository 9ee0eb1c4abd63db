"""Approvers see everything that will run, and approve exactly that; env values sealed at rest.

Issue 13, items 2 and 14: a `user` hid a `PERL5OPT` in `env` (shown nowhere), or edited the
task after submitting; env values were stored in clear and returned to viewers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from fastapi.testclient import TestClient
from security.sec_support import Api
from sqlalchemy import text
from sqlmodel import select
from support import ADMIN_PASSWORD, LiveServer, seed_user, wait_for
from web.web_helpers import sign_in

from app.db.engine import session_scope
from app.db.runs import get_run
from app.db.sealing import box_of, task_env
from app.db.tables import Task
from app.domain import run_spec
from app.domain.placement import AgentSlot
from app.scheduler.dispatch import dispatch_pending

API = "/api/v1"
HIDDEN = "-Mhidden_root_shell"
SECRET = "tok-6f1c9e-never-shown"
TASK = {
    "name": "report",
    "command": "perl -e 'print 1'",
    "env": {"PERL5OPT": HIDDEN},
    "secrets": {"API_TOKEN": SECRET},
    "run_as_user": "nobody",
    "workdir": "/tmp",
    "image": "almanac-test-busybox",
}
TERMINAL = {"SUCCESS", "FAILED", "TERMINATED", "SKIPPED", "REJECTED"}


def _task(api: Api, **changes: object) -> int:
    created = api.client.post(f"{API}/tasks", json={**TASK, **changes})
    assert created.status_code == 201, created.text
    return int(created.json()["tid"])


_USERS: dict[int, dict[str, str]] = {}


def _submitted(api: Api, tid: int) -> int:
    """A run of the task that the user `uma` submits (it waits for approval)."""
    user = _USERS.get(id(api.engine)) or _USERS.setdefault(id(api.engine), api.token("uma", "user"))
    run = api.client.post(f"{API}/tasks/{tid}/run", headers=user)
    assert run.status_code == 201 and run.json()["status"] == "PENDING_APPROVAL", run.text
    return int(run.json()["id"])


def test_an_operator_sees_the_whole_spec_of_a_pending_run(secure_api: Api) -> None:
    run_id = _submitted(secure_api, _task(secure_api))
    operator = secure_api.token("otto", "operator")
    answer = secure_api.client.get(f"{API}/runs/{run_id}", headers=operator)
    assert answer.status_code == 200
    run = answer.json()
    assert run["command"] == TASK["command"]  # the old fields stay
    spec = run["spec"]
    assert spec["env"] == {"PERL5OPT": HIDDEN}
    assert spec["secrets"] == {"API_TOKEN": "set"}
    assert (spec["run_as_user"], spec["workdir"], spec["image"]) == (
        "nobody",
        "/tmp",
        "almanac-test-busybox",
    )
    assert {"mounts", "cpus", "memory", "gpus", "target", "labels", "max_run_seconds"} <= set(spec)
    assert not any(k.startswith("_") or k == "env_sealed" for k in spec)
    assert len(run["spec_digest"]) == 64
    assert SECRET not in answer.text


def test_mounts_are_in_the_spec_too(secure_api: Api) -> None:
    tid = _task(secure_api, mounts=["/srv/data:/data:ro"])
    run = secure_api.client.post(f"{API}/tasks/{tid}/run").json()  # the admin's own run
    spec = secure_api.client.get(f"{API}/runs/{run['id']}").json()["spec"]
    assert spec["mounts"] == ["/srv/data:/data:ro"]


def test_the_run_page_shows_the_spec_and_approves_its_digest(secure_api: Api) -> None:
    run_id = _submitted(secure_api, _task(secure_api))
    seed_user(secure_api.engine, "olga", role="operator")
    web = TestClient(secure_api.client.app, follow_redirects=False)
    sign_in(web, "olga")
    page = web.get(f"/task-runs/{run_id}")
    assert page.status_code == 200
    digest = secure_api.client.get(f"{API}/runs/{run_id}").json()["spec_digest"]
    assert f"PERL5OPT={HIDDEN}" in page.text
    assert "API_TOKEN" in page.text and SECRET not in page.text
    assert "nobody" in page.text and "almanac-test-busybox" in page.text
    assert f'hx-vals=\'{{"spec_digest": "{digest}"}}\'' in page.text  # the approve button
    wrong = web.post(f"/task-runs/{run_id}/approve", data={"spec_digest": "0" * 64})
    assert "not " + "0" * 64 in json.loads(wrong.headers["HX-Trigger"])["toast"]
    assert secure_api.client.get(f"{API}/runs/{run_id}").json()["status"] == "PENDING_APPROVAL"
    right = web.post(f"/task-runs/{run_id}/approve", data={"spec_digest": digest})
    assert right.status_code == 200
    assert secure_api.client.get(f"{API}/runs/{run_id}").json()["status"] == "ACTIVE"


def test_audit_rows_of_submit_approve_and_reject_carry_the_spec(secure_api: Api) -> None:
    tid = _task(secure_api)
    approved, rejected = _submitted(secure_api, tid), _submitted(secure_api, tid)
    operator = secure_api.token("otto", "operator")
    assert (
        secure_api.client.post(f"{API}/runs/{approved}/approve", headers=operator).status_code
        == 200
    )
    assert (
        secure_api.client.post(f"{API}/runs/{rejected}/reject", headers=operator).status_code == 200
    )
    rows = secure_api.client.get(f"{API}/audit", params={"page_size": 500})
    assert rows.status_code == 200 and SECRET not in rows.text
    by_action = {(r["action"], r["target_id"]): r for r in rows.json()["items"]}
    for key in (
        ("task.run", str(approved)),
        ("run.approve", str(approved)),
        ("run.reject", str(rejected)),
    ):
        after = by_action[key]["after"]
        assert after["spec"]["env"] == {"PERL5OPT": HIDDEN}, key
        assert after["spec"]["secrets"] == {"API_TOKEN": "set"}, key
        assert after["spec"]["run_as_user"] == "nobody" and len(after["spec_digest"]) == 64


def test_a_digest_that_is_not_the_runs_is_409_and_changes_nothing(secure_api: Api) -> None:
    run_id = _submitted(secure_api, _task(secure_api))
    operator = secure_api.token("otto", "operator")
    before = secure_api.client.get(f"{API}/runs/{run_id}", headers=operator).json()
    answer = secure_api.client.post(
        f"{API}/runs/{run_id}/approve", headers=operator, json={"spec_digest": "a" * 64}
    )
    assert answer.status_code == 409 and "spec_digest" in answer.json()["detail"]
    after = secure_api.client.get(f"{API}/runs/{run_id}", headers=operator).json()
    assert after == before
    bad = secure_api.client.post(
        f"{API}/runs/{run_id}/approve", headers=operator, json={"spec_digest": "not-a-digest"}
    )
    assert bad.status_code == 422
    ok = secure_api.client.post(
        f"{API}/runs/{run_id}/approve",
        headers=operator,
        json={"spec_digest": before["spec_digest"]},
    )
    assert ok.status_code == 200 and ok.json()["status"] == "ACTIVE"


def test_a_spec_changed_after_approval_is_not_run(secure_api: Api) -> None:
    """Whatever path changed it (none does today), dispatch runs only the approved spec."""
    run_id = _submitted(secure_api, _task(secure_api, image=None, run_as_user=None))
    operator = secure_api.token("otto", "operator")
    assert (
        secure_api.client.post(f"{API}/runs/{run_id}/approve", headers=operator).status_code == 200
    )
    with session_scope(secure_api.engine) as session:
        run = get_run(session, run_id)
        run.spec = {**run.spec, "command": "id; cat /etc/shadow"}
    agent = AgentSlot(name="a1", labels={}, max_runs=None, running=0, docker=True)
    with session_scope(secure_api.engine) as session:
        sends = dispatch_pending(session, now=datetime.now(UTC), agents=[agent])
    assert sends == []
    run = secure_api.client.get(f"{API}/runs/{run_id}").json()
    assert (run["status"], run["reason"]) == ("FAILED", "spec changed after approval: not run")


def test_an_untouched_approved_run_is_dispatched_with_its_secrets(secure_api: Api) -> None:
    run_id = _submitted(secure_api, _task(secure_api, image=None, run_as_user=None))
    operator = secure_api.token("otto", "operator")
    assert (
        secure_api.client.post(f"{API}/runs/{run_id}/approve", headers=operator).status_code == 200
    )
    agent = AgentSlot(name="a1", labels={}, max_runs=None, running=0, docker=True)
    with session_scope(secure_api.engine) as session:
        sends = dispatch_pending(session, now=datetime.now(UTC), agents=[agent])
    assert [(name, start.run_id) for name, start in sends] == [("a1", run_id)]
    own = {k: v for k, v in sends[0][1].env.items() if not k.startswith("ALMANAC_")}
    assert own == {"PERL5OPT": HIDDEN, "API_TOKEN": SECRET}  # besides the run's context


def test_env_values_and_secrets_are_sealed_in_the_database(secure_api: Api) -> None:
    tid = _task(secure_api)
    run_id = _submitted(secure_api, tid)
    with secure_api.engine.connect() as connection:
        task_row = (
            connection.execute(text("SELECT * FROM task WHERE id = :id"), {"id": tid})
            .mappings()
            .one()
        )
        spec = connection.execute(
            text("SELECT spec FROM run WHERE id = :id"), {"id": run_id}
        ).scalar_one()
    raw = " ".join(str(v) for v in task_row.values()) + " " + str(spec)
    assert HIDDEN not in raw and SECRET not in raw
    assert task_row["env_sealed"]
    with session_scope(secure_api.engine) as session:
        task = session.exec(select(Task).where(Task.id == tid)).one()
        opened = task_env(task, box_of(session))
    assert (opened.env, opened.secrets) == ({"PERL5OPT": HIDDEN}, {"API_TOKEN": SECRET})


def test_viewers_see_env_names_masked_writers_the_values_nobody_the_secrets(
    secure_api: Api,
) -> None:
    tid = _task(secure_api)
    run_id = _submitted(secure_api, tid)
    viewer, user = secure_api.token("vic", "viewer"), secure_api.token("ulf", "user")
    shown = secure_api.client.get(f"{API}/tasks/{tid}", headers=viewer)
    assert shown.json()["env"] == {"PERL5OPT": "********"}
    assert shown.json()["secrets"] == {"API_TOKEN": "set"}
    listed = secure_api.client.get(f"{API}/tasks", headers=viewer)
    assert HIDDEN not in listed.text and SECRET not in listed.text
    run = secure_api.client.get(f"{API}/runs/{run_id}", headers=viewer)
    assert run.json()["spec"]["env"] == {"PERL5OPT": "********"}
    exported = secure_api.client.get(f"{API}/export", headers=viewer)
    assert HIDDEN not in exported.text and SECRET not in exported.text
    mine = secure_api.client.get(f"{API}/tasks/{tid}", headers=user).json()
    assert mine["env"] == {"PERL5OPT": HIDDEN} and mine["secrets"] == {"API_TOKEN": "set"}
    for who in (None, viewer, user):
        assert SECRET not in secure_api.client.get(f"{API}/export", headers=who).text


def test_secrets_keep_their_values_through_edits_and_are_checked(secure_api: Api) -> None:
    tid = _task(secure_api)
    kept = secure_api.client.patch(f"{API}/tasks/{tid}", json={"env": {"A": "1"}})
    assert kept.status_code == 200 and kept.json()["secrets"] == {"API_TOKEN": "set"}
    renamed = secure_api.client.patch(
        f"{API}/tasks/{tid}", json={"secrets": {"API_TOKEN": None, "OTHER": "x"}}
    )
    assert renamed.json()["secrets"] == {"API_TOKEN": "set", "OTHER": "set"}
    unknown = secure_api.client.patch(f"{API}/tasks/{tid}", json={"secrets": {"NEW": None}})
    assert unknown.status_code == 422 and "secrets.NEW" in unknown.text
    clash = secure_api.client.patch(f"{API}/tasks/{tid}", json={"secrets": {"A": "2"}})
    assert clash.status_code == 422 and "secrets.A" in clash.text
    with session_scope(secure_api.engine) as session:
        task = session.exec(select(Task).where(Task.id == tid)).one()
        opened = task_env(task, box_of(session))
    assert opened.env == {"A": "1"}
    assert opened.secrets == {"API_TOKEN": SECRET, "OTHER": "x"}


def test_export_import_export_is_identical_and_keeps_secrets(secure_api: Api) -> None:
    tid = _task(secure_api)
    first = secure_api.client.get(f"{API}/export")
    assert SECRET not in first.text
    item = next(t for t in first.json()["tasks"] if t["name"] == "report")
    assert item["env"] == {"PERL5OPT": HIDDEN} and item["secrets"] == {"API_TOKEN": None}
    again = secure_api.client.post(f"{API}/import", content=first.content)
    assert again.status_code == 200, again.text
    assert again.json()["summary"]["update"] == 0
    assert secure_api.client.get(f"{API}/export").content == first.content
    # A file that leaves `secrets` out keeps them; one that names an unknown null is refused.
    doc = first.json()
    del next(t for t in doc["tasks"] if t["name"] == "report")["secrets"]
    doc["tasks"][0]["description"] = "edited by hand"
    assert secure_api.client.post(f"{API}/import", json=doc).status_code == 200
    with session_scope(secure_api.engine) as session:
        task = session.exec(select(Task).where(Task.id == tid)).one()
        assert task_env(task, box_of(session)).secrets == {"API_TOKEN": SECRET}
    doc["tasks"][0]["secrets"] = {"API_TOKEN": None, "ELSEWHERE": None}
    refused = secure_api.client.post(f"{API}/import", json=doc)
    assert refused.status_code == 422 and "secrets.ELSEWHERE" in refused.text
    masked = secure_api.client.get(f"{API}/export", headers=secure_api.token("vic")).json()
    assert secure_api.client.post(f"{API}/import", json=masked).status_code == 422


def test_a_users_edit_of_any_run_field_leaves_the_task_inactive(secure_api: Api) -> None:
    user = secure_api.token("ulla", "user")
    group = secure_api.client.post(f"{API}/groups", json={"name": "g"}).json()["gid"]
    for field, value in (
        ("env", {"X": "1"}),
        ("secrets", {"S": "v"}),
        ("run_as_user", "nobody"),
        ("mounts", []),
        ("image", "almanac-test-busybox"),
        ("workdir", "/var"),
        ("command", "true"),
    ):
        tid = _task(secure_api, name=f"t-{field}", group=group, image=None, run_as_user=None)
        assert secure_api.client.get(f"{API}/tasks/{tid}").json()["active"] is True
        edited = secure_api.client.patch(f"{API}/tasks/{tid}", headers=user, json={field: value})
        assert edited.status_code == 200, (field, edited.text)
        assert edited.json()["active"] is False, field


def test_a_task_edit_after_submission_does_not_change_what_runs(agent_ready: LiveServer) -> None:
    """A real command on the built-in agent runs the spec the operator approved."""
    seed_user(agent_ready.engine, "uma", role="user")
    seed_user(agent_ready.engine, "otto", role="operator")
    with agent_ready.client() as admin:
        tid = admin.post(
            "/tasks",
            json={
                "name": "env-echo",
                "command": 'echo "P=$PERL5OPT T=$API_TOKEN"',
                "env": {"PERL5OPT": "-Mstrict"},
                "secrets": {"API_TOKEN": SECRET},
            },
        ).json()["tid"]
        user = {"Authorization": "Bearer " + _login(admin, "uma")}
        operator = {"Authorization": "Bearer " + _login(admin, "otto")}
        run_id = admin.post(f"/tasks/{tid}/run", headers=user).json()["id"]
        edit = admin.patch(
            f"/tasks/{tid}",
            headers=user,
            json={"env": {"PERL5OPT": HIDDEN}, "command": "echo edited"},
        )
        assert edit.status_code == 200 and edit.json()["active"] is False
        shown = admin.get(f"/runs/{run_id}", headers=operator).json()
        assert shown["spec"]["env"] == {"PERL5OPT": "-Mstrict"}
        approved = admin.post(
            f"/runs/{run_id}/approve", headers=operator, json={"spec_digest": shown["spec_digest"]}
        )
        assert approved.status_code == 200, approved.text
        run = wait_for(
            lambda: (r := admin.get(f"/runs/{run_id}").json())["status"] in TERMINAL and r
        )
        lines = admin.get(f"/runs/{run_id}/logs").json()["lines"]
    assert run["status"] == "SUCCESS", run
    # The command got the secret; its stored output masks it (only the exact value is).
    assert lines == ["P=-Mstrict T=***"]


def _login(http: httpx.Client, username: str) -> str:
    answer = http.post("/auth/token", json={"username": username, "password": ADMIN_PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_the_digest_ignores_bookkeeping_and_covers_what_runs() -> None:
    spec = {"command": "true", "env_sealed": "gAAA", "run_as_user": None}
    assert run_spec.digest(spec) == run_spec.digest({**spec, "_dispatches": 3})
    assert run_spec.digest(spec) != run_spec.digest({**spec, "env_sealed": "gAAB"})
    assert run_spec.digest(spec) != run_spec.digest({**spec, "run_as_user": "root"})
