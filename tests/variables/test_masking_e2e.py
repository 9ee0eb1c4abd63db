"""A secret printed by a real command, whole and split across two output chunks, is stored
and served masked; variables reach the command as ALMANAC_VAR_<NAME>."""

from __future__ import annotations

import pytest
from sqlmodel import col, select
from support import LiveServer, wait_for

from app.db.engine import session_scope
from app.db.tables import LogChunk

SET_SECRET = "hunter2-Zq9xVw"
TASK_SECRET = "tsk-secret-7781"
TERMINAL = {"SUCCESS", "FAILED", "TERMINATED"}


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    return shared_agent_ready


def _finished(live: LiveServer, run_id: int) -> dict:
    with live.client() as http:
        wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] in TERMINAL, timeout=30)
        return dict(http.get(f"/runs/{run_id}").json())


def test_secrets_are_masked_whole_and_split(agent_ready: LiveServer) -> None:
    command = (
        'echo "whole $ALMANAC_VAR_DB_PASSWORD end"; '
        "printf 'part hunter'; sleep 1; printf '2-Zq9xVw tail\\n'; "
        'echo "task $API_KEY and region $ALMANAC_VAR_REGION"; '
        "printf 'err tsk-sec' >&2; sleep 1; printf 'ret-7781\\n' >&2"
    )
    with agent_ready.client() as http:
        made = http.post(
            "/variable-sets",
            json={
                "name": "mask-e2e",
                "variables": {"REGION": "eu-west"},
                "secrets": {"DB_PASSWORD": SET_SECRET},
            },
        )
        assert made.status_code == 201, made.text
        task = http.post(
            "/tasks",
            json={
                "name": "mask-e2e",
                "command": command,
                "secrets": {"API_KEY": TASK_SECRET},
                "variable_sets": ["mask-e2e"],
            },
        )
        assert task.status_code == 201, task.text
        run_id = http.post(f"/tasks/{task.json()['tid']}/run").json()["id"]
        run = _finished(agent_ready, run_id)
        assert run["status"] == "SUCCESS", run
        out = http.get(f"/runs/{run_id}/logs", params={"stream": "stdout"}).json()["lines"]
        err = http.get(f"/runs/{run_id}/logs", params={"stream": "stderr"}).json()["lines"]
        download = http.get(f"/runs/{run_id}/logs/download", params={"stream": "stdout"})
        detail = http.get(f"/runs/{run_id}").text
    assert out == ["whole *** end", "part *** tail", "task *** and region eu-west"]
    assert err == ["err ***"]
    with session_scope(agent_ready.engine) as session:
        chunks = session.exec(
            select(LogChunk.stream, LogChunk.data)
            .where(LogChunk.run_id == run_id)
            .order_by(col(LogChunk.stream), col(LogChunk.offset))
        ).all()
    stored = b"".join(bytes(data) for _, data in chunks)
    for secret in (SET_SECRET, TASK_SECRET):
        assert secret.encode() not in stored
        assert secret not in detail
        assert secret not in download.text
    # The split really happened: the part before the secret was stored on its own.
    assert any(bytes(data).endswith(b"part ") for _, data in chunks)
    assert any(bytes(data).endswith(b"err ") for _, data in chunks)
