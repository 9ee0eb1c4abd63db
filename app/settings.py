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
    # How runs are placed where their pool says nothing (`pool.placement`): spread (least
    # loaded agent first) or pack (fill one agent first). ALMANAC_PLACEMENT_POLICY.
    placement_policy: Literal["spread", "pack"] = "spread"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'almanac.db').resolve()}"

    @property
    def dialect(self) -> str:
        return "postgresql" if self.resolved_database_url().startswith("postgresql") else "sqlite"
