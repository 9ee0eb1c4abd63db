"""`almanac integration ...` (alert channels) and `almanac alert ...` (rules, deliveries)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from app.cli.output import client, emit_json, fail, table
from app.client import AlmanacAPIError

integration_app = typer.Typer(
    help="Alert channels: webhook, Slack, email (admin).", no_args_is_help=True
)
alert_app = typer.Typer(
    help="Alert rules on tasks and groups, and what was sent.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")]


def _call(method: str, path: str, **kwargs: Any) -> Any:
    try:
        return client().request(method, path, **kwargs)
    except AlmanacAPIError as error:
        raise fail(error) from error


def _show(data: Any, as_json: bool, columns: list[str], title: str) -> None:
    if as_json:
        emit_json(data)
    else:
        table(data if isinstance(data, list) else [data], columns, title)


_INTEGRATION_COLUMNS = ["id", "name", "kind", "instance", "has_secret", "config"]


@integration_app.command("list")
def list_integrations(as_json: JsonFlag = False) -> None:
    _show(_call("GET", "/integrations"), as_json, _INTEGRATION_COLUMNS, "Integrations")


def _config(
    config_json: str | None,
    url: str | None,
    host: str | None,
    port: int | None,
    sender: str | None,
    to: list[str] | None,
    starttls: bool,
    username: str | None,
) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(config_json) if config_json else {}
    for key, value in (
        ("url", url),
        ("host", host),
        ("port", port),
        ("from", sender),
        ("to", to or None),
        ("username", username),
    ):
        if value is not None:
            config[key] = value
    if starttls:
        config["starttls"] = True
    return config


@integration_app.command("create")
def create_integration(
    name: str,
    kind: Annotated[str, typer.Option(help="webhook, slack or email.")],
    url: Annotated[str | None, typer.Option(help="Webhook or Slack URL.")] = None,
    host: Annotated[str | None, typer.Option(help="SMTP host.")] = None,
    port: Annotated[int | None, typer.Option(help="SMTP port.")] = None,
    sender: Annotated[str | None, typer.Option("--from", help="Email sender.")] = None,
    to: Annotated[list[str] | None, typer.Option(help="Email recipient, repeatable.")] = None,
    starttls: Annotated[bool, typer.Option("--starttls")] = False,
    username: Annotated[str | None, typer.Option(help="SMTP login.")] = None,
    config_json: Annotated[str | None, typer.Option("--config", help="Config as JSON.")] = None,
    secret: Annotated[
        bool,
        typer.Option("--secret", help="Ask for the secret (HMAC key, SMTP password, Slack URL)."),
    ] = False,
    instance: Annotated[
        str | None,
        typer.Option(
            help="The instance whose alerts it carries (none: global, for admins of all)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    body: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "config": _config(config_json, url, host, port, sender, to, starttls, username),
    }
    if instance is not None:
        body["instance"] = instance
    if secret:
        body["secret"] = typer.prompt("Secret", hide_input=True)
    _show(_call("POST", "/integrations", json=body), as_json, _INTEGRATION_COLUMNS, "Integration")


@integration_app.command("update")
def update_integration(
    integration_id: int,
    name: Annotated[str | None, typer.Option()] = None,
    config_json: Annotated[str | None, typer.Option("--config", help="New config, JSON.")] = None,
    secret: Annotated[bool, typer.Option("--secret", help="Ask for a new secret.")] = False,
    clear_secret: Annotated[bool, typer.Option("--clear-secret")] = False,
    as_json: JsonFlag = False,
) -> None:
    body: dict[str, Any] = {}
    if name:
        body["name"] = name
    if config_json:
        body["config"] = json.loads(config_json)
    if secret:
        body["secret"] = typer.prompt("Secret", hide_input=True)
    if clear_secret:
        body["secret"] = ""
    _show(
        _call("PATCH", f"/integrations/{integration_id}", json=body),
        as_json,
        _INTEGRATION_COLUMNS,
        "Integration",
    )


@integration_app.command("delete")
def delete_integration(integration_id: int, yes: Yes = False) -> None:
    if not yes:
        typer.confirm(f"Delete integration {integration_id}?", abort=True)
    _call("DELETE", f"/integrations/{integration_id}")
    typer.echo(f"deleted integration {integration_id}")


@integration_app.command("test")
def test_integration(integration_id: int) -> None:
    """Send a test message now."""
    result = _call("POST", f"/integrations/{integration_id}/test")
    if result["ok"]:
        typer.echo("sent")
        return
    typer.echo(f"failed: {result['error']}", err=True)
    raise typer.Exit(code=1)


_RULE_COLUMNS = [
    "id",
    "task",
    "group",
    "target_name",
    "events",
    "integration_name",
    "late_minutes",
    "active",
]


@alert_app.command("list")
def list_rules(
    task: int | None = None, group: int | None = None, as_json: JsonFlag = False
) -> None:
    params = {k: v for k, v in (("task", task), ("group", group)) if v is not None}
    _show(_call("GET", "/alerts", params=params), as_json, _RULE_COLUMNS, "Alert rules")


@alert_app.command("create")
def create_rule(
    events: Annotated[
        str,
        typer.Option(
            help="failed, succeeded, timeout, retries_exhausted, "
            "late_start, agent_lost (comma separated)."
        ),
    ],
    integration: Annotated[int, typer.Option(help="Integration id.")],
    task: Annotated[int | None, typer.Option(help="Task id.")] = None,
    group: Annotated[int | None, typer.Option(help="Group id.")] = None,
    late_minutes: Annotated[float | None, typer.Option(help="For late_start.")] = None,
    as_json: JsonFlag = False,
) -> None:
    body = {
        "events": [e.strip() for e in events.split(",") if e.strip()],
        "integration": integration,
        "task": task,
        "group": group,
        "late_minutes": late_minutes,
    }
    _show(
        _call("POST", "/alerts", json={k: v for k, v in body.items() if v is not None}),
        as_json,
        _RULE_COLUMNS,
        "Alert rule",
    )


@alert_app.command("enable")
def enable_rule(rule_id: int) -> None:
    _call("PATCH", f"/alerts/{rule_id}", json={"active": True})
    typer.echo(f"alert rule {rule_id} enabled")


@alert_app.command("disable")
def disable_rule(rule_id: int) -> None:
    _call("PATCH", f"/alerts/{rule_id}", json={"active": False})
    typer.echo(f"alert rule {rule_id} disabled")


@alert_app.command("delete")
def delete_rule(rule_id: int, yes: Yes = False) -> None:
    if not yes:
        typer.confirm(f"Delete alert rule {rule_id}?", abort=True)
    _call("DELETE", f"/alerts/{rule_id}")
    typer.echo(f"deleted alert rule {rule_id}")


@alert_app.command("deliveries")
def deliveries(run_id: int, as_json: JsonFlag = False) -> None:
    """The alerts sent (or still being tried) about a run."""
    _show(
        _call("GET", f"/runs/{run_id}/alerts"),
        as_json,
        ["id", "event", "attempt", "integration_name", "status", "tries", "last_error", "sent_at"],
        f"Alerts of run {run_id}",
    )


def register(cli: typer.Typer) -> None:
    cli.add_typer(integration_app, name="integration")
    cli.add_typer(alert_app, name="alert")
