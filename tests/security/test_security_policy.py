"""Policies on what a run may do: the server refuses a spec outside its instance's and its
agent's policy unless an admin asks; dispatch skips an agent whose own policy refuses it;
and the agent itself refuses, whatever the server sends (the last line of defence)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import pytest
from run_moves import create_run_in
from security.fake_server import drive, start
from security.sec_support import Api
from sqlmodel import select
from support import require, start_live_server, wait_for

from app.agents.agent_policy import load_policy
from app.agents.executors.base import RunSpec
from app.agents.executors.docker import container_name, container_options, docker_available
from app.db.engine import session_scope
from app.db.runs import get_run
from app.db.tables import AuditEvent, Task
from app.domain.placement import AgentSlot
from app.domain.placer import choose_agent
from app.domain.run_policy import (
    INSTANCE_DEFAULT,
    RunPolicy,
    check,
    check_resolved,
    filled_in_violations,
    reshaped_mounts,
)
from app.domain.states import RunStatus, TriggerKind

STRICT = [
    "--allow-user",
    "nobody",
    "--allow-user",
    "app",
    "--allow-mount",
    "/srv/data",
    "--allow-image",
    "almanac-test-*",
    "--default-user",
    "nobody",
]


def _tasks(api: Api) -> int:
    with session_scope(api.engine) as session:
        return len(session.exec(select(Task.id)).all())


# ---- the pure rules ----------------------------------------------------------------------


def test_the_rules_name_each_field_outside_the_policy() -> None:
    policy = RunPolicy(users=("*",), mounts=("/srv/data",), images=("almanac-test-*",))
    assert (
        check(
            {
                "run_as_user": "app",
                "mounts": ["/srv/data/in:/in:ro"],
                "image": "almanac-test-busybox",
            },
            policy,
        )
        == []
    )
    found = check(
        {
            "run_as_user": "root",
            "mounts": ["/srv/data/../../etc:/x", "/srv/database:/y"],
            "image": "evil/busybox",
            "privileged": True,
        },
        policy,
    )
    assert [v.field for v in found] == [
        "run_as_user",
        "mounts[0]",
        "mounts[1]",
        "image",
        "privileged",
    ]
    for root in ("root", "0", "0:0", "root:wheel"):
        assert check({"run_as_user": root}, INSTANCE_DEFAULT), root
    assert check({"run_as_user": "root"}, RunPolicy(users=("root",))) == []
    assert check({"mounts": ["/tmp:/tmp"]}, INSTANCE_DEFAULT)[0].field == "mounts[0]"
    # the default user applies to host processes only; containers keep their image's user
    nobody = RunPolicy(users=("nobody",), default_user="nobody")
    assert check_resolved({"command": "id"}, nobody) == []
    assert check_resolved({"command": "id"}, RunPolicy(users=("app",))) == []


def test_filled_in_mounts_are_judged_where_the_written_ones_passed() -> None:
    """A placeholder may not carry a mount the policy allowed as written elsewhere, nor add
    a `..`; a mount written outside (an admin's) or one unchanged is not judged again."""
    policy = RunPolicy(mounts=("/srv/data",))
    written = ["/srv/data/${param.p}:/in", "/etc/${param.p}:/etc", "/srv/data/x:/x"]
    assert filled_in_violations(written, ["/srv/data/a/b:/in", "/etc/y:/etc", written[2]],
                                policy) == []  # fmt: skip
    [escape] = filled_in_violations(written, ["/srv/data/../../etc:/in", "/etc/y:/etc",
                                              written[2]], policy)  # fmt: skip
    assert escape.field == "mounts[0]" and "host path '/etc' is not allowed" in escape.problem
    [climb] = filled_in_violations(written[:1], ["/srv/data/l/../x:/in"], policy)
    assert climb.problem.endswith("climbs with '..'")
    assert filled_in_violations(written[:1], ["/../x:/in"], RunPolicy(mounts=None)) == []
    [relative] = filled_in_violations(written[:1], ["relative:/in"], policy)
    assert relative.field == "mounts[0]"


def test_a_filled_in_value_may_not_add_a_colon_to_a_mount() -> None:
    """A value inside one field may not move the target or drop `:ro`, policy or none."""
    written = ["/srv/data/${param.p}:/in:ro", "${param.p}:/x"]
    assert reshaped_mounts(written, ["/srv/data/a:/in:ro", "vol:/x"]) == []
    [moved] = reshaped_mounts(written, ["/srv/data/a:/etc:rw:/in:ro", "vol:/x"])
    assert moved.field == "mounts[0]" and moved.problem.endswith("a value added a ':'")
    [second] = reshaped_mounts(written, ["/srv/data/a:/in:ro", "/:/host:/x"])
    assert second.field == "mounts[1]"


def test_an_agent_without_a_policy_runs_unnamed_commands_as_nobody_when_root() -> None:
    assert load_policy(is_root=True).default_user == "nobody"
    assert load_policy(is_root=False).default_user is None
    assert load_policy(is_root=True, default_user="").default_user is None
    assert load_policy(is_root=True, users=["app"]).default_user == "app"
    assert not load_policy(is_root=True).privileged
    with pytest.raises(ValueError, match="default_user"):
        load_policy(is_root=True, users=["app"], default_user="nobody")


def test_dispatch_passes_over_an_agent_whose_policy_refuses_the_run() -> None:
    strict = AgentSlot(
        name="strict",
        labels={},
        max_runs=None,
        running=0,
        docker=True,
        policy=RunPolicy(users=("nobody",), default_user="nobody"),
    )
    open_ = AgentSlot(name="open", labels={}, max_runs=None, running=5, docker=True)
    assert choose_agent({"command": "id", "run_as_user": "root"}, [strict, open_]) is open_
    reason = choose_agent(
        {"command": "id", "run_as_user": "root", "target": "strict"}, [strict, open_]
    )
    assert isinstance(reason, str)
    assert "policy" in reason and "run_as_user" in reason and "strict" in reason
    assert choose_agent({"command": "id"}, [strict, open_]) is strict


def test_the_docker_executor_never_asks_for_privileges(tmp_path: Path) -> None:
    options = container_options(
        RunSpec(
            run_id=1,
            attempt=1,
            command="id",
            output_dir=tmp_path,
            image="almanac-test-busybox",
            mounts=("/srv:/srv",),
        )
    )
    assert options["privileged"] is False
    for key in ("cap_add", "devices", "pid_mode", "network_mode", "security_opt", "userns_mode"):
        assert key not in options


# ---- the server's gate -------------------------------------------------------------------


def test_an_operator_is_refused_root_a_host_mount_and_an_unlisted_image(secure_api: Api) -> None:
    client = secure_api.client
    operator = secure_api.token("op", role="operator", instances=["default"])
    base = {"command": "id", "instance": "default"}
    for extra, field in (
        ({"run_as_user": "root"}, "run_as_user"),
        ({"run_as_user": "0"}, "run_as_user"),
        ({"mounts": ["/etc:/host-etc:ro"]}, "mounts[0]"),
    ):
        response = client.post(
            "/api/v1/tasks",
            headers=operator,
            json={**base, "name": f"t-{field}-{len(extra)}", **extra},
        )
        assert response.status_code == 403, response.text
        assert response.json()["detail"].startswith(field + ":"), response.text
    assert _tasks(secure_api) == 0

    put = client.put(
        "/api/v1/policies/instances/default",
        json={"users": ["*"], "mounts": ["/srv/data"], "images": ["almanac-test-*"]},
    )
    assert put.status_code == 200, put.text
    refused = client.post(
        "/api/v1/tasks", headers=operator, json={**base, "name": "img", "image": "evil/busybox"}
    )
    assert refused.status_code == 403 and refused.json()["detail"].startswith("image:")
    allowed = client.post(
        "/api/v1/tasks",
        headers=operator,
        json={
            **base,
            "name": "ok",
            "image": "almanac-test-busybox",
            "run_as_user": "app",
            "mounts": ["/srv/data/in:/in:ro"],
        },
    )
    assert allowed.status_code == 201, allowed.text
    tid = allowed.json()["tid"]

    # an edit into what is not allowed changes nothing
    patched = client.patch(
        f"/api/v1/tasks/{tid}", headers=operator, json={"mounts": ["/srv/database:/db"]}
    )
    assert patched.status_code == 403 and patched.json()["detail"].startswith("mounts[0]:")
    assert client.get(f"/api/v1/tasks/{tid}").json()["mounts"] == ["/srv/data/in:/in:ro"]

    adhoc = client.post(
        "/api/v1/adhoc",
        headers=operator,
        json={"command": "id", "run_as_user": "root", "all": True},
    )
    assert adhoc.status_code == 403 and adhoc.json()["detail"].startswith("run_as_user:")


def test_an_admin_may_ask_for_what_the_policy_does_not_allow(secure_api: Api) -> None:
    client = secure_api.client
    admin = secure_api.token("adm", role="admin", instances=["default"])
    operator = secure_api.token("op2", role="operator", instances=["default"])
    response = client.post(
        "/api/v1/tasks",
        headers=admin,
        json={
            "name": "root-task",
            "command": "id",
            "run_as_user": "root",
            "mounts": ["/etc:/host-etc:ro"],
            "instance": "default",
        },
    )
    assert response.status_code == 201, response.text
    tid = response.json()["tid"]
    # an operator may not force the admin's root task; the admin may
    refused = client.post(f"/api/v1/tasks/{tid}/run", headers=operator)
    assert refused.status_code == 403 and refused.json()["detail"].startswith("run_as_user:")
    assert client.post(f"/api/v1/tasks/{tid}/run", headers=admin).status_code == 201


def test_an_agents_stored_policy_binds_what_targets_it(secure_api: Api) -> None:
    client = secure_api.client
    operator = secure_api.token("op3", role="operator", instances=["default"])
    assert client.put("/api/v1/policies/agents/db-host", json={"users": ["app"]}).status_code == 200
    response = client.post(
        "/api/v1/tasks",
        headers=operator,
        json={"name": "t", "command": "id", "run_as_user": "nobody", "target": "db-host"},
    )
    assert response.status_code == 403
    assert "run_as_user" in response.json()["detail"] and "db-host" in response.json()["detail"]
    ok = client.post(
        "/api/v1/tasks",
        headers=operator,
        json={"name": "t", "command": "id", "run_as_user": "app", "target": "db-host"},
    )
    assert ok.status_code == 201, ok.text


def test_who_edits_which_policy(secure_api: Api) -> None:
    client = secure_api.client
    admin = secure_api.token("scoped-admin", role="admin", instances=["default"])
    operator = secure_api.token("op4", role="operator", instances=["default"])
    viewer = secure_api.token("viewer4", role="viewer", instances=["default"])
    body = {"users": ["app"], "default_user": "app"}
    assert (
        client.put("/api/v1/policies/instances/default", headers=admin, json=body).status_code
        == 200
    )
    assert (
        client.put("/api/v1/policies/instances/other", headers=admin, json=body).status_code == 404
    )
    assert client.put("/api/v1/policies/agents/vm", headers=admin, json=body).status_code == 403
    assert (
        client.put("/api/v1/policies/instances/default", headers=operator, json=body).status_code
        == 403
    )
    read = client.get("/api/v1/policies/instances/default", headers=operator)
    assert read.status_code == 200 and read.json()["policy"]["users"] == ["app"]
    assert client.get("/api/v1/policies", headers=viewer).status_code == 403
    # the default shows where nothing is stored
    other = client.get("/api/v1/policies/instances/fresh").json()
    assert other["stored"] is False and other["policy"]["mounts"] == []
    for bad, field in (
        ({"mounts": ["relative/path"]}, "mounts"),
        ({"users": ["app"], "default_user": "nobody"}, "default_user"),
        ({"users": "app"}, "users"),
    ):
        answer = client.put("/api/v1/policies/instances/default", json=bad)
        assert answer.status_code == 422 and field in answer.text, answer.text
    assert client.get("/api/v1/policies/instances/default").json()["policy"]["users"] == ["app"]
    with session_scope(secure_api.engine) as session:
        actions = session.exec(select(AuditEvent.action, AuditEvent.actor)).all()
    assert ("policy.update", "scoped-admin") in actions


# ---- the agent itself --------------------------------------------------------------------


def test_the_agent_refuses_a_start_outside_its_policy_whatever_the_server_sends(
    tmp_path: Path,
) -> None:
    allowed_dir = tmp_path / "srv"
    allowed_dir.mkdir()
    server = drive(
        [
            start(1, "id -un", run_as_user="root"),
            start(2, "id -un", image="evil/busybox"),
            start(3, "id -un", image="almanac-test-busybox", mounts=["/etc:/host-etc:ro"]),
            start(4, "id -un"),  # no user named: the agent's default user
        ],
        [*STRICT, "--allow-mount", str(allowed_dir)],
        tmp_path,
    )
    reasons = {run_id: state.get("reason") for run_id, state in server.finals.items()}
    assert reasons[1] == "refused by agent policy: run_as_user: 'root' is not allowed"
    assert reasons[2] == "refused by agent policy: image: 'evil/busybox' is not allowed"
    assert str(reasons[3]).startswith("refused by agent policy: mounts[0]: '/etc:/host-etc:ro'")
    assert server.finals[4]["status"] == "SUCCESS", server.finals[4]
    assert server.logs[4].strip() == b"nobody"
    assert server.hello["resources"]["policy"]["users"] == ["nobody", "app"]
    assert server.hello["resources"]["policy"]["default_user"] == "nobody"


def test_a_symlink_into_a_forbidden_path_is_judged_by_where_it_leads(tmp_path: Path) -> None:
    allowed = tmp_path / "srv"
    allowed.mkdir()
    (allowed / "etc").symlink_to("/etc")
    server = drive(
        [start(1, "true", image="almanac-test-busybox", mounts=[f"{allowed}/etc:/x:ro"])],
        [*STRICT, "--allow-mount", str(allowed)],
        tmp_path,
    )
    assert str(server.finals[1]["reason"]).startswith("refused by agent policy: mounts[0]")


def test_the_agent_refuses_a_bind_of_etc_with_real_docker(tmp_path: Path) -> None:
    require("docker", docker_available(), "no Docker engine answered a ping")
    server = drive(
        [
            start(
                901,
                "cat /host-etc/shadow",
                image="almanac-test-busybox",
                mounts=["/etc:/host-etc:ro"],
            ),
            start(902, "echo inside", image="almanac-test-busybox"),
        ],
        STRICT,
        tmp_path,
    )
    assert str(server.finals[901]["reason"]).startswith("refused by agent policy: mounts[0]")
    assert server.finals[902]["status"] == "SUCCESS", server.finals[902]
    client = docker.from_env()
    try:
        assert client.containers.list(all=True, filters={"name": container_name(901, 1)}) == []
    finally:
        client.close()


def test_dispatch_leaves_a_run_waiting_when_the_agents_policy_refuses_it(tmp_path: Path) -> None:
    """A real server (its instance policy permissive) and a real strict agent."""
    live = start_live_server(tmp_path / "data", local_agent=False)
    token_file = tmp_path / "token"
    proc = None
    try:
        http = live.client()
        token_file.write_text(http.post("/agents/tokens", json={"name": "strict"}).json()["token"])
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "agent",
                "--server",
                live.url,
                "--token-file",
                str(token_file),
                "--name",
                "strict",
                "--data-dir",
                str(tmp_path / "agent"),
                *STRICT,
            ]
        )
        agents: list[dict[str, Any]] = wait_for(
            lambda: [a for a in http.get("/agents").json() if a["connected"]], timeout=30
        )
        assert agents[0]["resources"]["policy"]["users"] == ["nobody", "app"]
        # the superadmin may ask the server for root; the agent would refuse, so it gets none
        task = http.post(
            "/tasks", json={"name": "root", "command": "id", "run_as_user": "root"}
        ).json()
        run = http.post(f"/tasks/{task['tid']}/run").json()
        waiting = wait_for(
            lambda: (r := http.get(f"/runs/{run['id']}").json())["reason"] and r, timeout=20
        )
        assert waiting["status"] == "ACTIVE"
        assert "policy" in waiting["reason"] and "run_as_user" in waiting["reason"]
        fine = http.post("/tasks", json={"name": "fine", "command": "id -un"}).json()
        done = http.post(f"/tasks/{fine['tid']}/run").json()
        ended = wait_for(
            lambda: (
                (r := http.get(f"/runs/{done['id']}").json())["status"] in ("SUCCESS", "FAILED")
                and r
            ),
            timeout=30,
        )
        assert ended["status"] == "SUCCESS", ended
        logs = http.get(f"/runs/{done['id']}/logs").text
        assert "nobody" in logs
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        live.stop()


