"""`almanac server` and other `almanac` commands as real processes, as an operator runs them
(tests/support.py's live server runs in the test's own process instead)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from support import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "process-admin-password-1"


def almanac_env(**extra: str) -> dict[str, str]:
    """This environment without any ALMANAC_ setting, with `extra` added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env.update(extra)
    return env


def almanac(
    *args: str, cwd: Path | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        cwd=cwd,
        env=almanac_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class ServerProcess:
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    token: str = ""

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        policy = self.data_dir.parent / f"{self.data_dir.name}-agent-policy.json"
        policy.write_text('{"default_user": null}')  # commands run as the test's user
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli.main", "server", "--port", str(self.port)]
            + ["--data-dir", str(self.data_dir), "--local-agent-policy", str(policy), *extra],
            env=almanac_env(ALMANAC_ADMIN_PASSWORD=PASSWORD),
            stdout=self.log.open("a"),  # a file: a pipe nobody reads would block the server
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(self._healthy, timeout=90)
        self.token = httpx.post(
            self.url + "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
        ).json()["access_token"]
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            output = self.log.read_text()[-3000:]
            raise AssertionError(f"server exited {self.process.returncode}: {output}")
        try:
            return httpx.get(self.url + "/api/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + "/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def wait_for_agent(self) -> None:
        with self.client() as http:
            wait_for(
                lambda: any(a["status"] == "online" for a in http.get("/agents").json()),
                timeout=60,
            )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
