"""Server settings from flags and ALMANAC_* variables, built once at the composition root.

Each field's description is its documentation: docs/reference/settings.md is generated from
this class (scripts/gen_reference.py), so a setting without one fails the manual's test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALMANAC_", extra="ignore")

    host: str = Field("127.0.0.1", description="The address the server listens on.")
    port: int = Field(8080, description="The port the server listens on.")
    data_dir: Path = Field(
        Path("./almanac-data"),
        description="Where the server keeps its SQLite database, its secret key and run "
        "outputs (created 0700).",
    )
    database_url: str | None = Field(
        None,
        description="A SQLAlchemy URL (`postgresql+psycopg://...`); unset: SQLite in "
        "`data_dir/almanac.db`.",
    )
    local_agent: bool = Field(
        True, description="Start the built-in agent beside the server (`--no-local-agent`: off)."
    )
    local_agent_policy: Path | None = Field(
        None,
        description="The built-in agent's own policy file (as `almanac agent --policy`); "
        "unset: the safe default.",
    )
    local_agent_reserve_cores: float = Field(
        0.0, description="CPU cores the built-in agent keeps back for the host."
    )
    local_agent_reserve_memory: str | None = Field(
        None, description='Memory the built-in agent keeps back for the host ("2G").'
    )
    placement_policy: Literal["spread", "pack"] = Field(
        "spread",
        description="Where dispatch puts a run among the agents it fits: `spread` (the least "
        "loaded) or `pack` (fill one agent before the next); a pool's own `placement` wins "
        "for its runs.",
    )
    admin_password: str | None = Field(
        None,
        description="The first admin's password when the database has no user yet; unset: "
        "one is generated and printed once.",
    )
    heartbeat_timeout_seconds: float = Field(
        30.0, description="An agent silent this long is offline and its runs are lost."
    )
    heartbeat_interval_seconds: float = Field(
        5.0, description="How often the server pings each connected agent."
    )
    accept_deadline_seconds: float = Field(
        30.0,
        description="A dispatch the agent has not acknowledged by then is re-dispatched.",
    )
    token_ttl_hours: float = Field(
        24.0 * 30, description="How long a token from a password login stays valid."
    )
    public_url: str | None = Field(
        None,
        description="The URL this server is reached at behind a reverse proxy: the built-in "
        "agent dials it, and an `https://` one marks login cookies Secure; unset: "
        "`http://host:port`.",
    )
    retention_days: float | None = Field(
        None,
        description="Finished runs older than this many days are pruned; unset keeps everything.",
    )
    backfill_confirm_dates: int = Field(
        1000, description="A backfill that would run more dates than this needs `confirm: true`."
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'almanac.db').resolve()}"

    @property
    def dialect(self) -> str:
        return "postgresql" if self.resolved_database_url().startswith("postgresql") else "sqlite"
