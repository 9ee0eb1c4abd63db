"""`almanac backfill task|group NAME_OR_ID --start --end ...`, and `backfill status | list |
pause | resume | cancel | approve | reject ID`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.output import client, console, emit_json, fail, table
from app.cli.run_inputs import ParamOption, param_values
from app.client import AlmanacAPIError

backfill_app = typer.Typer(
    help="Run a task or group for a range of business dates.", no_args_is_help=True
)

Start = Annotated[str, typer.Option("--start", help="First date, YYYY-MM-DD.")]
End = Annotated[str, typer.Option("--end", help="Last date, YYYY-MM-DD (included).")]
Mode = Annotated[
    str,
    typer.Option(help="missing (no successful run yet), failed (a failed run), or all."),
]
Order = Annotated[str, typer.Option(help="oldest or newest date first.")]
Cap = Annotated[int, typer.Option("--max-concurrent", help="Dates running at once.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Only show the plan.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Confirm a backfill of many dates.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _find(kind: str, name_or_id: str) -> int:
    """An id as given, or the one task (group) of that name the caller sees."""
    if name_or_id.isdigit():
        return int(name_or_id)
    rows = client().request("GET", f"/{kind}s", params={"q": name_or_id})
    key = "tid" if kind == "task" else "gid"
    found = [int(r[key]) for r in rows if r["name"] == name_or_id]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} (in several instances: use the id)"
        typer.echo(f"error: {what} {kind} named {name_or_id!r}", err=True)
        raise typer.Exit(code=1)
    return found[0]


def _start(kind: str, name_or_id: str, body: dict[str, Any], as_json: bool) -> None:
    try:
        key = _find(kind, name_or_id)
        namespace = client().backfills
        made = (namespace.task if kind == "task" else namespace.group)(key, **body)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(made)
        return
    table(made["dates"], ["date", "action", "reason"], f"Backfill of {made['name']}")
    what = "dry run" if made["id"] is None else f"backfill {made['id']} {made['status']}"
    console.print(f"{what}: {made['run_count']} dates run, {made['skip_count']} skipped")


def _options(
    start: str,
    end: str,
    mode: str,
    order: str,
    cap: int,
    param: list[str] | None,
    dry_run: bool,
    yes: bool,
) -> dict[str, Any]:
    return {
        "start": start,
        "end": end,
        "mode": mode,
        "order": order,
        "max_concurrent": cap,
        "params": param_values(param),
        "dry_run": dry_run,
        "confirm": yes,
    }


@backfill_app.command("task")
def backfill_task(
    name_or_id: str,
    start: Start,
    end: End,
    mode: Mode = "missing",
    order: Order = "oldest",
    max_concurrent: Cap = 1,
    param: ParamOption = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a task once per business date of START..END its schedule has (holidays and
    closed days skipped, with the reason)."""
    body = _options(start, end, mode, order, max_concurrent, param, dry_run, yes)
    _start("task", name_or_id, body, as_json)


@backfill_app.command("group")
def backfill_group(
    name_or_id: str,
    start: Start,
    end: End,
    mode: Mode = "missing",
    order: Order = "oldest",
    max_concurrent: Cap = 1,
    param: ParamOption = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a group once per business date (one group run per date, its DAG and upstream
    groups of the same date respected)."""
    body = _options(start, end, mode, order, max_concurrent, param, dry_run, yes)
    _start("group", name_or_id, body, as_json)


@backfill_app.command("status")
def status(backfill_id: int, as_json: JsonFlag = False) -> None:
    """The plan and its progress."""
    try:
        shown = client().backfills.get(backfill_id)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(shown)
        return
    rows = [d for d in shown["dates"] if d["action"] == "run"]
    table(rows, ["date", "state", "status", "run", "group_run"], f"Backfill {backfill_id}")
    progress = ", ".join(f"{k} {v}" for k, v in sorted(shown["progress"].items()))
    console.print(f"{shown['name']}: {shown['status']} ({progress or 'nothing to run'})")


@backfill_app.command("list")
def list_backfills(as_json: JsonFlag = False) -> None:
    try:
        rows = client().backfills.list()
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(rows)
        return
    table(rows, ["id", "name", "start", "end", "status", "run_count", "progress"], "Backfills")


def _control(action: str) -> Any:
    def command(backfill_id: int) -> None:
        try:
            result = getattr(client().backfills, action)(backfill_id)
        except AlmanacAPIError as error:
            raise fail(error) from error
        typer.echo(f"backfill {backfill_id}: {result['status']}")

    command.__doc__ = {
        "pause": "No further date starts; started runs go on.",
        "resume": "Start dates again.",
        "cancel": "Dates not started never start; queued runs end TERMINATED.",
        "approve": "Let a user's backfill start (operators).",
        "reject": "Refuse a user's backfill (operators).",
    }[action]
    return command


for _action in ("pause", "resume", "cancel", "approve", "reject"):
    backfill_app.command(_action)(_control(_action))
