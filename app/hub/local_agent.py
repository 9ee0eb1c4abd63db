"""The built-in local agent: `almanac agent` as a supervised child process, so the server
and a remote host run commands through the very same code path (and the server process
never runs a user's command itself)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys

from sqlalchemy import Engine, update
from sqlmodel import col

from app.clock import Clock
from app.db.engine import session_scope
from app.db.tables import AgentToken
from app.security import hash_token, new_token
from app.settings import Settings

log = logging.getLogger("almanac.local_agent")


_SERVER_SECRETS = frozenset(
    {"ALMANAC_AGENT_TOKEN", "ALMANAC_ADMIN_PASSWORD", "ALMANAC_SECRET_KEY", "ALMANAC_DATABASE_URL"}
)


async def _hand_over(process: asyncio.subprocess.Process, token: str) -> None:
    stdin = process.stdin
    if stdin is None:
        return
    with contextlib.suppress(ConnectionError):  # it died at once: the loop restarts it
        stdin.write(token.encode() + b"\n")
        await stdin.drain()
    stdin.close()


def local_agent_name() -> str:
    return socket.gethostname()


class LocalAgentSupervisor:
    def __init__(self, settings: Settings, engine: Engine, clock: Clock, server_url: str) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.server_url = server_url
        self.name = local_agent_name()
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None

    def _issue_token(self) -> str:
        """A fresh token each start, bound to the built-in agent's own name; the previous
        local ones are revoked."""
        token = new_token("alm_agent")
        label = f"local:{self.name}"
        now = self.clock.now()
        with session_scope(self.engine) as session:
            session.exec(
                update(AgentToken)
                .where(col(AgentToken.name) == label, col(AgentToken.revoked_at).is_(None))
                .values(revoked_at=now)
            )
            session.add(
                AgentToken(
                    name=label, agent_name=self.name, token_hash=hash_token(token), created_at=now
                )
            )
        return token

    async def start(self) -> None:
        token = await asyncio.to_thread(self._issue_token)
        self._task = asyncio.create_task(self._supervise(token))

    async def _supervise(self, token: str) -> None:
        # The token goes through a pipe on stdin, not the environment (which the commands'
        # parent would show in /proc); the server's own secrets are not handed on at all.
        env = {k: v for k, v in os.environ.items() if k not in _SERVER_SECRETS}
        data_dir = str((self.settings.data_dir / "local-agent").resolve())
        policy = self.settings.local_agent_policy
        extra = ["--policy", str(policy.resolve())] if policy is not None else []
        if self.settings.local_agent_reserve_cores:
            extra += ["--reserve-cores", str(self.settings.local_agent_reserve_cores)]
        if self.settings.local_agent_reserve_memory:
            extra += ["--reserve-memory", self.settings.local_agent_reserve_memory]
        while True:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "app.cli.main",
                "agent",
                "--server",
                self.server_url,
                "--name",
                self.name,
                "--data-dir",
                data_dir,
                "--token-file",
                "-",
                *extra,
                env=env,
                stdin=asyncio.subprocess.PIPE,
            )
            await _hand_over(self._process, token)
            code = await self._process.wait()
            log.warning("local agent exited with %s; restarting", code)
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        process = self._process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
