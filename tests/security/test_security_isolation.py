"""Isolation on one host: the data directory and spool are private to the service user, and
a command the built-in agent starts cannot read the agent's token, the database or another
attempt's spool. Real `almanac server` and agent processes, real users (the machine runs the
tests as root, and `nobody` exists)."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from security.fake_server import drive, start
from support import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Isolation-test-42"
SECRET = "s3cr3t-value-42"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as nobody")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@dataclass
class Server:
    url: str
    data: Path
    http: httpx.Client
    process: subprocess.Popen[bytes]

    def run(self, command: str, **fields: Any) -> int:
        name = f"t{abs(hash((command, tuple(fields)))) % 10**8}"
        task = self.http.post("/tasks", json={"name": name, "command": command, **fields})
        assert task.status_code == 201, task.text
        run = self.http.post(f"/tasks/{task.json()['tid']}/run")
        assert run.status_code == 201, run.text
        return int(run.json()["id"])

    def wait(self, run_id: int, *statuses: str) -> dict[str, Any]:
        return wait_for(
            lambda: (r := self.http.get(f"/runs/{run_id}").json())["status"] in statuses and r,
            timeout=60,
        )

    def stdout(self, run_id: int) -> str:
        response = self.http.get(f"/runs/{run_id}/logs/download")
        return response.text


@pytest.fixture
def server() -> Iterator[Server]:
    """`almanac server` with its built-in agent and no policy file: the safe defaults. Its data
    directory sits in a folder others may pass through (as /var/lib would be), left behind
    by an "older version" with open modes."""
    base = Path(tempfile.mkdtemp(prefix="almanac-iso-"))
    os.chmod(base, 0o755)
    data = base / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "almanac.db").touch(mode=0o644)
    os.chmod(data / "almanac.db", 0o644)
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ALMANAC_ADMIN_PASSWORD": PASSWORD,
        "HOME": str(base),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli.main",
            "server",
            "--port",
            str(port),
            "--data-dir",
            str(data),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout=60)
        token = httpx.post(
            url + "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
        ).json()
        http = httpx.Client(
            base_url=url + "/api/v1",
            timeout=30,
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        wait_for(lambda: any(a["connected"] for a in http.get("/agents").json()), timeout=60)
        yield Server(url=url, data=data, http=http, process=process)
        http.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(base, ignore_errors=True)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/api/v1/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_data_dir_database_and_spool_are_private_after_start(server: Server) -> None:
    data = server.data
    spool = data / "local-agent" / "spool"
    holder = server.run("sleep 20", env={"API_KEY": SECRET})
    server.wait(holder, "RUNNING")
    folder = spool / f"{holder}-1"
    # folders on the way to a run's output folder: others may pass, never list
    assert mode(data) == 0o711
    assert mode(data / "local-agent") == 0o711
    assert mode(spool) == 0o711
    for name in ("almanac.db", "almanac.db-wal", "almanac.db-shm", "secret.key"):
        if (data / name).exists():
            assert mode(data / name) == 0o600, name
    assert mode(data / "almanac.db") == 0o600  # it was 0644 before the start
    for path in folder.iterdir():
        if path.is_file():
            assert mode(path) == 0o600, path
    assert mode(folder / "outputs") == 0o700
    assert (folder / "outputs").stat().st_uid == pwd.getpwnam("nobody").pw_uid
    free = [p for p in spool.iterdir() if p.name.startswith("free-")]
    assert free and all(mode(p) == 0o700 for p in free[:20])
    server.http.post(f"/runs/{holder}/kill")


def test_a_command_cannot_read_the_agents_token_the_database_or_another_attempts_spool(
    server: Server,
) -> None:
    data = server.data
    spool = data / "local-agent" / "spool"
    holder = server.run("echo started; sleep 30", env={"API_KEY": SECRET})
    server.wait(holder, "RUNNING")
    wait_for(lambda: (spool / f"{holder}-1" / "stdout").stat().st_size > 0, timeout=20)
    other = spool / f"{holder}-1"
    probe = "; ".join(
        [
            "id -un",
            "cat /proc/$PPID/environ > /dev/null 2>&1 && echo environ:readable"
            " || echo environ:denied",
            f"cat {data}/almanac.db > /dev/null 2>&1 && echo db:readable || echo db:denied",
            f"grep -q {SECRET} {other}/journal.jsonl 2>/dev/null && echo journal:readable "
            "|| echo journal:denied",
            f"cat {other}/stdout > /dev/null 2>&1 && echo stdout:readable || echo stdout:denied",
            f"ls {spool} > /dev/null 2>&1 && echo spool:listable || echo spool:unlistable",
            f"ls {data} > /dev/null 2>&1 && echo data:listable || echo data:unlistable",
            'echo mine > "$ALMANAC_OUTPUT_DIR/mine.txt" && echo output:ok',
            "echo ppid=$PPID",
        ]
    )
    run_id = server.run(probe)
    ended = server.wait(run_id, "SUCCESS", "FAILED")
    assert ended["status"] == "SUCCESS", ended
    lines = server.stdout(run_id).split()
    assert lines[0] == "nobody"  # no run_as_user: the agent's default user, not root
    for seen in (
        "environ:denied",
        "db:denied",
        "journal:denied",
        "stdout:denied",
        "spool:unlistable",
        "data:unlistable",
        "output:ok",
    ):
        assert seen in lines, lines
    assert SECRET not in server.stdout(run_id)
    # its own output folder was reachable: the file reached the server
    assert "mine.txt" in server.http.get(f"/runs/{run_id}/outputs").text
    # Even root finds no token in the agent's environment or command line: it came on stdin.
    agent_pid = int(next(x for x in lines if x.startswith("ppid="))[5:])
    assert b"ALMANAC_AGENT_TOKEN" not in Path(f"/proc/{agent_pid}/environ").read_bytes()
    assert b"alm_agent" not in Path(f"/proc/{agent_pid}/cmdline").read_bytes()
    assert b"ALMANAC_ADMIN_PASSWORD" not in Path(f"/proc/{agent_pid}/environ").read_bytes()
    server.http.post(f"/runs/{holder}/kill")


_PEEK = """
import os, subprocess, sys
from private_files import make_non_dumpable
if sys.argv[1] == "on":
    assert make_non_dumpable()
