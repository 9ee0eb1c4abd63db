"""An agent killed with SIGKILL and started again on the same data directory.

Its container keeps running meanwhile: the new agent finds it by its labels, re-attaches, and
the run ends SUCCESS with every output line exactly once (including what the container printed
while no agent listened) and its output files. A host process dies with its agent: that run
ends FAILED, and what it had written is still delivered.
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

import docker
import pytest
from support import AS_THE_TEST_USER, LiveServer, require, start_live_server, wait_for

from app.agents.executors.docker import container_name, docker_available, owner_tag

REPO = Path(__file__).resolve().parents[2]
IMAGE = "almanac-test-busybox:latest"
NAME = "phoenix"


class Agent:
    def __init__(self, live: LiveServer, token: str, data_dir: Path, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
        self._out: IO[bytes] = open(log, "ab")  # closed in kill()
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "agent",
                "--server",
                live.url,
                "--token",
                token,
                "--name",
                NAME,
                "--data-dir",
                str(data_dir),
                *AS_THE_TEST_USER,
            ],
            cwd=REPO,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)
        self._out.close()


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.live = start_live_server(tmp_path / "server", local_agent=False)
        self.http = self.live.client()
        self.token = self.http.post("/agents/tokens", json={"name": NAME}).json()["token"]
        self.agent: Agent | None = None
        self.lives = 0

    def start_agent(self) -> None:
        self.lives += 1
        self.agent = Agent(
            self.live,
            self.token,
            self.tmp_path / "agent",
            self.tmp_path / f"agent-{self.lives}.log",
        )
        wait_for(
            lambda: any(
                a["name"] == NAME and a["connected"] for a in self.http.get("/agents").json()
            ),
            timeout=30,
        )

    def kill_agent(self) -> None:
        assert self.agent is not None
        self.agent.kill()
        wait_for(
            lambda: (
                not any(
                    a["name"] == NAME and a["connected"] for a in self.http.get("/agents").json()
                )
            ),
            timeout=30,
        )

    def run_task(self, command: str, **fields: Any) -> int:
        task = self.http.post(
            "/tasks", json={"name": f"t{self.lives}", "command": command, "target": NAME, **fields}
        )
        assert task.status_code == 201, task.text
        return int(self.http.post(f"/tasks/{task.json()['tid']}/run").json()["id"])

    def run(self, run_id: int) -> dict[str, Any]:
        return dict(self.http.get(f"/runs/{run_id}").json())

    def wait_status(self, run_id: int, status: str, timeout: float = 60) -> dict[str, Any]:
        return dict(
            wait_for(lambda: (r := self.run(run_id))["status"] == status and r, timeout=timeout)
        )

    def lines(self, run_id: int, stream: str) -> int:
        page = self.http.get(f"/runs/{run_id}/logs", params={"stream": stream, "page_size": 1})
        return int(page.json()["total_lines"])

    def download(self, run_id: int, stream: str) -> str:
        return self.http.get(f"/runs/{run_id}/logs/download", params={"stream": stream}).text

    def close(self) -> None:
        if self.agent is not None:
            self.agent.kill()
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


def numbered(first: int, last: int) -> str:
    return (
        f'i={first}; while [ "$i" -le {last} ]; do echo "out $i"; echo "err $i" >&2; '
        "i=$((i + 1)); done"
    )


def expected(prefix: str, count: int) -> str:
    return "".join(f"{prefix} {i}\n" for i in range(1, count + 1))


def test_a_restarted_agent_reattaches_to_its_container(harness: Harness, tmp_path: Path) -> None:
    require("docker", docker_available(), "no Docker engine answered a ping")
    engine = docker.from_env()
    gates = tmp_path / "gates"
    gates.mkdir()
    command = "; ".join(
        [
            numbered(1, 200),
            "while [ ! -e /gates/one ]; do sleep 0.02; done",
            numbered(201, 400),
            "while [ ! -e /gates/two ]; do sleep 0.02; done",
            numbered(401, 600),
            "echo kept > /outputs/result.txt",
        ]
    )
    harness.start_agent()
    run_id = harness.run_task(command, image=IMAGE, mounts=[f"{gates}:/gates:ro"])
    name = container_name(run_id, 1, owner_tag(NAME))  # the agent tags its containers
    try:
        wait_for(
            lambda: (
                harness.lines(run_id, "stdout") == 200 and harness.lines(run_id, "stderr") == 200
            ),
            timeout=60,
        )

        harness.kill_agent()
        (gates / "one").touch()  # printed while no agent listens: only Docker's log has it
        container = engine.containers.get(name)
        wait_for(lambda: b"err 400\n" in container.logs(stdout=False, stderr=True), timeout=30)
        assert engine.containers.get(name).status == "running"

        harness.start_agent()
        (gates / "two").touch()
        run = harness.wait_status(run_id, "SUCCESS")
    finally:
        _remove(engine, name)
        engine.close()

    assert harness.download(run_id, "stdout") == expected("out", 600)
    assert harness.download(run_id, "stderr") == expected("err", 600)
    statuses = [e["status"] for e in run["events"]]
    assert statuses.count("RUNNING") == 1 and statuses[-2:] == ["RUNNING", "SUCCESS"]
    assert run["exit_code"] == 0 and run["attempt"] == 1
    outputs = harness.http.get(f"/runs/{run_id}/outputs").json()["outputs"]
    assert [(f["name"], f["size"]) for f in outputs] == [("result.txt", 5)]
    wait_for(
        lambda: name not in {c.name for c in docker.from_env().containers.list(all=True)},
        timeout=30,
    )  # followed to its end, then removed


def test_a_host_process_dies_with_its_agent_and_its_files_still_arrive(
    harness: Harness, tmp_path: Path
) -> None:
    harness.start_agent()
    run_id = harness.run_task(
        'echo partial > "$ALMANAC_OUTPUT_DIR/partial.txt"; echo begun; exec sleep 300'
    )
    run = harness.wait_status(run_id, "RUNNING")
    pid = int([e["detail"] for e in run["events"] if e["status"] == "RUNNING"][0].split()[1])
    try:
        wait_for(lambda: harness.lines(run_id, "stdout") == 1, timeout=30)
        harness.kill_agent()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # orphaned by the dead agent
    harness.start_agent()
    run = harness.wait_status(run_id, "FAILED")
    assert run["reason"] == "agent restarted: process lost"
    assert harness.download(run_id, "stdout") == "begun\n"
    outputs = harness.http.get(f"/runs/{run_id}/outputs").json()["outputs"]
    assert [(f["name"], f["size"]) for f in outputs] == [("partial.txt", 8)]
    assert harness.http.get(f"/runs/{run_id}/outputs/partial.txt").text == "partial\n"


def _remove(engine: docker.DockerClient, name: str) -> None:
    """The test's own clean-up: the agent may be removing the container at the same moment
    (Docker answers 409, removal already in progress), or have removed it."""
    try:
        engine.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:
            raise
