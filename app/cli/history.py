"""`almanac task|group history ID [N]` and `almanac task|group rollback ID N`.

No `from __future__ import annotations` here: the commands are made per kind inside
`register`, and typer reads their annotations, which name `register`'s locals.
"""

import json
from typing import Annotated, Any

import typer

from app.cli.output import client, emit_json, fail, table
from app.client import AlmanacAPIError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def print_version(version: dict[str, Any]) -> None:
    """A header line, then one line per changed field: `field: before -> after`."""
    via = version["via"] + (f" from {version['source']}" if version.get("source") else "")
    typer.echo(
        f"version {version['number']} ({version['action'].replace('_', ' ')}"
        + (f" to {version['rollback_of']}" if version.get("rollback_of") else "")
        + f") by {version.get('actor') or 'system'} via {via} at {version['at']}"
    )
    for change in version["diff"]:
        if change["change"] == "added":
            typer.echo(f"  + {change['field']}: {_value(change['after'])}")
        elif change["change"] == "removed":
            typer.echo(f"  - {change['field']}: {_value(change['before'])}")
        else:
            before, after = _value(change["before"]), _value(change["after"])
            typer.echo(f"  ~ {change['field']}: {before} -> {after}")


def register(app: typer.Typer, kind: str) -> None:
    """Add `history` and `rollback` to `almanac task` (kind "task") or `almanac group`."""
    ident = "TID" if kind == "task" else "GID"

    @app.command("history")
    def history(
        object_id: Annotated[int, typer.Argument(metavar=ident)],
        number: Annotated[int | None, typer.Argument(help="Show this version's diff.")] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Its definition versions: who, when, through what; with N, that version's diff."""
        namespace = client().tasks if kind == "task" else client().groups
        try:
            if number is None:
                versions = namespace.versions(object_id)
            else:
                version = namespace.version(object_id, number)
        except AlmanacAPIError as error:
            raise fail(error) from error
        if number is not None:
            emit_json(version) if as_json else print_version(version)
        elif as_json:
            emit_json(versions)
        else:
            rows = [{**v, "changed": ", ".join(v["changed"])} for v in versions]
            table(rows, ["number", "action", "actor", "via", "at", "changed"], "Versions")

    @app.command("rollback")
    def rollback(
        object_id: Annotated[int, typer.Argument(metavar=ident)],
        number: Annotated[int, typer.Argument(help="The version to restore.")],
        as_json: JsonFlag = False,
    ) -> None:
        """Take version N's definition again (recorded as a new version)."""
        namespace = client().tasks if kind == "task" else client().groups
        try:
            version = namespace.rollback(object_id, number)
        except AlmanacAPIError as error:
            raise fail(error) from error
        emit_json(version) if as_json else print_version(version)
