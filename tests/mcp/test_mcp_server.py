"""`almanac mcp` over stdio, driven by the MCP SDK's own client against a live server: it lists
its tools, reads why a run is not running, and a viewer's token is refused a kill by the
server (the tool reports the 403; the run goes on). An operator's token forces a task, searches
its run's output, reads a forecast and kills a waiting run: the audit log names the operator."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from support import LiveServer, seed_user, wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    return shared_agent_ready


def _almanac_mcp(live: LiveServer, token: str) -> StdioServerParameters:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "app.cli.main", "mcp"],
        env={"ALMANAC_URL": live.url, "ALMANAC_TOKEN": token, "PYTHONPATH": path},
        cwd=str(ROOT),
    )


def _waiting_run(live: LiveServer, name: str = "mcp-far") -> int:
    with live.client() as http:
        tid = http.post(
            "/tasks", json={"name": name, "command": "true", "target": "mcp-nowhere"}
        ).json()["tid"]
        run_id = int(http.post(f"/tasks/{tid}/run").json()["id"])
        wait_for(lambda: http.get(f"/runs/{run_id}").json()["reason"])
    return run_id


async def test_an_assistant_lists_tools_reads_why_and_a_viewer_cannot_kill(
    agent_ready: LiveServer,
) -> None:
    live = agent_ready
    run_id = _waiting_run(live)
    async with Client(_almanac_mcp(live, live.token)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert {"list_tasks", "list_runs", "why_run", "run_logs", "forecast"} <= set(tools)
        assert {"force_task_run", "kill_run", "pause_run", "approve_run"} <= set(tools)
        assert tools["why_run"].annotations and tools["why_run"].annotations.read_only_hint
        assert tools["kill_run"].annotations and tools["kill_run"].annotations.destructive_hint

        why = await client.call_tool("why_run", {"run_id": run_id})
        assert not why.is_error, why.content
        answer: dict[str, Any] = why.structured_content
        assert answer["status"] == "ACTIVE"
        details = " ".join(item["detail"] for item in answer["waiting_for"])
        assert "mcp-nowhere" in details

    viewer = seed_user(live.engine, "mcp-viewer", role="viewer")
    async with Client(_almanac_mcp(live, viewer)) as client:
        seen = await client.call_tool("get_run", {"run_id": run_id})
        assert not seen.is_error and seen.structured_content["id"] == run_id
        refused = await client.call_tool("kill_run", {"run_id": run_id})
        assert refused.is_error
        assert "HTTP 403" in " ".join(getattr(c, "text", "") for c in refused.content)
    with live.client() as http:
        assert http.get(f"/runs/{run_id}").json()["status"] == "ACTIVE"
        http.post(f"/runs/{run_id}/kill")  # tidy: the shared server's other tests go on


async def test_an_operator_forces_searches_forecasts_and_kills_audited_in_their_name(
    agent_ready: LiveServer,
) -> None:
    live = agent_ready
    waiting = _waiting_run(live, "mcp-far-for-the-operator")
    with live.client() as http:
        created = http.post(
            "/tasks",
            json={
                "name": "mcp-operator-job",
                "command": "printf 'alpha\\nneedle 1\\nbeta\\nneedle 22\\nomega\\n'",
                # The 1st of each month, 09:00 UTC: never fires during the test (inactive).
                "schedule": {"kind": "cron", "cron": "0 9 1 * *", "timezone": "UTC"},
                "active": False,
            },
        )
        assert created.status_code == 201, created.text
        tid = created.json()["tid"]
    operator = seed_user(live.engine, "mcp-operator", role="operator")
    async with Client(_almanac_mcp(live, operator)) as client:
        forced = await client.call_tool("force_task_run", {"tid": tid})
        assert not forced.is_error, forced.content
        run_id = forced.structured_content["id"]
        with live.client() as http:
            wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] == "SUCCESS")

        found = await client.call_tool("run_logs", {"run_id": run_id, "search": "needle"})
        assert not found.is_error, found.content
        texts = [line["text"] for line in found.structured_content["lines"]]
        assert texts == ["needle 1", "needle 22"]
        assert found.structured_content["total_lines"] == 5
        numbers = [line["line"] for line in found.structured_content["lines"]]
        assert numbers[1] - numbers[0] == 2
        pattern = {"run_id": run_id, "search": r"^needle \d\d$", "regex": True}
        matched = await client.call_tool("run_logs", pattern)
        assert [line["text"] for line in matched.structured_content["lines"]] == ["needle 22"]
        tail = await client.call_tool("run_logs", {"run_id": run_id, "max_lines": 2})
        assert [line["text"] for line in tail.structured_content["lines"]] == ["needle 22", "omega"]
        bad = await client.call_tool("run_logs", {"run_id": run_id, "search": "(", "regex": True})
        assert bad.is_error

        ahead = await client.call_tool("forecast", {"tid": tid, "count": 3})
        assert not ahead.is_error, ahead.content
        times = [datetime.fromisoformat(o["at"]) for o in ahead.structured_content["occurrences"]]
        assert len(times) == 3 and datetime.now(UTC) < times[0]
        assert all(
            (t.day, t.hour, t.minute, t.utcoffset()) == (1, 9, 0, timedelta()) for t in times
        )
        months = [t.year * 12 + t.month for t in times]
        assert months == [months[0], months[0] + 1, months[0] + 2]
        neither = await client.call_tool("forecast", {})
        assert neither.is_error

        killed = await client.call_tool("kill_run", {"run_id": waiting})
        assert not killed.is_error, killed.content
    with live.client() as http:
        assert http.get(f"/runs/{waiting}").json()["status"] == "TERMINATED"
        audit = http.get("/audit", params={"actor": "mcp-operator"}).json()["items"]
    done = {(row["action"], row["target_id"]) for row in audit}
    assert {("task.run", str(run_id)), ("run.kill", str(waiting))} <= done
    assert {row["actor"] for row in audit} == {"mcp-operator"}