def test_a_token_file_is_how_an_agent_gets_its_token(tmp_path: Path) -> None:
    """Empty or missing: the agent does not start."""
    empty = tmp_path / "empty"
    empty.write_text("\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli.main",
            "agent",
            "--server",
            "http://127.0.0.1:9",
            "--token-file",
            str(empty),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0 and "token" in result.stderr


def test_an_import_is_held_to_the_same_policies(secure_api: Api) -> None:
    client = secure_api.client
    operator = secure_api.token("op5", role="operator", instances=["default"])
    document = {
        "format": "almanac/v1",
        "tasks": [
            {"name": "harmless", "instance": "default", "command": "true"},
            {"name": "rooted", "instance": "default", "command": "id", "run_as_user": "root"},
        ],
    }
    for dry_run in ("true", "false"):
        refused = client.post(
            "/api/v1/import", headers=operator, json=document, params={"dry_run": dry_run}
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"].startswith("tasks[rooted].run_as_user:")
    assert _tasks(secure_api) == 0
    admin = client.post("/api/v1/import", json=document, params={"dry_run": "false"})
    assert admin.status_code == 200, admin.text
    assert _tasks(secure_api) == 2


def _stored_run(api: Api, status: RunStatus, spec: dict[str, Any]) -> int:
    with session_scope(api.engine) as session:
        run = create_run_in(
            session,
            status,
            at=datetime.now(UTC),
            trigger_kind=TriggerKind.MANUAL,
            spec=spec,
            instance="default",
        )
        return run.id or 0


def _status(api: Api, run_id: int) -> str:
    with session_scope(api.engine) as session:
        return get_run(session, run_id).status


def test_an_approval_or_a_rerun_meets_the_policies_as_they_are_now(secure_api: Api) -> None:
    """A run made before a policy held it (submitted, or run last month) is checked again
    when an operator lets it go: as root it waits for an admin."""
    client = secure_api.client
    operator = secure_api.token("op3", role="operator", instances=["default"])
    admin = secure_api.token("adm3", role="admin", instances=["default"])
    root = {"command": "id", "run_as_user": "root"}
    waiting = _stored_run(secure_api, RunStatus.PENDING_APPROVAL, root)
    refused = client.post(f"/api/v1/runs/{waiting}/approve", headers=operator)
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"].startswith("run_as_user:")
    assert _status(secure_api, waiting) == "PENDING_APPROVAL"
    assert client.post(f"/api/v1/runs/{waiting}/approve", headers=admin).status_code == 200
    assert _status(secure_api, waiting) == "ACTIVE"

    ended = _stored_run(secure_api, RunStatus.FAILED, root)
    refused = client.post(f"/api/v1/runs/{ended}/rerun", headers=operator)
    assert refused.status_code == 403 and refused.json()["detail"].startswith("run_as_user:")
    assert _status(secure_api, ended) == "FAILED"  # the refused re-run changed nothing
    harmless = _stored_run(secure_api, RunStatus.FAILED, {"command": "id"})
    assert client.post(f"/api/v1/runs/{harmless}/rerun", headers=operator).json() == [harmless]
    assert client.post(f"/api/v1/runs/{ended}/rerun", headers=admin).json() == [ended]
