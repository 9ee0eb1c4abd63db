"""`almanac mcp --http`, a real process in front of a live server, driven by the MCP SDK's own
streamable HTTP client: no token or a token the server refuses gets a 401 before MCP; an
operator's token reads why a run waits; a viewer's token reads the run and is refused a kill
by the server (the run goes on)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from support import LiveServer, free_port, seed_user, wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    return shared_agent_ready


@pytest.fixture
def mcp_url(agent_ready: LiveServer) -> Iterator[str]:
    port = free_port()
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "mcp", "--http", "--port", str(port)],
        env={**os.environ, "ALMANAC_URL": agent_ready.url, "PYTHONPATH": path},
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_for(lambda: _answers(url), timeout=60)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        httpx.post(url, json={}, timeout=2)
    except httpx.TransportError:
        return False
    return True


def _client(url: str, token: str) -> Client:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    return Client(streamable_http_client(url, http_client=http))


def _waiting_run(live: LiveServer) -> int:
    with live.client() as http:
        tid = http.post(
            "/tasks", json={"name": "mcp-http-far", "command": "true", "target": "mcp-http-none"}
        ).json()["tid"]
        run_id = int(http.post(f"/tasks/{tid}/run").json()["id"])
        wait_for(lambda: http.get(f"/runs/{run_id}").json()["reason"])
    return run_id


def test_no_token_or_a_refused_one_is_answered_401(mcp_url: str) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    bare = httpx.post(mcp_url, json=hello)
    assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.post(mcp_url, json=hello, headers={"Authorization": "Bearer alm_not-a-token"})
    assert wrong.status_code == 401


async def test_each_request_acts_with_its_own_token(agent_ready: LiveServer, mcp_url: str) -> None:
    live = agent_ready
    run_id = _waiting_run(live)
    async with _client(mcp_url, live.token) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"why_run", "kill_run", "run_logs"} <= tools
        why = await client.call_tool("why_run", {"run_id": run_id})
        assert not why.is_error, why.content
        details = " ".join(item["detail"] for item in why.structured_content["waiting_for"])
        assert "mcp-http-none" in details

    viewer = seed_user(live.engine, "mcp-http-viewer", role="viewer")
    async with _client(mcp_url, viewer) as client:
        seen = await client.call_tool("get_run", {"run_id": run_id})
        assert not seen.is_error and seen.structured_content["id"] == run_id
        refused = await client.call_tool("kill_run", {"run_id": run_id})
        assert refused.is_error
        assert "HTTP 403" in " ".join(getattr(c, "text", "") for c in refused.content)
    with live.client() as http:
        assert http.get(f"/runs/{run_id}").json()["status"] == "ACTIVE"
        http.post(f"/runs/{run_id}/kill")  # tidy: the shared server's other tests go on
