"""`almanac task history|rollback` and `almanac group history|rollback` against a real
server: changes the command line makes are recorded as made via cli."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import LiveServer, start_live_server
from typer.testing import CliRunner

from app.cli.main import cli


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path / "data", local_agent=False)
    try:
        yield live
    finally:
        live.stop()
        live.engine.dispose()


def test_task_and_group_history_and_rollback_from_the_command_line(server: LiveServer) -> None:
    runner = CliRunner()
    env = {"ALMANAC_URL": server.url, "ALMANAC_TOKEN": server.token, "COLUMNS": "200"}

    def almanac(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    created = json.loads(
        almanac("task", "create", "--name", "load", "--command", "echo one", "--json")
    )
    tid = str(created["tid"])
    almanac("task", "update", tid, "--command", "echo two")
    listed = json.loads(almanac("task", "history", tid, "--json"))
    assert [(v["number"], v["via"]) for v in listed] == [(2, "cli"), (1, "cli")]
    assert listed[0]["changed"] == ["command"]
    assert "cli" in almanac("task", "history", tid)
    assert '~ command: "echo one" -> "echo two"' in almanac("task", "history", tid, "2")
    rolled = almanac("task", "rollback", tid, "1")
    assert rolled.startswith("version 3 (rolled back to 1) by admin via cli")
    with server.client() as http:
        assert http.get(f"/tasks/{tid}").json()["command"] == "echo one"
        gid = http.post("/groups", json={"name": "etl"}).json()["gid"]
        http.patch(f"/groups/{gid}", json={"description": "nightly"})
    assert "~ description" in almanac("group", "history", str(gid), "2")
    assert almanac("group", "rollback", str(gid), "1").startswith("version 3 (rolled back to 1)")
    refused = runner.invoke(cli, ["task", "rollback", tid, "9"], env=env)
    assert refused.exit_code == 1 and "not found" in refused.output
