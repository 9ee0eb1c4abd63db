"""A SIGKILLed agent leaves no command running beside the run's retry.

The run is a process group (`sh -c 'sleep 300 & sleep 300'` under the run's shell). The agent
recorded its pid, group and start time in the journal; its watchdog ends the group when the
agent dies, and should the watchdog die too, the agent's next life ends the group before it
takes any work and reports the attempt FAILED (`agent restarted: process lost`), saying so on
the run's timeline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from support import start_live_server, wait_for

from app.agents.process_groups import live_members

REPO = Path(__file__).resolve().parents[2]
NAME = "mortal"
COMMAND = (
    "if [ \"$ALMANAC_ATTEMPT\" = 1 ]; then sh -c 'sleep 300 & sleep 300'; else echo second; fi"
)


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.live = start_live_server(tmp_path / "server", local_agent=False)
        self.http = self.live.client()
        self.token = self.http.post("/agents/tokens", json={"name": NAME}).json()["token"]
        self.popen: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None
        self.lives = 0
        self.groups: list[int] = []

    def start_agent(self) -> None:
        self.lives += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
        self._out = open(self.tmp_path / f"agent-{self.lives}.log", "ab")
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "agent",
                "--server",
                self.live.url,
                "--token",
                self.token,
                "--name",
                NAME,
                "--data-dir",
                str(self.tmp_path / "agent"),
            ],
            cwd=REPO,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: any(
                a["name"] == NAME and a["connected"] for a in self.http.get("/agents").json()
            ),
            timeout=30,
        )

    def watchdog_pid(self) -> int:
        assert self.popen is not None
        agent = self.popen.pid

        def find() -> int | None:
            for name in filter(str.isdigit, os.listdir("/proc")):
                with contextlib.suppress(OSError):
                    cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
                    stat = Path(f"/proc/{name}/stat").read_text()
                    ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
                    if ppid == agent and b"app.agents.watchdog" in cmdline:
                        return int(name)
            return None

        return int(wait_for(find, timeout=10))

    def kill_agent(self) -> None:
        assert self.popen is not None and self._out is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._out.close()
        wait_for(
            lambda: (
                not any(
                    a["name"] == NAME and a["connected"] for a in self.http.get("/agents").json()
                )
            ),
            timeout=30,
        )

    def start_run(self, **fields: Any) -> tuple[int, int]:
        """A run of COMMAND, RUNNING with its whole group up; (run id, process group)."""
        task = self.http.post(
            "/tasks",
            json={"name": f"t{len(self.groups)}", "command": COMMAND, "target": NAME, **fields},
        )
        assert task.status_code == 201, task.text
        run_id = int(self.http.post(f"/tasks/{task.json()['tid']}/run").json()["id"])
        run = wait_for(lambda: (r := self.run(run_id))["status"] == "RUNNING" and r, timeout=30)
        detail = next(e["detail"] for e in run["events"] if e["status"] == "RUNNING")
        group = int(detail.split()[1])  # "pid N": the run's shell leads its own group
        self.groups.append(group)
        wait_for(lambda: len(live_members(group)) >= 3, timeout=10)  # sh, sh, sleep, sleep
        return run_id, group

    def run(self, run_id: int) -> dict[str, Any]:
        return dict(self.http.get(f"/runs/{run_id}").json())

    def close(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        if self._out is not None:
            self._out.close()
        for group in self.groups:  # whatever a failed test left behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self.http.close()
        self.live.stop()
        self.live.engine.dispose()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    built = Harness(tmp_path)
    try:
        yield built
    finally:
        built.close()


def test_the_next_life_ends_the_orphaned_group_before_the_retry_runs(harness: Harness) -> None:
    harness.start_agent()
    run_id, group = harness.start_run(retry_attempts=1, retry_delay_seconds=0)

    os.kill(harness.watchdog_pid(), signal.SIGKILL)  # no watchdog: only the restart is left
    harness.kill_agent()
    assert len(live_members(group)) >= 3  # orphaned, still running

    harness.start_agent()
    # The new life ended the group before its hello: the retry can only start after it.
    retried = wait_for(lambda: (r := harness.run(run_id))["attempt"] == 2 and r, timeout=30)
    assert retried["attempt"] == 2 and live_members(group) == []
    done = wait_for(lambda: (r := harness.run(run_id))["status"] == "SUCCESS" and r, timeout=30)
    assert harness.http.get(f"/runs/{run_id}/logs/download").text == "second\n"

    first = [e for e in done["events"] if e["attempt"] == 1]
    failed = next(e for e in first if e["status"] == "FAILED")
    assert "agent restarted while this run was executing" in failed["detail"]
    assert f"process group {group} was still running: ended (SIGTERM)" in failed["detail"]
    second_start = next(e for e in done["events"] if e["attempt"] == 2 and e["status"] == "STARTED")
    assert failed["at"] < second_start["at"]


def test_the_watchdog_ends_the_group_when_the_agent_dies(harness: Harness) -> None:
    harness.start_agent()
    run_id, group = harness.start_run()
    harness.watchdog_pid()  # it is there

    harness.kill_agent()
    wait_for(lambda: live_members(group) == [], timeout=15)  # no restart needed

    harness.start_agent()
    run = wait_for(lambda: (r := harness.run(run_id))["status"] == "FAILED" and r, timeout=30)
    assert run["reason"] == "agent restarted: process lost"
    failed = next(e for e in run["events"] if e["status"] == "FAILED")
    assert f"process group {group} was already gone" in failed["detail"]
