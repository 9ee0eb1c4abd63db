"""`almanac task ...`"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.output import client, emit_json, fail, table
from app.cli.run_follow import follow_run
from app.cli.run_inputs import DateOption, ParamOption, param_values
from app.client import AlmanacAPIError

task_app = typer.Typer(help="Task definitions.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@task_app.command("list")
def list_tasks(as_json: JsonFlag = False) -> None:
    try:
        tasks = client().tasks.list()
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(tasks)
    else:
        table(tasks, ["tid", "name", "command", "active", "target", "next_fire_time"], "Tasks")


@task_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Unique task name.")],
    command: Annotated[str, typer.Option(help="Shell command to run.")],
    cron: Annotated[str | None, typer.Option(help="Cron schedule, e.g. '30 8 * * 1-5'.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA timezone of the schedule.")] = "UTC",
    target: Annotated[str | None, typer.Option(help="Agent name.")] = None,
    image: Annotated[str | None, typer.Option(help="Docker image (else a host process).")] = None,
    description: str = "",
    retry_attempts: int = 0,
    max_run_seconds: float | None = None,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="JSON body with any task fields.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    body: dict[str, Any] = json.loads(from_file.read_text()) if from_file else {}
    body.update(name=name, command=command, description=description, retry_attempts=retry_attempts)
    if cron:
        body["schedule"] = {"kind": "cron", "cron": cron, "timezone": timezone}
    for key, value in (("target", target), ("image", image), ("max_run_seconds", max_run_seconds)):
        if value is not None:
            body[key] = value
    try:
        task = client().tasks.create(**body)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(task)
    else:
        typer.echo(
            f"created task {task['tid']} ({task['name']}); next fire: "
            f"{task['next_fire_time'] or '-'}"
        )


@task_app.command("show")
def show(tid: int) -> None:
    try:
        emit_json(client().tasks.get(tid))
    except AlmanacAPIError as error:
        raise fail(error) from error


@task_app.command("run")
def force_run(
    tid: int,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait for the end.")] = False,
    param: ParamOption = None,
    business_date: DateOption = None,
    priority: Annotated[
        int | None, typer.Option(help="This run's priority, -100..100 (operators).")
    ] = None,
    agent: Annotated[
        str | None, typer.Option(help="Run on this agent instead of the task's target.")
    ] = None,
) -> None:
    """Force a run now, optionally for a business date with parameter values, on a chosen
    agent."""
    params = param_values(param)
    try:
        handle = client().tasks.run(
            tid, business_date=business_date, params=params, priority=priority, agent=agent
        )
        typer.echo(f"run {handle.id} {handle.status}")
        if wait:  # every state the run passes through, with its time
            status = follow_run(handle, typer.echo)
            raise typer.Exit(code=0 if status == "SUCCESS" else 1)
    except AlmanacAPIError as error:
        raise fail(error) from error


@task_app.command("forecast")
def forecast(
    tid: int, count: int = 10, after: str | None = None, as_json: JsonFlag = False
) -> None:
    try:
        data = client().tasks.forecast(tid, count=count, after=after)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(data)
        return
    for item in data["occurrences"]:
        typer.echo(f"{item['local']}  ({item['at']}){'  ' + item['note'] if item['note'] else ''}")
    for item in data["skipped"]:
        typer.echo(f"skipped {item['local']}: {item['reason']}")


@task_app.command("freeze")
def freeze(tid: int, date: str, reason: str = "") -> None:
    """Skip the task's occurrences on DATE (YYYY-MM-DD, in its schedule's timezone)."""
    try:
        client().request("POST", f"/tasks/{tid}/freezes", json={"date": date, "reason": reason})
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"task {tid} frozen on {date}")


@task_app.command("unfreeze")
def unfreeze(tid: int, date: str) -> None:
    try:
        client().request("DELETE", f"/tasks/{tid}/freezes/{date}")
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"task {tid} unfrozen on {date}")


@task_app.command("enable")
def enable(tid: int) -> None:
    try:
        client().tasks.update(tid, active=True)
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"task {tid} enabled")


@task_app.command("disable")
def disable(tid: int) -> None:
    try:
        client().tasks.update(tid, active=False)
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"task {tid} disabled")


@task_app.command("update")
def update(
    tid: int,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    command: Annotated[str | None, typer.Option(help="New shell command.")] = None,
    cron: Annotated[str | None, typer.Option(help="New cron schedule.")] = None,
    timezone: Annotated[str, typer.Option(help="Timezone of --cron.")] = "UTC",
    no_schedule: Annotated[
        bool, typer.Option("--no-schedule", help="Remove the schedule.")
    ] = False,
    target: Annotated[str | None, typer.Option(help="Agent name.")] = None,
    image: Annotated[str | None, typer.Option(help="Docker image.")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    retry_attempts: Annotated[int | None, typer.Option()] = None,
    max_run_seconds: Annotated[float | None, typer.Option()] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="JSON with any task fields.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change only the fields given."""
    body: dict[str, Any] = json.loads(from_file.read_text()) if from_file else {}
    for key, value in (
        ("name", name),
        ("command", command),
        ("target", target),
        ("image", image),
        ("description", description),
        ("retry_attempts", retry_attempts),
        ("max_run_seconds", max_run_seconds),
    ):
        if value is not None:
            body[key] = value
    if cron:
        body["schedule"] = {"kind": "cron", "cron": cron, "timezone": timezone}
    if no_schedule:
        body["schedule"] = None
    if not body:
        raise typer.BadParameter("nothing to change: give at least one option")
    try:
        task = client().tasks.update(tid, **body)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(task)
    else:
        typer.echo(
            f"updated task {task['tid']} ({task['name']}); next fire: "
            f"{task['next_fire_time'] or '-'}"
        )


@task_app.command("delete")
def delete(
    tid: int, yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False
) -> None:
    """Delete the definition (its finished runs stay in the history)."""
    try:
        api = client()
        name = api.tasks.get(tid)["name"]
        if not yes:
            typer.confirm(f"Delete task {tid} ({name})?", abort=True)
        api.tasks.delete(tid)
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"deleted task {tid} ({name})")
