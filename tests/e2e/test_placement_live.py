"""Placement with a real server and its built-in agent (a real `almanac agent` process):
the agent reports its capacity less what it keeps back, a run that does not fit waits with
the reason and starts when the run holding the cores ends, a process run enters its own
cgroup, and a NUMA binding on this one-node host is said to be a no-op."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import LiveServer, almanac_cli, start_live_server, wait_for

from app.hub.local_agent import local_agent_name

CORES = os.cpu_count() or 1


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live_server(
        tmp_path / "data",
        local_agent_reserve_cores=CORES - 1,  # one core offered to runs
        local_agent_reserve_memory="64M",
    )
    try:
        yield server
    finally:
        server.stop()
        server.engine.dispose()


def _agent(live: LiveServer) -> dict[str, Any]:
    with live.client() as http:
        rows = http.get("/agents").json()
    return next((dict(a) for a in rows if a["name"] == local_agent_name() and a["connected"]), {})


def _run(live: LiveServer, run_id: int) -> dict[str, Any]:
    with live.client() as http:
        return dict(http.get(f"/runs/{run_id}").json())


def _submit(live: LiveServer, *args: str) -> int:
    outcome = almanac_cli(live, "submit", "--json", *args)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    return int(json.loads(outcome.stdout)["id"])


def test_the_built_in_agent_offers_what_it_does_not_keep_and_runs_wait_for_cores(
    live: LiveServer, tmp_path: Path
) -> None:
    name = local_agent_name()
    agent = wait_for(lambda: _agent(live), timeout=60)
    assert agent["capacity"]["cores"] == 1
    assert agent["capacity"]["memory"] == agent["memory"] - 64 * 1024**2

    gate = tmp_path / "gate"
    holder = _submit(
        live,
        "-t",
        f"{name}:0",
        "--cores",
        "1",
        "--",
        f"cat /proc/self/cgroup; while [ ! -e {gate} ]; do sleep 0.05; done",
    )
    wait_for(lambda: _run(live, holder)["status"] == "RUNNING", timeout=60)
    waiting = _submit(live, "-t", name, "--cores", "1", "--", "echo second")
    wait_for(
        lambda: _run(live, waiting)["reason"] == f"needs 1 core; {name} has 0 cores free",
        timeout=30,
    )
    assert _run(live, waiting)["status"] == "ACTIVE"
    held = _agent(live)["allocated"]
    assert (held["cores"], held["gpus"]) == (1, [])
    assert _run(live, holder)["allocation"] == {
        "cores": 1.0,
        "memory": 0,
        "gpus": [],
        "numa_node": 0,
    }
    shown = almanac_cli(live, "agents", "show", name)
    assert shown.returncode == 0 and "1/1" in shown.stdout, shown.stdout

    gate.touch()
    wait_for(lambda: _run(live, waiting)["status"] == "SUCCESS", timeout=60)
    events = [e["detail"] for e in _run(live, holder)["events"] if e["status"] == "RUNNING"]
    assert "NUMA node 0: a no-op, this host has one node" in events[0]
    assert ("held to 1 cpus" in events[0]) or ("limits not enforced" in events[0])
    assert _agent(live)["allocated"]["cores"] == 0
