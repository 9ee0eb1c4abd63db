"""Groups at scale.

1. A group of 1,000 tasks and 3,000 edges: cycle validation, and creating a group run.
2. On a real `almanac server` with its built-in agent: the dependency hop (upstream SUCCESS
   -> downstream RUNNING) along a 50-task chain of `true`, and a 200-task fan-out of `true`
   (group run start -> every run finished).

    .venv/bin/python bench/bench_groups.py
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from benchlib import PASSWORD, free_port

from app.bootstrap import upgrade_database
from app.db.engine import make_engine, session_scope
from app.db.tables import DependencyEdge, Task, TaskGroup
from app.domain.dag import Edge, check_acyclic
from app.domain.states import TriggerKind
from app.scheduler.group_runs import start_group_run


def _big_group(tasks: int = 1000, edges: int = 3000) -> None:
    rng = random.Random(7)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < edges:
        a, b = sorted(rng.sample(range(tasks), 2))
        pairs.add((a, b))
    dag = [Edge(a, b) for a, b in pairs]
    timings = []
    for _ in range(11):
        began = time.perf_counter()
        check_acyclic(range(tasks), dag)
        timings.append((time.perf_counter() - began) * 1000)
    print(f"validate {tasks} tasks / {edges} edges: median {statistics.median(timings):.1f} ms")
    with tempfile.TemporaryDirectory() as data:
        url = f"sqlite:///{Path(data) / 'a.db'}"
        upgrade_database(url)
        engine = make_engine(url)
        with session_scope(engine) as session:
            group = TaskGroup(name="big")
            session.add(group)
            session.flush()
            rows = [Task(name=f"t{i}", command="true", group_id=group.id) for i in range(tasks)]
            session.add_all(rows)
            session.flush()
            session.add_all(
                [
                    DependencyEdge(
                        group_id=group.id or 0,
                        upstream_id=rows[a].id or 0,
                        downstream_id=rows[b].id or 0,
                    )
                    for a, b in pairs
                ]
            )
        began = time.perf_counter()
        with session_scope(engine) as session:
            group = session.get(TaskGroup, 1)
            assert group is not None
            start_group_run(session, group, now=datetime.now(UTC), kind=TriggerKind.MANUAL)
        print(
            f"group run of {tasks} tasks created (runs, events, commit): "
            f"{(time.perf_counter() - began) * 1000:.0f} ms"
        )
        engine.dispose()


def _client(base: str) -> httpx.Client:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            token = httpx.post(
                base + "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
            ).json()["access_token"]
            http = httpx.Client(
                base_url=base + "/api/v1", timeout=60, headers={"Authorization": f"Bearer {token}"}
            )
            while not any(a["connected"] for a in http.get("/agents").json()):
                time.sleep(0.1)
            return http
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def _make_group(http: httpx.Client, name: str, count: int, edges: list[tuple[int, int]]) -> int:
    tids = [
        http.post("/tasks", json={"name": f"{name}-{i}", "command": "true"}).json()["tid"]
        for i in range(count)
    ]
    gid = int(http.post("/groups", json={"name": name, "tasks": tids}).json()["gid"])
    for a, b in edges:
        http.post(f"/groups/{gid}/edges", json={"upstream": tids[a], "downstream": tids[b]})
    return gid


def _run_group(http: httpx.Client, gid: int, poll: float = 0.02) -> dict[str, object]:
    """Run the group and wait for its end, reading the group run every `poll` seconds (each
    read costs the server a few ms of CPU: a fast poll competes with what it measures)."""
    group_run = http.post(f"/groups/{gid}/run").json()["id"]
    while (detail := http.get(f"/group-runs/{group_run}").json())["status"] == "RUNNING":
        time.sleep(poll)
    return dict(detail)


def _events(http: httpx.Client, run_id: int) -> dict[str, datetime]:
    return {
        e["status"]: datetime.fromisoformat(e["at"])
        for e in http.get(f"/runs/{run_id}").json()["events"]
    }


def _live() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "server",
                "--port",
                str(port),
                "--data-dir",
                data,
            ],
            env=dict(os.environ, ALMANAC_ADMIN_PASSWORD=PASSWORD),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            http = _client(f"http://127.0.0.1:{port}")
            chain = _make_group(http, "chain", 50, [(i, i + 1) for i in range(49)])
            detail = _run_group(http, chain)
            runs = sorted(detail["runs"], key=lambda r: r["id"])  # type: ignore[arg-type,index]
            events = [_events(http, r["id"]) for r in runs]
            hops = [
                (events[i + 1]["RUNNING"] - events[i]["SUCCESS"]).total_seconds() * 1000
                for i in range(49)
            ]
            print(
                f"dependency hop over a 50-task chain (SUCCESS -> downstream RUNNING): "
                f"median {statistics.median(hops):.1f} ms, max {max(hops):.1f} ms "
                f"[{detail['status']}]"
            )
            steps = [("SUCCESS", "TRIGGER"), ("TRIGGER", "STARTED"), ("STARTED", "RUNNING")]
            parts = []
            for before, after in steps:
                gaps = [
                    (
                        events[i + 1][after]
                        - (events[i] if before == "SUCCESS" else events[i + 1])[before]
                    ).total_seconds()
                    * 1000
                    for i in range(49)
                ]
                parts.append(f"{before}->{after} {statistics.median(gaps):.1f} ms")
            print("  hop steps (median): " + ", ".join(parts))
            fan = _make_group(http, "fan", 201, [(0, i) for i in range(1, 201)])
            began = time.perf_counter()
            detail = _run_group(http, fan)
            wall = time.perf_counter() - began
            runs = detail["runs"]  # type: ignore[assignment]
            first = min(_events(http, r["id"])["ACTIVE"] for r in runs)  # type: ignore[union-attr]
            last = max(_events(http, r["id"])["SUCCESS"] for r in runs)  # type: ignore[union-attr]
            print(
                f"fan-out of 200 `true` after one root: {(last - first).total_seconds():.2f} s"
                f" server timeline, {wall:.2f} s client wall [{detail['status']}]"
            )
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    _big_group()
    _live()
