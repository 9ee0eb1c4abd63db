"""Commands run only on agents: the server process never runs a user's command itself.

`almanac server` starts its built-in agent as a child process, and the agent starts each
command. So the command's parent chain must be exactly: the command's shell → the agent
process (`python -m app.cli.main agent ...`) → the server process (here: this pytest process,
which runs uvicorn in a thread). The shell is never the server's own child, and it does not
inherit the server's secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
from support import LiveServer, start_live_server, wait_for

from app.secrets import KEY_ENV

# POSIX sh only: walk /proc from the shell itself ($$) up to init, one pid per line.
ANCESTRY = """pid=$$
while [ "$pid" -gt 1 ]; do
  echo "$pid"
  ppid=0
  while read -r key value; do
    if [ "$key" = "PPid:" ]; then ppid=$value; fi
  done < /proc/$pid/status
  pid=$ppid
done > {chain}
env > {env}
"""


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv(KEY_ENV, "c2VjcmV0LWtleS1vZi10aGUtc2VydmVyLTMyYnl0ZXM=")
    live = start_live_server(tmp_path / "data")
    try:
        yield live
    finally:
        live.stop()
        live.engine.dispose()


def _agent_process(server_pid: int, server_url: str) -> psutil.Process:
    """The built-in agent of the server at `server_url` (another live server of this test
    process has its own)."""
    port = f":{urlsplit(server_url).port}"

    def find() -> psutil.Process | None:
        for child in psutil.Process(server_pid).children():
            argv = child.cmdline()
            if "agent" in argv and "app.cli.main" in argv and "--server" in argv:
                if argv[argv.index("--server") + 1].endswith(port):
                    return child
        return None

    found: psutil.Process = wait_for(find)
    return found


def test_a_command_runs_in_the_agent_never_in_the_server(
    server: LiveServer, tmp_path: Path
) -> None:
    chain_file, env_file = tmp_path / "chain.txt", tmp_path / "env.txt"
    with server.client() as http:
        wait_for(lambda: any(a["connected"] for a in http.get("/agents").json()))
        tid = http.post(
            "/tasks",
            json={
                "name": "who-runs-me",
                "command": ANCESTRY.format(chain=chain_file, env=env_file),
            },
        ).json()["tid"]
        run_id = http.post(f"/tasks/{tid}/run").json()["id"]
        wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] == "SUCCESS", timeout=30)
    chain = [int(line) for line in chain_file.read_text().split()]
    server_pid = psutil.Process().pid
    agent = _agent_process(server_pid, server.url)
    assert agent.pid != server_pid
    assert chain[1:3] == [agent.pid, server_pid], (chain, agent.pid, server_pid)
    assert server_pid not in (chain[0], chain[1])
    environment = env_file.read_text()
    for secret in (KEY_ENV, "ALMANAC_AGENT_TOKEN", "ALMANAC_ADMIN_PASSWORD"):
        assert secret not in environment