peek = subprocess.run(["cat", f"/proc/{os.getpid()}/environ"], capture_output=True)
print(peek.returncode, b"SECRET_TOKEN" in peek.stdout)
"""


@pytest.mark.parametrize(("setting", "expected"), [("off", "0 True"), ("on", "1 False")])
def test_a_non_dumpable_agent_hides_its_environment_from_its_own_user(
    setting: str, expected: str
) -> None:
    """Both processes run as `nobody`: the same uid reads /proc/<pid>/environ unless the
    reader's target made itself non-dumpable (the agent does at start)."""
    nobody = pwd.getpwnam("nobody")
    # The module (standard library only) in a folder `nobody` can reach: the checkout may
    # sit in a private one.
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        os.chmod(folder, 0o755)
        shutil.copy(REPO / "app" / "private_files.py", folder)
        result = subprocess.run(
            ["/usr/bin/python3", "-c", _PEEK, setting],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": folder, "SECRET_TOKEN": "alm_agent_x"},
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_a_remote_agent_tightens_what_an_older_version_left_open(tmp_path: Path) -> None:
    agent_dir = tmp_path / "agent"
    stale = agent_dir / "spool" / "free-7"
    (stale / "outputs").mkdir(parents=True)
    (stale / "stdout").touch()  # emptied at release, as the spool keeps free folders
    for path in (agent_dir, agent_dir / "spool", stale):
        os.chmod(path, 0o755)
    os.chmod(stale / "stdout", 0o644)
    server = drive(
        [start(1, "echo hi", env={"API_KEY": SECRET})],
        ["--allow-user", "*", "--default-user", "nobody"],
        tmp_path,
    )
    assert server.finals[1]["status"] == "SUCCESS", server.finals[1]
    assert mode(agent_dir) == 0o711 and mode(agent_dir / "spool") == 0o711
    # the stale folder, or run 1's if it took that folder up
    folders = [f for f in (stale, agent_dir / "spool" / "1-1") if (f / "stdout").exists()]
    assert folders
    for folder in folders:
        assert mode(folder) in (0o700, 0o711), folder  # 0711: run 1's user passes through
        assert mode(folder / "stdout") == 0o600
        assert mode(folder / "outputs") == 0o700
