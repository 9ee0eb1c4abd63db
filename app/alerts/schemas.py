"""API models for integrations (alert channels), alert rules and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from app.alerts.events import AlertEvent, normalise_event
from app.domain.names import plain_name

# The shared name rule (app/domain/names.py): no "/", ".", ".." or control characters.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(plain_name),
]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^https?://\S+$", max_length=2000)
]
Address = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)
]
Kind = Literal["webhook", "slack", "email"]
EventName = Annotated[AlertEvent, BeforeValidator(normalise_event)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookConfig(_Strict):
    """POSTs the alert as JSON, signed `X-Almanac-Signature: sha256=<hex>` (HMAC-SHA256 of
    the body with the integration's secret) when it has one."""

    url: Url
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=10, gt=0, le=120)


class SlackConfig(_Strict):
    """A Slack incoming webhook: `url` here, or the URL as the integration's secret."""

    url: Url | None = None
    timeout_seconds: float = Field(default=10, gt=0, le=120)


class EmailConfig(_Strict):
    """SMTP: `username` logs in with the integration's secret as the password."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    port: int = Field(default=25, ge=1, le=65535)
    sender: Address = Field(alias="from")
    to: list[Address] = Field(min_length=1, max_length=100)
    starttls: bool = False
    ssl: bool = False
    username: str | None = Field(default=None, max_length=320)
    subject_prefix: str = Field(default="[Almanac]", max_length=100)
    timeout_seconds: float = Field(default=10, gt=0, le=120)


CONFIGS: dict[str, type[BaseModel]] = {
    "webhook": WebhookConfig,
    "slack": SlackConfig,
    "email": EmailConfig,
}


class IntegrationCreate(_Strict):
    name: Name
    kind: Kind
    config: dict[str, Any] = Field(default_factory=dict)
    secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="Stored encrypted, never returned.",
    )
    instance: Name | None = Field(
        default=None,
        description="The instance whose alerts it carries; none: a global "
        "integration, which only admins of every instance create.",
    )


class IntegrationUpdate(_Strict):
    name: Name | None = None
    config: dict[str, Any] | None = None
    secret: str | None = Field(
        default=None, max_length=10_000, description="A new secret; an empty string removes it."
    )


class IntegrationPublic(BaseModel):
    id: int
    name: str
    kind: str
    config: dict[str, Any]
    has_secret: bool
    created_at: datetime | None
    instance: str | None = None


class TestResult(BaseModel):
    ok: bool
    error: str | None = None


class AlertRuleCreate(_Strict):
    """Alert through `integration` when one of `events` happens to a run of `task` or of a
    task of `group` (exactly one of them)."""

    task: int | None = None
    group: int | None = None
    events: list[EventName] = Field(min_length=1, max_length=10)
    integration: int
    late_minutes: float | None = Field(default=None, gt=0, le=7 * 24 * 60)
    active: bool = True

    @model_validator(mode="after")
    def _check(self) -> AlertRuleCreate:
        if (self.task is None) == (self.group is None):
            raise ValueError("give exactly one of task or group")
        if AlertEvent.LATE_START in self.events and self.late_minutes is None:
            raise ValueError("late_minutes: required with the late_start event")
        return self


class AlertRuleUpdate(_Strict):
    events: list[EventName] | None = Field(default=None, min_length=1, max_length=10)
    integration: int | None = None
    late_minutes: float | None = Field(default=None, gt=0, le=7 * 24 * 60)
    active: bool | None = None


class AlertRulePublic(BaseModel):
    id: int
    task: int | None
    group: int | None
    target_name: str | None
    events: list[str]
    integration: int
    integration_name: str | None
    late_minutes: float | None
    active: bool
    instance: str
    created_by: str | None
    created_at: datetime | None


class DeliveryPublic(BaseModel):
    id: int
    rule: int
    integration: int
    integration_name: str | None
    run: int | None
    attempt: int
    event: str
    status: Literal["pending", "sent", "failed"] | str
    tries: int
    last_error: str | None
    text: str | None
    next_try_at: datetime | None
    created_at: datetime | None
    sent_at: datetime | None
