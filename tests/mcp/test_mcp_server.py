"""`almanac mcp` over stdio, driven by the MCP SDK's own client against a live server: it lists
its tools, reads why a run is not running, and a viewer's token is refused a kill by the
server (the tool reports the 403; the run goes on)."""

from __future__ import annotations

import os
import sys
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


def _waiting_run(live: LiveServer) -> int:
    with live.client() as http:
        tid = http.post(
            "/tasks", json={"name": "mcp-far", "command": "true", "target": "mcp-nowhere"}
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
