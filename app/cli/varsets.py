"""`almanac varset ...`: variable sets. A secret is given as `--secret NAME` (asked for,
not echoed: it stays out of the shell's history) or `--secret NAME=VALUE`; its value is
never printed back."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.output import client, emit_json, fail, table
from app.client import AlmanacAPIError

varset_app = typer.Typer(help="Variable sets (variables and secrets per instance).")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Instance = Annotated[str | None, typer.Option(help="The set's instance.")]
Vars = Annotated[list[str] | None, typer.Option("--var", help="NAME=VALUE (repeatable).")]
Secrets = Annotated[
    list[str] | None,
    typer.Option("--secret", help="NAME (asked for) or NAME=VALUE (repeatable)."),
]


def _pairs(items: list[str] | None, field: str) -> dict[str, str]:
    result = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not NAME=VALUE", param_hint=field)
        result[name] = value
    return result


def _secrets(items: list[str] | None) -> dict[str, str]:
    result = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        result[name] = value if sep else typer.prompt(f"{name}", hide_input=True, err=True)
    return result


def _params(instance: str | None) -> dict[str, str]:
    return {"instance": instance} if instance else {}


@varset_app.command("list")
def list_sets(instance: Instance = None, as_json: JsonFlag = False) -> None:
    try:
        rows = client().request("GET", "/variable-sets", params=_params(instance))
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        row["variables"] = ", ".join(row["variables"])
        row["secrets"] = ", ".join(row["secrets"])
    table(rows, ["name", "instance", "variables", "secrets", "used_by"], "Variable sets")


@varset_app.command("show")
def show(name: str, instance: Instance = None) -> None:
    try:
        emit_json(client().request("GET", f"/variable-sets/{name}", params=_params(instance)))
    except AlmanacAPIError as error:
        raise fail(error) from error


@varset_app.command("create")
def create(
    name: str,
    instance: Annotated[str, typer.Option(help="The set's instance.")] = "default",
    description: str = "",
    var: Vars = None,
    secret: Secrets = None,
) -> None:
    body = {
        "name": name,
        "instance": instance,
        "description": description,
        "variables": _pairs(var, "--var"),
        "secrets": _secrets(secret),
    }
    try:
        emit_json(client().request("POST", "/variable-sets", json=body))
    except AlmanacAPIError as error:
        raise fail(error) from error


@varset_app.command("set")
def update(
    name: str,
    instance: Instance = None,
    description: Annotated[str | None, typer.Option()] = None,
    var: Annotated[
        list[str] | None, typer.Option("--var", help="NAME=VALUE: replaces every variable.")
    ] = None,
    secret: Secrets = None,
    unset_secret: Annotated[
        list[str] | None, typer.Option("--unset-secret", help="A secret name to remove.")
    ] = None,
) -> None:
    """Change a set; secrets not named keep their values."""
    api = client()
    body: dict[str, Any] = {}
    if description is not None:
        body["description"] = description
    if var is not None:
        body["variables"] = _pairs(var, "--var")
    try:
        if secret or unset_secret:
            current = api.request("GET", f"/variable-sets/{name}", params=_params(instance))
            kept: dict[str, str | None] = dict.fromkeys(current["secrets"])
            kept.update(_secrets(secret))
            for gone in unset_secret or []:
                kept.pop(gone, None)
            body["secrets"] = kept
        emit_json(
            api.request("PATCH", f"/variable-sets/{name}", json=body, params=_params(instance))
        )
    except AlmanacAPIError as error:
        raise fail(error) from error


@varset_app.command("delete")
def delete(name: str, instance: Instance = None) -> None:
    try:
        client().request("DELETE", f"/variable-sets/{name}", params=_params(instance))
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"deleted {name}")
