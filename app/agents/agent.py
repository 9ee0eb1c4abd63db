"""The agent process: dials the server, runs what it is sent, and never drops a byte.

`AgentProcess` puts the agent together and runs its life; each part has its own module:
- the spools held and what the server still lacks of each: app/agents/agent_outbox.py;
- launching and supervising executions, and recording their states: app/agents/agent_runs.py;
- taking up what a previous life left behind: app/agents/agent_recovery.py;
- the spool's health (a full disk): app/agents/agent_health.py;
- the connection to the server, its hello and loops: app/agents/agent_link.py.

Everything an execution produces goes to the spool first, and is sent from there up to what
the server has acknowledged, so a reconnect resumes with no loss and no duplicate. A
restarted agent finds its spools again before it takes new work. While the agent lives, a
watchdog process waits to end its host process groups should it die (app/agents/watchdog.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import subprocess
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from app.agents import watchdog
from app.agents.agent_config import AgentConfig
from app.agents.agent_health import SpoolHealth
from app.agents.agent_link import ServerLink
from app.agents.agent_outbox import Key, Outbox
from app.agents.agent_recovery import Recovery
from app.agents.agent_runs import RunSupervisor
from app.agents.disk_guard import DiskGuard
from app.agents.executors.base import Execution, Executor
from app.agents.spool import RunSpool, Spool
from app.clock import Clock, SystemClock

__all__ = ["AgentConfig", "AgentProcess"]

log = logging.getLogger("almanac.agent")


class AgentProcess:
    def __init__(
        self,
        config: AgentConfig,
        *,
        process_executor: Executor,
        docker_executor: Executor | None = None,
        resources: Callable[[], dict[str, object]] = dict,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.spool = Spool(config.data_dir / "spool")
        self.clock = clock or SystemClock()

        # The policy travels with the resources: the server shows it and dispatches by it.
        # So does what the host keeps back from runs (placement offers the rest).
        reserved = {"cores": config.reserve_cores, "memory": config.reserve_memory}

        def report() -> dict[str, object]:
            return {**resources(), "policy": config.policy.to_dict(), "reserved": reserved}

        self._background: set[asyncio.Task[Any]] = set()
        self.disk = DiskGuard(self.spool.root, min_free_bytes=config.spool_min_free)
        self.life = secrets.token_hex(8)  # names this life's processes in the journals
        self.session_id = uuid.uuid4().hex  # this process's life, told in every hello
        self._watchdog: subprocess.Popen[bytes] | None = None

        self._outbox = Outbox(self.spool)
        self.held: dict[Key, RunSpool] = self._outbox.held
        self._health = SpoolHealth(self.disk, self.held)
        self._runs = RunSupervisor(
            config,
            spool=self.spool,
            clock=self.clock,
            outbox=self._outbox,
            health=self._health,
            spawn=self._spawn,
            life=self.life,
            process_executor=process_executor,
            docker_executor=docker_executor,
        )
        self.executions: dict[Key, Execution] = self._runs.executions
        self._recovery = Recovery(
            spool=self.spool,
            outbox=self._outbox,
            runs=self._runs,
            spawn=self._spawn,
            docker_executor=docker_executor,
            grace_seconds=config.orphan_grace_seconds,
        )
        self._link = ServerLink(
            config,
            outbox=self._outbox,
            runs=self._runs,
            health=self._health,
            resources=report,
            spawn=self._spawn,
            session_id=self.session_id,
        )
        self.connected = self._link.connected

    @property
    def accepting(self) -> bool:
        """False once shutting down: no new runs are started."""
        return self._runs.accepting

    def mark(self, key: Key) -> None:
        """Something new to send for this attempt."""
        self._outbox.mark(key)

    # ---- lifecycle -------------------------------------------------------------------
    async def recover(self) -> None:
        """Take up the spool left by a previous life (app/agents/agent_recovery.py)."""
        await self._recovery.recover()

    async def run_forever(self) -> None:
        await asyncio.to_thread(self.disk.probe)  # the first hello tells the spool's health
        await self.recover()
        self._start_watchdog()
        try:
            self._spawn(self._prepare_folders())
            self._spawn(self._health.probe_forever(self.config.disk_probe_interval))
            await self._link.connect_forever()
        finally:
            self._stop_watchdog()

    def stop(self) -> None:
        self._link.stopping.set()

    async def shutdown(self, *, drain: bool) -> None:
        """Take no new work (the server is told); with `drain`, first wait until every run
        held has ended and its outcome is stored by the server."""
        self._runs.accepting = False
        await self._link.say_leaving()
        while drain and self.held:
            self._outbox.released.clear()
            await self._outbox.released.wait()
        self.stop()

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _prepare_folders(self) -> None:
        count = min(self.config.ready_folders, self.config.max_runs or self.config.ready_folders)
        try:
            await asyncio.to_thread(self.spool.prepare, count)
        except OSError as exc:  # a full disk: attempts make their folders as they come
            log.warning("cannot make spool folders ahead: %s", exc)

    def _start_watchdog(self) -> None:
        if not self.config.watchdog:
            return
        try:
            self._watchdog = watchdog.start(self.spool.root, self.life)
        except OSError as exc:
            log.warning("no watchdog: host processes may outlive the agent: %s", exc)

    def _stop_watchdog(self) -> None:
        """The end of this life: the watchdog ends what it left running."""
        if self._watchdog is not None and self._watchdog.stdin is not None:
            with contextlib.suppress(OSError):
                self._watchdog.stdin.close()
