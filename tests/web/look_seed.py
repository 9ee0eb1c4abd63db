"""Data for the every-page browser checks: a calendar, tasks with real runs and logs, a group
with a failing branch, a pool, a variable set, a backfill and a run waiting for approval,
made through the API of a live server whose built-in agent runs them."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from support import LiveServer, seed_user, wait_for

LONG_LOG = (
    'for i in $(seq 1 120); do echo "step $i of a long job with a long line '
    "$(printf 'x%.0s' $(seq 1 60))\"; done; printf '\\033[32mgreen\\033[0m done\\n'; "
    "echo 'warning: disk at 91%' >&2"
)


@dataclass(frozen=True)
class Seeded:
    tid: int
    gid: int
    run: int
    failed_run: int
    calendar: str
    pool: str
    variable_set: str
    backfill: int


def _made(response: httpx.Response) -> dict:  # type: ignore[type-arg]
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def _finished(http: httpx.Client, run_id: int) -> None:
    done = {"SUCCESS", "FAILED", "TERMINATED", "SKIPPED"}
    wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] in done, timeout=30)


def seed(live: LiveServer) -> Seeded:
    with live.client() as http:
        _made(
            http.post(
                "/calendars", json={"name": "look-desk", "country": "US", "skip_weekends": True}
            )
        )
        daily = {
            "kind": "times",
            "times": ["02:00"],
            "timezone": "America/New_York",
            "calendar": "look-desk",
        }
        task = _made(
            http.post(
                "/tasks",
                json={
                    "name": "look-nightly-extract-with-a-long-name",
                    "command": LONG_LOG,
                    "schedule": daily,
                },
            )
        )
        steps = [
            _made(http.post("/tasks", json={"name": f"look-{n}", "command": c}))
            for n, c in (
                ("load", "echo loaded"),
                ("check", "echo bad >&2; exit 3"),
                ("report", "echo report"),
            )
        ]
        group = _made(
            http.post(
                "/groups",
                json={
                    "name": "look-nightly",
                    "tasks": [s["tid"] for s in steps],
                    "schedule": {
                        "kind": "cron",
                        "cron": "30 6 * * 1-5",
                        "timezone": "Europe/Berlin",
                    },
                },
            )
        )
        gid = group["gid"]
        load, check, report = (s["tid"] for s in steps)
        _made(http.post(f"/groups/{gid}/edges", json={"upstream": load, "downstream": check}))
        _made(http.post(f"/groups/{gid}/edges", json={"upstream": load, "downstream": report}))
        run = _made(http.post(f"/tasks/{task['tid']}/run", json={}))
        _made(http.post(f"/groups/{gid}/run", json={}))
        _made(
            http.post("/pools", json={"name": "look-gpu", "slots": 4, "description": "shared GPUs"})
        )
        _made(
            http.post(
                "/variable-sets",
                json={
                    "name": "look-env",
                    "variables": {"REGION": "eu-west-1"},
                    "secrets": {"TOKEN": "s3cr3t"},
                },
            )
        )
        backfill = _made(
            http.post(
                f"/tasks/{task['tid']}/backfill", json={"start": "2026-03-02", "end": "2026-03-04"}
            )
        )
        _made(http.post("/adhoc", json={"command": "uname -a; df -h", "all": True}))
        _finished(http, run["id"])
        failed = wait_for(lambda: _failed_run(http, "look-check"), timeout=30)
    user_token = seed_user(live.engine, "look-user", role="user")
    with httpx.Client(
        base_url=live.url + "/api/v1", headers={"Authorization": f"Bearer {user_token}"}
    ) as user:
        _made(user.post("/adhoc", json={"command": "rm -rf /tmp/look-cache", "all": True}))
    return Seeded(
        tid=task["tid"],
        gid=gid,
        run=run["id"],
        failed_run=failed,
        calendar="look-desk",
        pool="look-gpu",
        variable_set="look-env",
        backfill=backfill["id"],
    )


def _failed_run(http: httpx.Client, name: str) -> int | None:
    runs = http.get("/runs", params={"status": "FAILED"}).json()
    items = runs["items"] if isinstance(runs, dict) else runs
    found = [r["id"] for r in items if r.get("task_name") == name]
    return found[0] if found else None
