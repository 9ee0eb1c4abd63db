"""Definition history as the API shows it: a version's who/when/origin, its definition
(the export document's item) and what changed from the version before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class FieldChangePublic(BaseModel):
    field: str
    change: str  # added | removed | changed
    before: Any = None
    after: Any = None


class VersionSummary(BaseModel):
    kind: str  # task | group | calendar
    object_id: int
    number: int
    name: str
    instance: str | None
    action: str  # created | updated | deleted | rolled_back | baseline
    rollback_of: int | None
    actor: str | None
    via: str  # ui | api | cli | import | apply | sync | system
    source: str | None
    at: datetime
    changed: list[str]  # the fields that differ from the version before


class VersionPublic(VersionSummary):
    definition: dict[str, Any]
    diff: list[FieldChangePublic]
    # The object's latest version number now (None once it is deleted)
    current: int | None
