"""Upstream output files a run may read, fetched by its agent before the command starts.

The server lists them in the start message (`inputs`); the agent fetches each over HTTP with
its own token (the server hands out only files of the upstreams of a run it holds), checks
its size and SHA-256, and puts it at `<inputs>/<TASK>/<NAME>`: `$ALMANAC_UPSTREAM_OUTPUTS`
for the command (read-only `/almanac-inputs` in a container).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

import anyio
import httpx

from app.agents.agent_config import AgentConfig
from app.protocol.frames import StartRun
from app.protocol.output_names import UnsafeName, check_name


class InputError(Exception):
    """An upstream output could not be fetched as listed."""


async def fetch_inputs(config: AgentConfig, start: StartRun, folder: Path) -> None:
    base = config.server_url.rstrip("/")
    headers = {"Authorization": f"Bearer {config.token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        for item in start.inputs:
            try:
                target = folder / check_name(item.task) / check_name(item.name)
            except UnsafeName as exc:
                raise InputError(f"upstream output {item.task}/{item.name}: {exc}") from exc
            target.parent.mkdir(parents=True, exist_ok=True)
            url = (
                f"/api/v1/agents/inputs/{start.run_id}/{start.attempt}/"
                f"{item.run_id}/{quote(item.name)}"
            )
            digest = hashlib.sha256()
            size = 0
            try:
                async with client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise InputError(
                            f"upstream output {item.task}/{item.name}: "
                            f"the server answered {response.status_code}"
                        )
                    handle = await anyio.open_file(target, "wb")
                    async with handle:
                        async for chunk in response.aiter_bytes():
                            await handle.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
            except (httpx.HTTPError, OSError) as exc:
                raise InputError(f"upstream output {item.task}/{item.name}: {exc}") from exc
            if size != item.size or (item.sha256 and digest.hexdigest() != item.sha256):
                raise InputError(f"upstream output {item.task}/{item.name}: not as listed")
