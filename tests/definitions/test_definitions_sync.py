"""Git sync against a bare repository on disk (file://) with real `git` commits: each new
commit is planned and applied in order; a commit that fails is refused and reported while the
previous state stays live; an unreadable repository changes nothing; secrets never shown."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from support import seed_user

from app.clock import FrozenClock
from app.hub.hub import AgentHub
from app.scheduler.leader import NotLeader
from app.scheduler.lifecycle import apply_state
from app.scheduler.service import SchedulerService
from app.services.sync_pull import sync_due
from app.settings import Settings

API = "/api/v1"

GROUP = """\
format: almanac/v1
groups:
  - name: etl
    schedule: {kind: cron, cron: "0 2 * * *"}
"""
TASKS = """\
format: almanac/v1
tasks:
  - {name: extract, command: "echo e", group: etl}
  - {name: transform, command: "echo t", group: etl}
  - {name: load, command: "echo l", group: etl}
dependencies:
  - {group: etl, upstream: extract, downstream: transform}
  - {group: etl, upstream: transform, downstream: load}
"""


class Repo:
    """A bare repository and a work tree that pushes to it."""

    def __init__(self, root: Path) -> None:
        self.bare, self.work = root / "defs.git", root / "work"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.bare)], check=True)
        subprocess.run(["git", "clone", "-q", str(self.bare), str(self.work)], check=True)
        self.git("checkout", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.work), "-c", "user.name=dev", "-c", "user.email=d@x.invalid"]
            + list(args),
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def commit(self, files: dict[str, str | None], message: str) -> str:
        for name, content in files.items():
            path = self.work / name
            if content is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", "origin", "main")
        return self.git("rev-parse", "HEAD")


def _pull(api: TestClient, secret: str) -> Any:
    response = api.post(f"{API}/sync/prod", headers={"X-Almanac-Sync-Token": secret})
    assert response.status_code == 200, response.text
    return response.json()


def _state(api: TestClient) -> tuple[list[str], Any, list[tuple[str, str]]]:
    tasks = {t["tid"]: t["name"] for t in api.get(f"{API}/tasks").json()}
    [group] = api.get(f"{API}/groups").json()
    edges = api.get(f"{API}/groups/{group['gid']}/edges").json()
    pairs = sorted((tasks[e["upstream"]], tasks[e["downstream"]]) for e in edges)
    return sorted(tasks.values()), group["schedule"]["cron"], pairs


def test_commits_apply_in_order_and_a_cycle_is_refused(
    api: TestClient, settings: Settings, tmp_path: Path
) -> None:
    repo = Repo(tmp_path)
    first = repo.commit({"defs/etl.yaml": GROUP, "defs/etl-tasks.yaml": TASKS}, "add etl")
    repo.commit({"README.md": "docs"}, "readme")  # the branch head is what counts
    created = api.post(
        f"{API}/sync",
        json={"name": "prod", "url": f"file://{repo.bare}", "path": "defs", "poll_seconds": None},
    )
    assert created.status_code == 201, created.text
    secret = created.json()["webhook_secret"]

    result = _pull(api, secret)
    assert result["outcome"] == "applied", result
    assert _state(api) == (
        ["extract", "load", "transform"],
        "0 2 * * *",
        [("extract", "transform"), ("transform", "load")],
    )
    task = api.get(f"{API}/tasks").json()[0]
    assert (task["managed_by"], task["managed_file"]) == ("sync:prod", "defs/etl-tasks.yaml")
    assert first != result["commit"]

    second = repo.commit({"defs/etl.yaml": GROUP.replace("0 2", "30 4")}, "later")
    assert _pull(api, secret)["outcome"] == "applied"
    assert _state(api)[1] == "30 4 * * *"
    assert _pull(api, secret)["outcome"] == "unchanged"

    without_load = TASKS.replace('  - {name: load, command: "echo l", group: etl}\n', "")
    without_load = without_load.replace(
        "  - {group: etl, upstream: transform, downstream: load}\n", ""
    )
    third = repo.commit({"defs/etl-tasks.yaml": without_load}, "drop load")
    assert _pull(api, secret)["outcome"] == "applied"
    live = (["extract", "transform"], "30 4 * * *", [("extract", "transform")])
    assert _state(api) == live
    status = api.get(f"{API}/sync/prod").json()
    assert status["last_applied_commit"] == third != second
    assert status["last_applied_by"] == "admin (webhook)"
    assert "- task load" in status["last_plan"]

    cycle = without_load + "  - {group: etl, upstream: transform, downstream: extract}\n"
    fourth = repo.commit({"defs/etl-tasks.yaml": cycle}, "cycle")
    refused = _pull(api, secret)
    assert refused["outcome"] == "refused"
    assert _state(api) == live
    status = api.get(f"{API}/sync/prod").json()
    assert status["last_applied_commit"] == third
    assert status["last_error_commit"] == fourth
    assert "defs/etl-tasks.yaml:7:39" in status["last_error"]
    assert "dependency cycle: extract -> transform -> extract" in status["last_error"]

    cache = settings.data_dir / "sync" / "prod"
    assert (cache / "HEAD").exists()
    assert api.delete(f"{API}/sync/prod").status_code == 204
    assert not cache.exists()
    assert _state(api) == live  # the objects it managed stay


def test_the_poll_follows_its_interval(
    api: TestClient, sqlite_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    repo = Repo(tmp_path)
    repo.commit({"etl.yaml": GROUP}, "group")
    created = api.post(
        f"{API}/sync", json={"name": "prod", "url": str(repo.bare), "poll_seconds": 60}
    )
    assert created.status_code == 201, created.text
    clock = FrozenClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    now = clock.now()
    [polled] = sync_due(sqlite_engine, data_dir=settings.data_dir, now=now)
    assert polled.outcome == "applied"
    repo.commit({"etl.yaml": GROUP.replace("0 2", "0 5")}, "later")
    assert (
        sync_due(sqlite_engine, data_dir=settings.data_dir, now=now + timedelta(seconds=30)) == []
    )
    [again] = sync_due(sqlite_engine, data_dir=settings.data_dir, now=now + timedelta(seconds=61))
    assert again.outcome == "applied"
    assert api.get(f"{API}/groups").json()[0]["schedule"]["cron"] == "0 5 * * *"


def test_an_unreadable_repository_changes_nothing(api: TestClient, tmp_path: Path) -> None:
    created = api.post(
        f"{API}/sync",
        json={"name": "prod", "url": f"file://{tmp_path / 'missing.git'}", "poll_seconds": None},
    )
    result = _pull(api, created.json()["webhook_secret"])
    assert result["outcome"] == "unreadable"
    status = api.get(f"{API}/sync/prod").json()
    assert status["last_error"].startswith("cannot read repository:")
    assert status["last_applied_commit"] is None
    assert api.get(f"{API}/groups").json() == []


def test_secrets_are_never_shown_and_the_webhook_needs_one(
    api: TestClient, sqlite_engine: Engine, tmp_path: Path
) -> None:
    created = api.post(
        f"{API}/sync",
        json={
            "name": "prod",
            "url": "https://git.invalid/team/defs.git",
            "credentials": "robot:s3cret-t0ken",
            "poll_seconds": None,
        },
    )
    assert created.status_code == 201, created.text
    secret = created.json()["webhook_secret"]
    shown = [
        api.get(f"{API}/sync").text,
        api.get(f"{API}/sync/prod").text,
        api.patch(f"{API}/sync/prod", json={"branch": "release"}).text,
        api.get(f"{API}/audit").text,
    ]
    for page in shown:
        assert "s3cret-t0ken" not in page and secret not in page
    assert api.get(f"{API}/sync/prod").json()["has_credentials"] is True
    with sqlite_engine.connect() as connection:
        row = connection.execute(
            text("SELECT credentials_encrypted, webhook_secret_encrypted FROM sync_source")
        ).one()
    assert "s3cret" not in row[0] and secret not in row[1]

    assert api.post(f"{API}/sync/prod").status_code == 401
    wrong = {"X-Almanac-Sync-Token": "nope"}
    assert api.post(f"{API}/sync/prod", headers=wrong).status_code == 401
    body = b'{"ref": "refs/heads/release"}'
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    signed = api.post(f"{API}/sync/prod", content=body, headers={"X-Hub-Signature-256": signature})
    assert signed.status_code == 200
    assert signed.json()["outcome"] == "unreadable"  # git.invalid does not resolve
    assert "s3cret" not in api.get(f"{API}/sync/prod").text


def test_only_an_admin_of_every_instance_manages_sources(
    api: TestClient, sqlite_engine: Engine
) -> None:
    for name, role, instances in (("op", "operator", None), ("teamadmin", "admin", ["a"])):
        token = seed_user(sqlite_engine, name, role=role, instances=instances)
        headers = {"Authorization": f"Bearer {token}"}
        assert api.get(f"{API}/sync", headers=headers).status_code == 403
        made = api.post(f"{API}/sync", json={"name": "x", "url": "/tmp/x"}, headers=headers)
        assert made.status_code == 403
    refused = api.post(f"{API}/sync", json={"name": "x", "url": "ext::sh -c touch% /tmp/pwned"})
    assert refused.status_code == 422
    embedded = api.post(f"{API}/sync", json={"name": "x", "url": "https://u:p@host/r.git"})
    assert embedded.status_code == 422


def test_only_the_leader_polls(
    api: TestClient, sqlite_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    repo = Repo(tmp_path)
    repo.commit({"etl.yaml": GROUP}, "group")
    made = api.post(f"{API}/sync", json={"name": "prod", "url": str(repo.bare)})
    assert made.status_code == 201, made.text
    clock = FrozenClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    hub = AgentHub(sqlite_engine, clock, heartbeat_interval=5.0, reports=apply_state)
    scheduler = SchedulerService(sqlite_engine, clock, hub, settings)
    scheduler.leadership.is_leader = False
    with pytest.raises(NotLeader):
        scheduler.sync_once()
    assert api.get(f"{API}/groups").json() == []
    scheduler.leadership.is_leader = True  # what winning the election does
    [result] = scheduler.sync_once()
    assert (result.name, result.outcome) == ("prod", "applied")
    assert api.get(f"{API}/sync/prod").json()["last_applied_by"] == "admin (poll)"
