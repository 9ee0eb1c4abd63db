"""How one agent process is set up: where it dials, what it tells, what it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.domain.run_policy import UNRESTRICTED, RunPolicy


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    server_url: str
    token: str
    name: str
    data_dir: Path
    labels: dict[str, str]
    max_runs: int | None = None
    heartbeat_interval: float = 5.0
    # Spool folders made ahead of need (at most max_runs): a burst of starts then makes none.
    ready_folders: int = 1024
    # Free space the spool needs to take work, and how often it is measured.
    spool_min_free: int = 16 * 1024 * 1024
    disk_probe_interval: float = 2.0
    # A watchdog process ends this life's host process groups should the agent die.
    watchdog: bool = True
    orphan_grace_seconds: float = 5.0
    # What this agent runs at all, whatever the server sends (app/agents/agent_policy.py).
    policy: RunPolicy = UNRESTRICTED
    # What the host keeps for itself: placement offers runs the rest (`--reserve-*`).
    reserve_cores: float = 0.0
    reserve_memory: int = 0
