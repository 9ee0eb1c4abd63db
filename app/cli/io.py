"""`almanac export [-o FILE] [--format yaml]` and
`almanac import FILE [--dry-run] [--mode mirror]`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.output import client, console, emit_json, fail, table
from app.client import AlmanacAPIError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def export(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE (default: standard output)."),
    ] = None,
    format: Annotated[str, typer.Option("--format", help="json or yaml.")] = "json",
) -> None:
    """Every calendar, group, task and dependency you can see, by name, as one document."""
    if format not in ("json", "yaml"):
        raise typer.BadParameter("json or yaml", param_hint="--format")
    try:
        text = client().definitions.export(format=format)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if output is None:
        sys.stdout.write(text)
        return
    partial = output.with_name(output.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(output)
    typer.echo(f"wrote {output}", err=True)


def _report(result: dict[str, Any]) -> None:
    changes = result["changes"]
    if changes:
        rows = [{**c, "fields": ", ".join(c["fields"])} for c in changes]
        table(
            rows,
            ["action", "kind", "name", "fields"],
            "Would change" if result["dry_run"] else "Changed",
        )
    summary = result["summary"]
    state = "dry run, nothing changed" if result["dry_run"] else "applied"
    console.out(
        f"create {summary['create']}, update {summary['update']}, delete "
        f"{summary['delete']}, unchanged {summary['unchanged']} "
        f"({result['mode']}, {state})",
        highlight=False,
    )


def _refused(error: AlmanacAPIError) -> typer.Exit:
    if error.errors:
        table(error.errors, ["item", "field", "problem"], "Refused: nothing was changed")
        return typer.Exit(code=1)
    return fail(error)


def import_(
    file: Annotated[
        Path, typer.Argument(help="The document ('-' reads standard input).", allow_dash=True)
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would change.")] = False,
    mode: Annotated[
        str, typer.Option(help="merge: create and update; mirror: also delete what the file lacks.")
    ] = "merge",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check a document as a whole, then apply it in one transaction (or not at all)."""
    if mode not in ("merge", "mirror"):
        raise typer.BadParameter("merge or mirror", param_hint="--mode")
    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    api = client()
    try:
        if mode == "mirror" and not dry_run and not yes:
            preview = api.definitions.import_(text, dry_run=True, mode=mode)
            doomed = [c for c in preview["changes"] if c["action"] == "delete"]
            if doomed:
                table(doomed, ["kind", "name"], "Mirror deletes")
                typer.confirm(f"Delete these {len(doomed)}?", abort=True)
        result = api.definitions.import_(text, dry_run=dry_run, mode=mode)
    except AlmanacAPIError as error:
        if as_json:
            emit_json({"detail": error.detail, "errors": error.errors})
            raise typer.Exit(code=1) from error
        raise _refused(error) from error
    if as_json:
        emit_json(result)
    else:
        _report(result)


def register(cli: typer.Typer) -> None:
    cli.command("export")(export)
    cli.command("import")(import_)
