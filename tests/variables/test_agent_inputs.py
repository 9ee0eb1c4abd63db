"""An upstream's output files go only to the agent holding a downstream run of the same
group run, with that agent's own token; nobody else gets them through this door."""

from __future__ import annotations

from datetime import UTC, datetime

from run_moves import create_run_in
from security.sec_support import Api

from app.db.engine import session_scope
from app.db.tables import AgentToken, DependencyEdge, GroupRun, RunOutput, Task, TaskGroup
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import RunStatus, TriggerKind
from app.security import hash_token

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _world(api: Api) -> tuple[int, int, int]:
    """(downstream run held by agent a1, its upstream's run, a run outside the group run)."""
    with session_scope(api.engine) as session:
        for name, agent in (("tok-a1", "a1"), ("tok-a2", "a2")):
            session.add(AgentToken(name=name, agent_name=agent, token_hash=hash_token(name)))
        group = TaskGroup(name="g")
        session.add(group)
        session.flush()
        up, down = (
            Task(name="up", command="true", group_id=group.id),
            Task(name="down", command="true", group_id=group.id),
        )
        session.add_all([up, down])
        session.flush()
        session.add(
            DependencyEdge(
                group_id=group.id or 0, upstream_id=up.id or 0, downstream_id=down.id or 0
            )
        )
        group_run = GroupRun(
            group_id=group.id or 0,
            status=GroupRunStatus.RUNNING,
            trigger_kind=TriggerKind.MANUAL,
        )
        session.add(group_run)
        session.flush()
        runs = []
        for task, status in (
            (up, RunStatus.SUCCESS),
            (down, RunStatus.RUNNING),
            (up, RunStatus.SUCCESS),
        ):
            run = create_run_in(
                session,
                status,
                at=AT,
                trigger_kind=TriggerKind.MANUAL,
                spec={"command": "true", "task_name": task.name},
                task=task,
            )
            runs.append(run)
        runs[0].group_run_id = runs[1].group_run_id = group_run.id
        session.add(RunOutput(run_id=runs[0].id or 0, attempt=1, name="d/x.txt", size=5))
        session.add(RunOutput(run_id=runs[2].id or 0, attempt=1, name="y.txt", size=5))
        ids = runs[1].id or 0, runs[0].id or 0, runs[2].id or 0
    for run_id, name in ((ids[1], "d/x.txt"), (ids[2], "y.txt")):
        path = api.data_dir / "outputs" / str(run_id) / "1" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"hello")
    return ids


def test_only_the_holding_agent_fetches_upstream_outputs(var_api: Api) -> None:
    down, up, outside = _world(var_api)
    client = var_api.client
    url = f"/api/v1/agents/inputs/{down}/1/{up}/d/x.txt"
    holder = {"Authorization": "Bearer tok-a1"}
    fetched = client.get(url, headers=holder)
    assert fetched.status_code == 200 and fetched.content == b"hello"
    assert client.get(url, headers={"Authorization": "Bearer tok-a2"}).status_code == 404
    assert client.get(url).status_code == 401  # the superadmin's token is not an agent's
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    other = f"/api/v1/agents/inputs/{down}/1/{outside}/y.txt"  # not an upstream of the run
    assert client.get(other, headers=holder).status_code == 404
    assert (
        client.get(f"/api/v1/agents/inputs/{down}/2/{up}/d/x.txt", headers=holder).status_code
        == 404
    )
