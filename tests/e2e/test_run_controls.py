"""Operator controls and policies through the REST API, on real agents and real processes."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import LiveServer, start_live_server, wait_for

REPO = Path(__file__).resolve().parents[2]
_names = itertools.count(1)


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The server this test process shares (tests/conftest.py): these tests keep to
    their own names."""
    return shared_agent_ready


def create_task(http: httpx.Client, command: str, **fields: Any) -> int:
    response = http.post(
        "/tasks", json={"name": f"ctl-{next(_names)}", "command": command, **fields}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["tid"])


def force_run(http: httpx.Client, tid: int) -> int:
    response = http.post(f"/tasks/{tid}/run")
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def get_run(http: httpx.Client, run_id: int) -> dict[str, Any]:
    response = http.get(f"/runs/{run_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_run(
    http: httpx.Client, run_id: int, status: str, *, attempt: int = 1, timeout: float = 30
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        run = get_run(http, run_id)
        return run if run["status"] == status and run["attempt"] == attempt else None

    try:
        return dict(wait_for(reached, timeout=timeout))
    except AssertionError:
        raise AssertionError(
            f"run {run_id} never reached {status} (attempt {attempt}): {get_run(http, run_id)}"
        ) from None


def process_pid(run: dict[str, Any]) -> int:
    """The executing shell's pid, from the detail of the RUNNING event."""
    (detail,) = [e["detail"] for e in run["events"] if e["status"] == "RUNNING"][:1]
    assert detail.startswith("pid "), detail
    return int(detail.removeprefix("pid "))


def proc_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return proc_state(pid) in (None, "Z", "X")


def statuses(run: dict[str, Any]) -> list[tuple[int, str]]:
    return [(e["attempt"], e["status"]) for e in run["events"]]


def lines(http: httpx.Client, run_id: int, stream: str, attempt: int) -> list[str]:
    response = http.get(
        f"/runs/{run_id}/logs", params={"stream": stream, "attempt": attempt, "page_size": 500}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["lines"])


@pytest.fixture
def http(agent_ready: LiveServer) -> Iterator[httpx.Client]:
    with agent_ready.client() as client:
        yield client


# ---- on the built-in agent ------------------------------------------------------------


def test_kill_ends_a_running_run_terminated(http: httpx.Client) -> None:
    run_id = force_run(http, create_task(http, "sleep 30"))
    pid = process_pid(wait_run(http, run_id, "RUNNING"))
    assert not gone(pid)

    response = http.post(f"/runs/{run_id}/kill")
    assert response.status_code == 200, response.text
    run = wait_run(http, run_id, "TERMINATED")
    assert run["reason"] == "terminated"
    assert run["finished_at"] is not None
    assert statuses(run)[-2:] == [(1, "RUNNING"), (1, "TERMINATED")]
    wait_for(lambda: gone(pid), timeout=10)
    again = http.post(f"/runs/{run_id}/kill")
    assert again.status_code == 409, again.text


def test_pause_then_resume_runs_to_success(http: httpx.Client, tmp_path: Path) -> None:
    child_file = tmp_path / "child.pid"
    run_id = force_run(
        http,
        create_task(
            http, f'sleep 300 & echo $! > {child_file}; echo waiting; wait $!; echo "resumed $?"'
        ),
    )
    shell = process_pid(wait_run(http, run_id, "RUNNING"))
    wait_for(lambda: child_file.exists() and child_file.read_text().strip(), timeout=10)
    child = int(child_file.read_text())
    try:
        assert http.post(f"/runs/{run_id}/resume").status_code == 409  # not paused yet
        # Settled in `wait` (a process stopped inside fork or execve reads "D", not "T").
        wait_for(lambda: proc_state(shell) == "S" and proc_state(child) == "S", timeout=10)

        response = http.post(f"/runs/{run_id}/pause")
        assert response.status_code == 200, response.text
        wait_run(http, run_id, "PAUSED")
        # Really stopped, the whole group, not just labelled so.
        wait_for(lambda: proc_state(shell) == "T" and proc_state(child) == "T", timeout=10)
        assert http.post(f"/runs/{run_id}/pause").status_code == 409
        os.kill(child, signal.SIGTERM)  # held pending while the group is stopped
        assert proc_state(child) == "T"

        response = http.post(f"/runs/{run_id}/resume")
        assert response.status_code == 200, response.text
        run = wait_run(http, run_id, "SUCCESS")
    finally:
        if not gone(child):
            os.kill(child, signal.SIGKILL)
    assert run["exit_code"] == 0
    ours = [s for _, s in statuses(run)]
    assert ours[ours.index("RUNNING") :] == ["RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    assert lines(http, run_id, "stdout", 1) == ["waiting", "resumed 143"]


def test_max_run_seconds_fails_the_run_with_timeout(http: httpx.Client) -> None:
    run_id = force_run(http, create_task(http, "sleep 30", max_run_seconds=1))
    run = wait_run(http, run_id, "FAILED", timeout=20)
    assert run["reason"] == "timeout"
    assert statuses(run)[-1] == (1, "FAILED")


def test_a_failed_attempt_is_retried_with_its_own_logs(http: httpx.Client) -> None:
    command = 'echo "attempt $ALMANAC_ATTEMPT"; echo "oops $ALMANAC_ATTEMPT" >&2; exit 2'
    run_id = force_run(http, create_task(http, command, retry_attempts=1, retry_delay_seconds=0))
    run = wait_run(http, run_id, "FAILED", attempt=2)
    assert run["exit_code"] == 2 and run["reason"] == "exit code 2"

    events = statuses(run)
    failed = [i for i, event in enumerate(events) if event[1] == "FAILED"]
    assert [events[i] for i in failed] == [(1, "FAILED"), (2, "FAILED")]
    between = events[failed[0] + 1 : failed[1]]
    assert (2, "RUNNING") in between  # attempt 2 ran after attempt 1 failed
    assert all(attempt == 2 for attempt, _ in between)

    for attempt in (1, 2):
        assert lines(http, run_id, "stdout", attempt) == [f"attempt {attempt}"]
        assert lines(http, run_id, "stderr", attempt) == [f"oops {attempt}"]
    assert http.get(f"/runs/{run_id}/logs").json()["lines"] == ["attempt 2"]  # the latest


# ---- an agent that stops answering ------------------------------------------------------


@pytest.fixture
def short_timeout_server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path / "data", local_agent=False, heartbeat_timeout_seconds=2)
    try:
        yield live
    finally:
        live.stop()
        live.engine.dispose()


def test_a_killed_agent_makes_its_run_fail_as_agent_lost(
    short_timeout_server: LiveServer, tmp_path: Path
) -> None:
    live = short_timeout_server
    with live.client() as http:
        token = http.post("/agents/tokens", json={"name": "doomed"}).json()["token"]
        agent = subprocess.Popen(
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
                "doomed",
                "--data-dir",
                str(tmp_path / "agent"),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        pid = None
        try:
            wait_for(
                lambda: any(
                    a["name"] == "doomed" and a["connected"] for a in http.get("/agents").json()
                ),
                timeout=30,
            )
            run_id = force_run(http, create_task(http, "sleep 30", target="doomed"))
            pid = process_pid(wait_run(http, run_id, "RUNNING"))

            agent.send_signal(signal.SIGKILL)
            agent.wait(timeout=10)
            run = wait_run(http, run_id, "FAILED", timeout=20)
            assert run["reason"] == "agent lost"
            assert statuses(run)[-1] == (1, "FAILED")
            (doomed,) = [a for a in http.get("/agents").json() if a["name"] == "doomed"]
            assert doomed["status"] == "offline" and not doomed["connected"]
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait(timeout=10)
            if pid is not None:  # the orphaned command of the dead agent
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
