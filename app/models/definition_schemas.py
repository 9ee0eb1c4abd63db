"""Definitions as code over REST: files to plan or apply, the plan, and git sync sources."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.models.io_schemas import FORMAT, Kind
from app.models.schemas import PathName, _Strict

FilePath = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class DefinitionFile(_Strict):
    path: FilePath = Field(description="The file's path in its folder, e.g. etl/daily.yaml.")
    content: str = Field(description="The text: YAML for .yaml/.yml, JSON otherwise.")


class DefinitionsRequest(_Strict):
    files: list[DefinitionFile] = Field(min_length=1, max_length=10_000)
    source: str = Field(
        default="file:definitions",
        min_length=1,
        max_length=300,
        description="Who manages the objects: 'file:<path>' from the CLI ('sync:' is the "
        "git sync's).",
    )
    commit: str | None = Field(default=None, max_length=100)
    prune: bool = Field(
        default=False, description="Delete what this source manages and the files lack."
    )


class FieldChange(BaseModel):
    field: str = Field(description="Dotted path, e.g. schedule.cron.")
    before: Any = None
    after: Any = None


class DefinitionChange(BaseModel):
    action: Literal["create", "update", "delete"]
    kind: Kind
    name: str
    file: str | None = Field(default=None, description="The file that holds the item.")
    fields: list[FieldChange] = Field(default_factory=list)


class DefinitionsReport(BaseModel):
    format: str = FORMAT
    source: str
    commit: str | None
    prune: bool
    applied: bool
    summary: dict[str, int]
    changes: list[DefinitionChange]
    text: str = Field(description="The plan as a reviewer reads it (stable order).")


class SyncSourceCreate(_Strict):
    name: PathName
    url: str = Field(
        min_length=1, max_length=2000, description="https://..., file:///..., or a local path."
    )
    branch: str = Field(default="main", min_length=1, max_length=200)
    path: str = Field(default="", max_length=1000, description="Sub-folder with the files.")
    poll_seconds: int | None = Field(
        default=300, ge=10, le=86_400, description="null: only the webhook pulls."
    )
    enabled: bool = True
    credentials: str | None = Field(
        default=None,
        max_length=2000,
        description="'user:token' for an https repository; stored encrypted, never returned.",
    )


class SyncSourceUpdate(_Strict):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    branch: str | None = Field(default=None, min_length=1, max_length=200)
    path: str | None = Field(default=None, max_length=1000)
    poll_seconds: int | None = Field(default=None, ge=10, le=86_400)
    enabled: bool | None = None
    credentials: str | None = Field(default=None, max_length=2000)


class SyncSourcePublic(BaseModel):
    name: str
    url: str
    branch: str
    path: str
    poll_seconds: int | None
    enabled: bool
    run_as: str
    has_credentials: bool
    last_checked_at: datetime | None
    last_seen_commit: str | None
    last_applied_commit: str | None
    last_applied_at: datetime | None
    last_applied_by: str | None
    last_plan: str
    last_error: str | None
    last_error_at: datetime | None
    last_error_commit: str | None


class SyncSourceCreated(SyncSourcePublic):
    webhook_secret: str = Field(
        description="Shown once: send it as X-Almanac-Sync-Token, or sign the body with it "
        "(X-Hub-Signature-256: sha256=<HMAC>)."
    )


class SyncResult(BaseModel):
    name: str
    outcome: Literal["applied", "unchanged", "refused", "unreadable"]
    commit: str | None
    detail: str = ""
