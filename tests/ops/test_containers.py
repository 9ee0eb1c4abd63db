"""The Dockerfile and compose.yaml built and started for real: PostgreSQL, a server and two
agents, each in its container, as docs/operations/containers.md sets them up.

Marked `containers` and left out of the default run (pyproject.toml's addopts: building takes
minutes): `pytest -m containers -n 0 tests/ops/test_containers.py` runs it; CI runs it after the
suite. It needs root and a Docker engine. No image registry is reachable where it runs, so
scripts/container-images.sh first builds stand-ins for the base images from Debian packages
(the Dockerfile's PYTHON_IMAGE and NODE_IMAGE build arguments and compose's
ALMANAC_POSTGRES_IMAGE name them); with ALMANAC_CONTAINER_REGISTRY=1 the Dockerfile's and
compose's own base images are pulled instead.

Then: `docker build`; `compose up db server`; the admin's token from the admin password; one
agent token per agent, written to secrets/ as the manual says; `compose up`; both agents
connect; a task forced onto each agent ends SUCCESS with output written in that agent's
container. `compose down -v` and the image's removal always follow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from support import free_port, require, wait_for

from app.agents.executors.docker import docker_available
from app.domain.states import TERMINAL

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ("agent-1", "agent-2")
PASSWORD = "compose-admin-password-1"

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]


def _run(args: list[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=env, check=False, cwd=ROOT
    )
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout[-4000:]}{done.stderr[-4000:]}"
    return done.stdout


def _compose_command() -> list[str]:
    """`docker compose` (v2) where there is one, else Debian's docker-compose (1.29)."""
    v2 = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if v2.returncode == 0:
        return ["docker", "compose"]
    found = shutil.which("docker-compose")
    return [found] if found else []


def _base_images() -> dict[str, str]:
    """Build arguments and compose settings naming the base images (none: the registry's)."""
    if os.environ.get("ALMANAC_CONTAINER_REGISTRY") == "1":
        return {}
    out = _run(["bash", str(ROOT / "scripts" / "container-images.sh")], timeout=1200)
    settings = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert set(settings) == {"PYTHON_IMAGE", "NODE_IMAGE", "ALMANAC_POSTGRES_IMAGE"}, out
    return settings


@pytest.fixture
def image() -> Iterator[tuple[str, dict[str, str]]]:
    """(the image built from the checkout's Dockerfile, the base image settings)."""
    require("docker", docker_available(), "no Docker engine answered a ping")
    require("containers", os.geteuid() == 0, "root builds the stand-in base images")
    bases = _base_images()
    tag = f"almanac-compose-test:{uuid.uuid4().hex[:12]}"
    build_args = [arg for name in ("PYTHON_IMAGE", "NODE_IMAGE") if name in bases
                  for arg in ("--build-arg", f"{name}={bases[name]}")]  # fmt: skip
    _run(["docker", "build", "--quiet", "-t", tag, *build_args, str(ROOT)], timeout=1200)
    try:
        yield tag, bases
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


@dataclass
class Stack:
    compose: list[str]
    env: dict[str, str]
    folder: Path
    url: str

    def __call__(self, *args: str, timeout: float = 300) -> str:
        return _run([*self.compose, *args], timeout=timeout, env=self.env)

    def container_id(self, service: str) -> str:
        return self("ps", "-q", service).strip()


@pytest.fixture
def stack(image: tuple[str, dict[str, str]], tmp_path: Path) -> Iterator[Stack]:
    """compose.yaml's project, in a folder of its own (its .env and secrets/), not started."""
    compose = _compose_command()
    require("containers", bool(compose), "neither `docker compose` nor docker-compose")
    tag, bases = image
    port = free_port()
    folder = tmp_path / "project"
    (folder / "secrets").mkdir(parents=True)
    key = Fernet.generate_key().decode()
    (folder / ".env").write_text(f"ALMANAC_ADMIN_PASSWORD={PASSWORD}\nALMANAC_SECRET_KEY={key}\n")
    env = {**os.environ, **bases, "ALMANAC_IMAGE": tag, "ALMANAC_PORT": str(port)}
    project = f"almanac-test-{uuid.uuid4().hex[:8]}"
    command = [*compose, "-f", str(ROOT / "compose.yaml"), "--project-directory", str(folder)]
    live = Stack([*command, "-p", project], env, folder, f"http://127.0.0.1:{port}")
    try:
        yield live
    finally:
        logs = subprocess.run(
            [*live.compose, "logs", "--no-color", "--tail", "60"],
            capture_output=True, text=True, env=env, check=False, timeout=120,
        )  # fmt: skip
        sys.stdout.write(logs.stdout[-20000:] + logs.stderr[-2000:])  # shown when it fails
        down = subprocess.run(
            [*live.compose, "down", "-v", "--remove-orphans", "--timeout", "30"],
            capture_output=True, text=True, env=env, check=False, timeout=300,
        )  # fmt: skip
        assert down.returncode == 0, down.stdout + down.stderr


def _health(url: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(url + "/api/v1/health", timeout=5)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


def _finished(api: httpx.Client, run_id: int) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = api.get(f"/runs/{run_id}").json()
        return run if run["status"] in TERMINAL else None

    found: dict[str, Any] = wait_for(finished, timeout=120, interval=0.5)
    return found


def test_compose_runs_postgres_a_server_and_two_agents_that_run_tasks(stack: Stack) -> None:
    stack("up", "-d", "--no-build", "db", "server")
    health = wait_for(lambda: _health(stack.url), timeout=240, interval=1)
    assert health["database"] == "postgresql"

    token = httpx.post(
        stack.url + "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
    ).json()["access_token"]
    api = httpx.Client(
        base_url=stack.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    # The agents' user in the image reads the token files (0600): they are made its own.
    uid = int(_run(["docker", "run", "--rm", "--entrypoint", "id", stack.env["ALMANAC_IMAGE"],
                    "-u"], timeout=120))  # fmt: skip
    for name in AGENTS:
        created = api.post("/agents/tokens", json={"name": name})
        assert created.status_code == 201, created.text
        secret = stack.folder / "secrets" / f"{name}.token"
        secret.touch(mode=0o600)
        secret.write_text(created.json()["token"] + "\n")
        os.chown(secret, uid, -1)

    stack("up", "-d", "--no-build")

    def connected() -> set[str]:
        return {a["name"] for a in api.get("/agents").json() if a["connected"]}

    wait_for(lambda: connected() >= set(AGENTS), timeout=180, interval=1)
    for name in AGENTS:
        task = api.post(
            "/tasks",
            json={"name": f"on-{name}", "command": "echo ran in $(hostname)", "target": name},
        )
        assert task.status_code == 201, task.text
        run = _finished(api, api.post(f"/tasks/{task.json()['tid']}/run").json()["id"])
        assert (run["status"], run["agent"], run["exit_code"]) == ("SUCCESS", name, 0), run
        run_id = run["id"]
        (line,) = api.get(f"/runs/{run_id}/logs", params={"stream": "stdout"}).json()["lines"]
        host = line.removeprefix("ran in ")  # a container's host name: its short id
        assert host and stack.container_id(name).startswith(host), (line, name)
    api.close()
