"""Request and response models of variable sets (app/services/variable_sets.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from app.models.schemas import EnvName, PathName, _Strict

Value = Annotated[str, Field(max_length=100_000)]
# The whole set of secret names: a string sets the value, null keeps the stored one; a name
# left out is removed. Values are never read back (shown as "set").
SecretInput = dict[EnvName, Value | None]
MAX_VARIABLES = 500


class VariableSetCreate(_Strict):
    name: PathName
    instance: PathName = "default"
    description: str = Field(default="", max_length=10_000)
    variables: dict[EnvName, Value] = Field(default_factory=dict, max_length=MAX_VARIABLES)
    secrets: SecretInput = Field(default_factory=dict, max_length=MAX_VARIABLES)


class VariableSetUpdate(_Strict):
    """Only the fields sent change; `variables` replaces the plain ones, `secrets` names
    every secret (see SecretInput)."""

    description: str | None = Field(default=None, max_length=10_000)
    variables: dict[EnvName, Value] | None = Field(default=None, max_length=MAX_VARIABLES)
    secrets: SecretInput | None = Field(default=None, max_length=MAX_VARIABLES)


class VariableSetPublic(BaseModel):
    id: int
    name: str
    instance: str
    description: str
    # Values shown to the set's admins; masked for other readers.
    variables: dict[str, str]
    secrets: dict[str, str] = Field(description='name -> "set"; values are never returned')
    used_by: list[str] = Field(default_factory=list)
    created_at: datetime | None
    updated_at: datetime | None
