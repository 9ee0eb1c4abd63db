"""`almanac import-crontab FILE`: a crontab as tasks, shown (`--dry-run`) or created in one
transaction (POST /import/crontab)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.output import client, console, emit_json, fail, table
from app.client import AlmanacAPIError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _system_path(file: Path) -> bool:
    """/etc/crontab and /etc/cron.d/* carry a user column."""
    text = str(file)
    return text == "/etc/crontab" or text.startswith("/etc/cron.d/")


def import_crontab(
    file: Annotated[
        Path, typer.Argument(help="The crontab ('-' reads standard input).", allow_dash=True)
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show the tasks it would create.")
    ] = False,
    group: Annotated[
        str | None, typer.Option(help="Tag every task with the label group=NAME.")
    ] = None,
    instance: Annotated[str, typer.Option(help="The instance the tasks go to.")] = "default",
    timezone: Annotated[
        str, typer.Option(help="Timezone of the schedules until a CRON_TZ line.")
    ] = "UTC",
    prefix: Annotated[str, typer.Option(help="Put before every task name.")] = "",
    system_format: Annotated[
        bool | None,
        typer.Option(
            "--system-format/--user-format",
            help="System format (/etc/crontab: a user column) or user format (crontab -l); "
            "default: system for /etc/crontab and /etc/cron.d/*, else user.",
        ),
    ] = None,
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Import the lines that translate, leave the others out."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Read a crontab as tasks; any untranslatable line refuses the whole import unless
    --skip-bad."""
    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    system = _system_path(file) if system_format is None else system_format
    body = {
        "text": text,
        "format": "system" if system else "user",
        "timezone": timezone,
        "prefix": prefix,
        "group": group,
        "instance": instance,
        "skip_untranslatable": skip_bad,
    }
    try:
        result = client().request("POST", "/import/crontab", json=body, params={"dry_run": dry_run})
    except AlmanacAPIError as error:
        if as_json:
            emit_json({"detail": error.detail, "errors": error.errors})
            raise typer.Exit(code=1) from error
        if error.errors:
            table(error.errors, ["item", "field", "problem"], "Refused: nothing was created")
            raise typer.Exit(code=1) from error
        raise fail(error) from error
    if as_json:
        emit_json(result)
        return
    _report(result)


def _report(result: dict[str, Any]) -> None:
    rows = [
        {
            "line": t["line"],
            "name": t["name"],
            "schedule": f"{t['schedule']['cron']} ({t['schedule']['timezone']})",
            "user": t["run_as_user"] or "",
            "command": t["command"],
        }
        for t in result["tasks"]
    ]
    if rows:
        title = "Would create" if result["dry_run"] else "Created"
        table(rows, ["line", "name", "schedule", "user", "command"], title)
    if result["untranslatable"]:
        table(result["untranslatable"], ["line", "text", "reason"], "Cannot translate")
    console.out(result["message"], highlight=False)
