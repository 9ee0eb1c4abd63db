"""Sending one alert through one channel: a signed webhook, Slack, or email over SMTP.

Webhooks and Slack go out with httpx on the event loop; SMTP (stdlib smtplib) runs in a
worker thread. Every failure is a SendError whose text goes to the delivery's log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import anyio
import httpx

from app.alerts.schemas import CONFIGS, EmailConfig, SlackConfig, WebhookConfig

SIGNATURE_HEADER = "X-Almanac-Signature"


class SendError(Exception):
    """The channel refused the alert or could not be reached."""


@dataclass(frozen=True)
class Outgoing:
    """One alert ready to go: the channel (kind, config, decrypted secret) and the payload."""

    delivery_id: int
    kind: str
    config: dict[str, Any]
    secret: str | None
    payload: dict[str, Any]


def signature(secret: str, body: bytes) -> str:
    """The header value a receiver recomputes: `sha256=` + hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(outgoing: Outgoing) -> bytes:
    body = {**outgoing.payload, "delivery": outgoing.delivery_id}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


async def _post(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], seconds: float
) -> None:
    try:
        response = await http.post(url, content=body, headers=headers, timeout=seconds)
    except httpx.HTTPError as exc:
        raise SendError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
    if not response.is_success:
        raise SendError(f"HTTP {response.status_code}: {response.text[:200]}")


async def send_webhook(http: httpx.AsyncClient, outgoing: Outgoing) -> None:
    config = WebhookConfig.model_validate(outgoing.config)
    body = webhook_body(outgoing)
    headers = {**config.headers, "Content-Type": "application/json", "User-Agent": "almanac-alerts"}
    if outgoing.secret:
        headers[SIGNATURE_HEADER] = signature(outgoing.secret, body)
    await _post(http, config.url, body, headers, config.timeout_seconds)


async def send_slack(http: httpx.AsyncClient, outgoing: Outgoing) -> None:
    config = SlackConfig.model_validate(outgoing.config)
    url = outgoing.secret or config.url
    if not url:
        raise SendError("no Slack webhook URL: set config.url or the secret")
    body = json.dumps({"text": outgoing.payload.get("text", "")}).encode()
    await _post(http, url, body, {"Content-Type": "application/json"}, config.timeout_seconds)


def email_message(config: EmailConfig, payload: dict[str, Any]) -> EmailMessage:
    text = str(payload.get("text", ""))
    message = EmailMessage()
    headline = text.removeprefix("Almanac: ").split(", attempt ")[0]
    message["Subject"] = f"{config.subject_prefix} {headline}".strip()
    message["From"] = config.sender
    message["To"] = ", ".join(config.to)
    run = payload.get("run") or {}
    lines = [text, ""] + [f"{k}: {v}" for k, v in run.items() if v is not None]
    message.set_content("\n".join(lines) + "\n")
    return message


def send_email_now(outgoing: Outgoing) -> None:
    """Blocking: call it from a worker thread."""
    config = EmailConfig.model_validate(outgoing.config)
    message = email_message(config, outgoing.payload)
    try:
        smtp: smtplib.SMTP
        if config.ssl:
            smtp = smtplib.SMTP_SSL(
                config.host,
                config.port,
                timeout=config.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
        with smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.username:
                smtp.login(config.username, outgoing.secret or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"{type(exc).__name__}: {exc}") from exc


async def send(http: httpx.AsyncClient, outgoing: Outgoing) -> None:
    """Send through the right channel; raises SendError."""
    if outgoing.kind not in CONFIGS:
        raise SendError(f"unknown integration kind {outgoing.kind!r}")
    if outgoing.kind == "webhook":
        await send_webhook(http, outgoing)
    elif outgoing.kind == "slack":
        await send_slack(http, outgoing)
    else:
        await anyio.to_thread.run_sync(send_email_now, outgoing)
