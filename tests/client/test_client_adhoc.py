"""Adhoc batches through the API and the client: one run per agent, output, kill, roles."""

from __future__ import annotations

import pytest
from support import LiveServer, seed_user, wait_for

from app.client import Almanac, AlmanacAPIError


def test_a_batch_runs_on_the_chosen_agent_and_streams_its_output(
    client: Almanac, agent_name: str
) -> None:
    batch = client.adhoc.start("echo hello; echo oops >&2", agents=[agent_name], env={"X": "1"})
    assert batch.statuses() == {agent_name: "ACTIVE"}
    [run] = batch.runs
    assert run.data["trigger_kind"] == "adhoc" and run.data["task"] is None
    assert run.data["batch_id"] == batch.batch_id and run.data["target"] == agent_name
    changes: list[tuple[str, str]] = []
    lines: list[tuple[str, str, str]] = []
    final = batch.wait(
        timeout=60,
        on_change=lambda a, s: changes.append((a, s)),
        on_line=lambda a, stream, line: lines.append((a, stream, line)),
    )
    assert final == {agent_name: "SUCCESS"}
    assert changes[-1] == (agent_name, "SUCCESS")
    assert sorted(lines) == [(agent_name, "stderr", "oops"), (agent_name, "stdout", "hello")]
    assert client.adhoc.get(batch.batch_id).summary == {"SUCCESS": 1}
    assert run.refresh().data["agent"] == agent_name


def test_all_and_labels_choose_online_agents(client: Almanac, agent_name: str) -> None:
    batch = client.adhoc.start("true", all=True)
    assert list(batch.statuses()) == [agent_name]
    with pytest.raises(AlmanacAPIError) as refused:
        client.adhoc.start("true", labels={"gpu": "a100"})
    assert refused.value.status == 422 and "labels" in refused.value.detail
    with pytest.raises(AlmanacAPIError) as unknown:
        client.adhoc.start("true", agents=["ghost"])
    assert unknown.value.status == 422 and "unknown agent 'ghost'" in unknown.value.detail
    with pytest.raises(AlmanacAPIError) as both:
        client.request(
            "POST", "/adhoc", json={"command": "true", "all": True, "agents": [agent_name]}
        )
    assert both.value.status == 422 and "exactly one" in both.value.detail
    batch.wait(timeout=60)


def test_kill_stops_every_run_of_the_batch(client: Almanac, agent_name: str) -> None:
    batch = client.adhoc.start("sleep 60", agents=[agent_name])
    wait_for(lambda: batch.refresh().statuses()[agent_name] == "RUNNING", timeout=30)
    client.adhoc.kill(batch.batch_id)
    assert batch.wait(timeout=30) == {agent_name: "TERMINATED"}


def test_a_user_waits_for_approval_and_a_viewer_is_refused(
    agent_ready: LiveServer, agent_name: str
) -> None:
    user = seed_user(agent_ready.engine, "submitter", role="user")
    viewer = seed_user(agent_ready.engine, "watcher", role="viewer")
    with Almanac(agent_ready.url, user) as as_user:
        batch = as_user.adhoc.start("true", agents=[agent_name])
        assert batch.summary == {"PENDING_APPROVAL": 1}
        with pytest.raises(AlmanacAPIError) as no_kill:
            as_user.adhoc.kill(batch.batch_id)
        assert no_kill.value.status == 403
    with Almanac(agent_ready.url, viewer) as as_viewer, pytest.raises(AlmanacAPIError) as err:
        as_viewer.adhoc.start("true", agents=[agent_name])
    assert err.value.status == 403
    with Almanac(agent_ready.url, agent_ready.token) as admin:
        assert admin.adhoc.kill(batch.batch_id).summary == {"REJECTED": 1}


def test_submit_one_run_with_resources(client: Almanac, agent_name: str) -> None:
    run = client.adhoc.submit(
        "echo $GREETING", agent_name, env={"GREETING": "hi there"}, cpus=1, memory="256M"
    )
    assert run.wait(timeout=60, on_change=lambda _s: None) == "SUCCESS"
    assert run.logs() == "hi there\n"
    assert run.get_agent() == agent_name
