"""No output byte and no state is lost or doubled when the agent's connection drops.

A real server (uvicorn) without its built-in agent, and a real `AgentProcess` with the process
executor running in its own thread's event loop. The connection is dropped by stopping the
server and starting a new one on the same port and data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import LiveServer, start_live_server, wait_for

from app.agents.agent import AgentConfig, AgentProcess
from app.agents.executors.process import ProcessExecutor

AGENT = "a1"


class AgentThread:
    """An in-process agent on its own event loop, like `almanac agent` but inspectable."""

    def __init__(self, config: AgentConfig) -> None:
        self.agent = AgentProcess(config, process_executor=ProcessExecutor())
        self.spool_root = config.data_dir / "spool"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._thread.start()
        self._ready.wait(10)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        try:
            await self.agent.run_forever()
        finally:
            for execution in list(self.agent.executions.values()):  # a failed test's leftovers
                with contextlib.suppress(Exception):
                    await execution.kill(1.0)

    @property
    def connected(self) -> bool:
        return self.agent.connected.is_set()

    def spool_dir(self, run_id: int, attempt: int = 1) -> Path:
        return self.spool_root / f"{run_id}-{attempt}"

    def spooled_states(self, run_id: int, attempt: int = 1) -> list[dict[str, Any]]:
        """The states the agent wrote to disk (read only: the agent owns the file)."""
        path = self.spool_dir(run_id, attempt) / "journal.jsonl"
        if not path.exists():
            return []
        entries = [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
        return [entry for entry in entries if "status" in entry]

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.agent.stop)
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the agent did not stop"


class Harness:
    """A live server that can be dropped and brought back, and one agent dialing it."""

    def __init__(self, tmp_path: Path, database_url: str | None = None) -> None:
        self.tmp_path = tmp_path
        self._names = itertools.count(1)
        self.data_dir = tmp_path / "data"
        self.database_url = database_url
        self.live: LiveServer | None = start_live_server(
            self.data_dir, database_url=database_url, local_agent=False
        )
        self.port = self.live.settings.port
        self.url = self.live.url
        self.token = self.live.token
        with self.http() as http:
            response = http.post("/agents/tokens", json={"name": AGENT})
            assert response.status_code == 201, response.text
            agent_token = response.json()["token"]
        config = AgentConfig(
            server_url=self.url,
            token=agent_token,
            name=AGENT,
            data_dir=tmp_path / "agent",
            labels={},
            heartbeat_interval=1,
        )
        self.agent = AgentThread(config)
        self.wait_connected()

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + "/api/v1",
            timeout=30,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def server_down(self) -> None:
        assert self.live is not None
        self.live.stop()
        self.live.engine.dispose()
        self.live = None

    def server_up(self) -> None:
        assert self.live is None
        self.live = start_live_server(
            self.data_dir, database_url=self.database_url, port=self.port, local_agent=False
        )
        self.token = self.live.token

    def wait_connected(self) -> None:
        def seen() -> bool:
            with self.http() as http:
                agents = http.get("/agents").json()
            return self.agent.connected and any(
                a["name"] == AGENT and a["connected"] for a in agents
            )

        wait_for(seen, timeout=30)

    def run_task(self, command: str) -> int:
        with self.http() as http:
            name = f"task-{next(self._names)}"
            response = http.post("/tasks", json={"name": name, "command": command, "target": AGENT})
            assert response.status_code == 201, response.text
            run = http.post(f"/tasks/{response.json()['tid']}/run")
            assert run.status_code == 201, run.text
            return int(run.json()["id"])

    def run(self, run_id: int) -> dict[str, Any]:
        with self.http() as http:
            response = http.get(f"/runs/{run_id}")
            assert response.status_code == 200, response.text
            return dict(response.json())

    def wait_status(self, run_id: int, status: str, timeout: float = 30) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            run = self.run(run_id)
            return run if run["status"] == status else None

        try:
            return dict(wait_for(reached, timeout=timeout))
        except AssertionError:
            raise AssertionError(
                f"run {run_id} never reached {status}: {self.run(run_id)}"
            ) from None

    def stored_lines(self, run_id: int, stream: str) -> int:
        with self.http() as http:
            page = http.get(f"/runs/{run_id}/logs", params={"stream": stream, "page_size": 1})
            return int(page.json()["total_lines"])

    def download(self, run_id: int, stream: str) -> str:
        with self.http() as http:
            response = http.get(f"/runs/{run_id}/logs/download", params={"stream": stream})
            assert response.status_code == 200, response.text
            return response.text

    def close(self) -> None:
        self.agent.stop()
        if self.live is not None:
            self.server_down()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    built = Harness(tmp_path)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def harness_each_db(tmp_path: Path, database_url: str) -> Iterator[Harness]:
    """The same, on SQLite and on PostgreSQL."""
    built = Harness(tmp_path, database_url)
    try:
        yield built
    finally:
        built.close()


def phased_command(gates: list[Path], per_phase: int) -> str:
    """Numbered lines on both streams, in phases; each phase after the first waits for a gate
    file, so the test decides when output happens without any timing."""
    parts = []
    for phase in range(len(gates) + 1):
        if phase:
            parts.append(f"while [ ! -e {gates[phase - 1]} ]; do sleep 0.02; done")
        first, last = phase * per_phase + 1, (phase + 1) * per_phase
        parts.append(
            f'i={first}; while [ "$i" -le {last} ]; do echo "out $i"; echo "err $i" >&2; '
            "[ $((i % 20)) -eq 0 ] && sleep 0.04; i=$((i + 1)); done"
        )
    return "; ".join(parts)


def expected(stream: str, count: int) -> str:
    prefix = "out" if stream == "stdout" else "err"
    return "".join(f"{prefix} {i}\n" for i in range(1, count + 1))


def spooled_text(agent: AgentThread, run_id: int, stream: str) -> str:
    path = agent.spool_dir(run_id) / stream
    return path.read_text() if path.exists() else ""


# ---------------------------------------------------------------------------------------


def test_a_dropped_connection_mid_run_loses_and_doubles_nothing(
    harness_each_db: Harness, tmp_path: Path
) -> None:
    harness = harness_each_db
    before, during = tmp_path / "gate-during", tmp_path / "gate-after"
    per_phase = 250
    run_id = harness.run_task(phased_command([before, during], per_phase))

    # Phase 1 streams to the first server.
    wait_for(
        lambda: (
            harness.stored_lines(run_id, "stdout") == per_phase
            and harness.stored_lines(run_id, "stderr") == per_phase
        ),
        timeout=30,
    )
    assert harness.run(run_id)["status"] == "RUNNING"

    # Phase 2 happens while no server is there: the agent spools it.
    harness.server_down()
    wait_for(lambda: not harness.agent.connected, timeout=30)
    before.touch()
    wait_for(
        lambda: (
            spooled_text(harness.agent, run_id, "stdout").endswith(f"out {2 * per_phase}\n")
            and spooled_text(harness.agent, run_id, "stderr").endswith(f"err {2 * per_phase}\n")
        ),
        timeout=30,
    )

    # Phase 3 after the agent found its way back to a new server on the same address.
    harness.server_up()
    harness.wait_connected()
    during.touch()
    run = harness.wait_status(run_id, "SUCCESS")

    assert run["exit_code"] == 0 and run["attempt"] == 1 and run["agent"] == AGENT
    total = 3 * per_phase
    assert harness.download(run_id, "stdout") == expected("stdout", total)
    assert harness.download(run_id, "stderr") == expected("stderr", total)
    assert harness.stored_lines(run_id, "stdout") == total
    statuses = [e["status"] for e in run["events"]]
    assert statuses.count("RUNNING") == 1 and statuses.count("SUCCESS") == 1
    assert statuses[-2:] == ["RUNNING", "SUCCESS"]


def test_a_run_that_ends_while_disconnected_is_reported_after_reconnect(
    harness: Harness, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    run_id = harness.run_task(phased_command([gate], 100) + "; exit 4")
    wait_for(lambda: harness.stored_lines(run_id, "stderr") == 100, timeout=30)

    harness.server_down()
    wait_for(lambda: not harness.agent.connected, timeout=30)
    gate.touch()
    # The end is on the agent's disk, waiting for a server to tell.
    wait_for(
        lambda: [s["status"] for s in harness.agent.spooled_states(run_id)][-1:] == ["FAILED"],
        timeout=30,
    )
    (final,) = [s for s in harness.agent.spooled_states(run_id) if s["status"] == "FAILED"]
    assert final["exit_code"] == 4 and final["reason"] == "exit code 4"
    ended_at = datetime.fromisoformat(final["at"])

    harness.server_up()
    run = harness.wait_status(run_id, "FAILED")
    assert run["exit_code"] == 4
    assert run["reason"] == "exit code 4"
    failed = [e for e in run["events"] if e["status"] == "FAILED"]
    assert len(failed) == 1
    assert datetime.fromisoformat(failed[0]["at"]) == ended_at  # when it ended, not when told
    assert harness.download(run_id, "stdout") == expected("stdout", 200)
    assert harness.download(run_id, "stderr") == expected("stderr", 200)
    wait_for(lambda: not harness.agent.spool_dir(run_id).exists(), timeout=30)


def test_the_spool_of_an_acknowledged_run_is_released(harness: Harness, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    run_id = harness.run_task(
        f"echo working; while [ ! -e {gate} ]; do sleep 0.02; done; "
        'echo done > "$ALMANAC_OUTPUT_DIR/result.txt"; echo finished'
    )
    spool = harness.agent.spool_dir(run_id)
    harness.wait_status(run_id, "RUNNING")
    assert (spool / "journal.jsonl").stat().st_size > 0  # held while it runs
    wait_for(lambda: spooled_text(harness.agent, run_id, "stdout") == "working\n", timeout=30)
    gate.touch()
    harness.wait_status(run_id, "SUCCESS")
    wait_for(lambda: not spool.exists(), timeout=30)
    assert harness.download(run_id, "stdout") == "working\nfinished\n"
    assert (run_id, 1) not in harness.agent.agent.held


def test_output_racing_the_end_of_a_run_is_all_stored_and_the_spool_released(
    harness: Harness,
) -> None:
    # Both streams write hard up to the very end, so the final state is recorded while the
    # sender may still be behind on one of them.
    count = 100_000
    run_id = harness.run_task(f"seq 1 {count} >&2 & seq 1 {count}; wait")
    harness.wait_status(run_id, "SUCCESS")
    text = "".join(f"{i}\n" for i in range(1, count + 1))
    assert harness.download(run_id, "stdout") == text
    assert harness.download(run_id, "stderr") == text
    wait_for(lambda: not harness.agent.spool_dir(run_id).exists(), timeout=15)
