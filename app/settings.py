"""Server settings from flags and ALMANAC_* variables, built once at the composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALMANAC_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./almanac-data")
    database_url: str | None = None
    local_agent: bool = True
    # The built-in agent's own policy file (`almanac agent --policy`); none: the safe default.
    local_agent_policy: Path | None = None
    # What the built-in agent keeps back for the host: cores, and memory ("2G").
    local_agent_reserve_cores: float = 0.0
    local_agent_reserve_memory: str | None = None
    # Where dispatch puts a run among the agents it fits: `spread` (the least loaded) or
    # `pack` (fill one agent before the next); a pool's own `placement` wins for its runs.
    placement_policy: Literal["spread", "pack"] = "spread"
    admin_password: str | None = None
    # An agent silent this long is offline and its runs are lost.
    heartbeat_timeout_seconds: float = 30.0
    heartbeat_interval_seconds: float = 5.0
    # A dispatch the agent has not acknowledged by then is re-dispatched.
    accept_deadline_seconds: float = 30.0
    token_ttl_hours: float = 24.0 * 30
    public_url: str | None = None
    # Finished runs older than this many days are pruned (None keeps everything).
    retention_days: float | None = None
    # A backfill that would run more dates than this needs `confirm: true`.
    backfill_confirm_dates: int = 1000

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'almanac.db').resolve()}"

    @property
    def dialect(self) -> str:
        return "postgresql" if self.resolved_database_url().startswith("postgresql") else "sqlite"
