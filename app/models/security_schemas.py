"""Request and response models for users, tokens, approvals and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.domain.names import plain_name
from app.domain.roles import Role
from app.models.schemas import TokenResponse

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")]
InstanceName = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,99})$")]
Password = Annotated[str, Field(min_length=1, max_length=1000)]
Instances = Annotated[list[InstanceName], Field(min_length=1, max_length=100)]
TokenName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(plain_name),
]
Comment = Annotated[str, Field(max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Strict):
    username: Username
    password: Password
    role: Role = Role.VIEWER
    instances: Instances = Field(default_factory=lambda: ["default"])
    timezone: str = Field(default="UTC", max_length=64)
    must_change_password: bool = True


class UserUpdate(_Strict):
    """Only the fields sent change."""

    role: Role | None = None
    instances: Instances | None = None
    timezone: str | None = Field(default=None, max_length=64)
    disabled: bool | None = None
    unlock: bool | None = Field(default=None, description="true clears a login lockout")


class PasswordReset(_Strict):
    password: Password
    must_change_password: bool = True


class MeUpdate(_Strict):
    """What anyone may change of their own account."""

    timezone: str = Field(max_length=64, description="IANA name the pages show times in")


class PasswordChange(_Strict):
    current_password: Password
    password: Password = Field(description="the new password")


class UserPublic(BaseModel):
    username: str
    role: str
    instances: list[str]
    disabled: bool
    timezone: str
    # False: the web UI shows times in the browser's zone until the user chooses one.
    timezone_chosen: bool = False
    must_change_password: bool
    locked_until: datetime | None
    created_at: datetime | None


class LoginResponse(TokenResponse):
    must_change_password: bool = False


class ApiTokenCreate(_Strict):
    name: TokenName
    expires_in_days: int = Field(default=90, ge=1, le=3650)


class ApiTokenCreated(BaseModel):
    id: int
    name: str
    token: str
    expires_at: datetime | None


class ApiTokenPublic(BaseModel):
    id: int
    username: str
    name: str
    kind: str
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class AgentTokenCreateBody(_Strict):
    """An agent token, bound to one agent name: `agent`, or `name` when `agent` is left out;
    without `expires_in_days` it lasts until revoked."""

    name: TokenName
    agent: TokenName | None = None
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class AgentTokenScopeBody(_Strict):
    """A token's new scope: the one agent name it may connect as from now on."""

    agent: TokenName


class AgentTokenListed(BaseModel):
    id: int
    name: str
    agent: str | None  # the agent name it may connect as
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class Decision(_Strict):
    comment: Comment = ""


class Approval(Decision):
    spec_digest: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="The run's spec_digest as reviewed: approve only if the spec is still it",
    )


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor: str | None
    action: str
    target_kind: str
    target_id: str | None
    instance: str | None
    source: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: str


class AuditPage(BaseModel):
    items: list[AuditPublic]
    page: int
    page_size: int
    has_more: bool
