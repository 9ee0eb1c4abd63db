"""A server that speaks the agent protocol and sends whatever it is told to: what a
compromised server could do. It drives a real `almanac agent` process."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from app.protocol import frames as p

REPO = Path(__file__).resolve().parents[2]
FINAL = {"SUCCESS", "FAILED", "TERMINATED"}


class FakeServer:
    def __init__(self, starts: Sequence[p.StartRun]) -> None:
        self.starts = list(starts)
        self.hello: dict[str, Any] = {}
        self.finals: dict[int, dict[str, Any]] = {}
        self.logs: dict[int, bytes] = {}
        self._done = asyncio.Event()

    async def _handle(self, ws: ServerConnection) -> None:
        self.hello = json.loads(await ws.recv())
        await ws.send(p.Welcome(heartbeat_interval=5.0).model_dump_json())
        await ws.send(p.StartBatch(runs=self.starts).model_dump_json())
        async for frame in ws:
            if isinstance(frame, bytes):
                header, data = p.decode_frame(frame)
                if isinstance(header, p.LogHeader):
                    self.logs[header.run_id] = self.logs.get(header.run_id, b"") + data
                continue
            message = json.loads(frame)
            states = message.get("states") or ([message] if message.get("type") == "state" else [])
            for state in states:
                if state["status"] in FINAL:
                    self.finals[state["run_id"]] = state
            if len(self.finals) == len(self.starts):
                self._done.set()

    async def run(
        self, agent_args: Sequence[str], data_dir: Path, token_file: Path, limit_s: float = 60.0
    ) -> None:
        async with serve(self._handle, "127.0.0.1", 0, max_size=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            agent = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "app.cli.main",
                "agent",
                "--server",
                f"http://127.0.0.1:{port}",
                "--token-file",
                str(token_file),
                "--name",
                "strict",
                "--data-dir",
                str(data_dir),
                *agent_args,
                cwd=REPO,
            )
            try:
                async with asyncio.timeout(limit_s):
                    await self._done.wait()
            finally:
                agent.terminate()
                async with asyncio.timeout(20):
                    await agent.wait()


def start(run_id: int, command: str, **fields: Any) -> p.StartRun:
    return p.StartRun(run_id=run_id, attempt=1, command=command, **fields)


def drive(starts: Sequence[p.StartRun], agent_args: Sequence[str], tmp_path: Path) -> FakeServer:
    token = tmp_path / "agent.token"
    token.write_text("alm_agent_whatever\n")
    token.chmod(0o600)
    server = FakeServer(starts)
    asyncio.run(server.run(agent_args, tmp_path / "agent", token))
    return server
