"""`almanac run ...`"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from app.cli.output import client, emit_json, fail, table
from app.client import AlmanacAPIError
from app.client.http import TERMINAL

run_app = typer.Typer(help="Runs: history, timeline, logs.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@run_app.command("list")
def list_runs(
    status: Annotated[str | None, typer.Option(help="Filter by status.")] = None,
    task: Annotated[int | None, typer.Option(help="Filter by task id.")] = None,
    page: int = 1,
    page_size: int = 50,
    as_json: JsonFlag = False,
) -> None:
    filters: dict[str, object] = {"page": page, "page_size": page_size}
    if status:
        filters["status"] = status
    if task is not None:
        filters["task"] = task
    try:
        data = client().runs.list(**filters)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(data)
    else:
        table(data["items"], ["id", "task_name", "status", "trigger_kind", "trigger_time",
                              "agent", "exit_code", "duration_seconds"], "Runs")


@run_app.command("show")
def show(run_id: int, as_json: JsonFlag = False) -> None:
    try:
        data = client().runs.get(run_id).data
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(data)
        return
    typer.echo(f"run {data['id']} {data['status']}  task={data['task_name']}  "
               f"agent={data['agent']}  exit={data['exit_code']}  reason={data['reason'] or '-'}")
    for event in data["events"]:
        typer.echo(f"  {event['at']}  #{event['attempt']} {event['status']:<10} {event['detail']}")


@run_app.command("logs")
def logs(
    run_id: int,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new output.")]
    = False,
    stderr: Annotated[bool, typer.Option("--stderr", help="Show stderr instead of stdout.")]
    = False,
) -> None:
    stream = "stderr" if stderr else "stdout"
    api = client()
    printed = 0
    try:
        while True:
            handle = api.runs.get(run_id)
            text = handle.logs(stream)
            data = text.encode()
            if len(data) > printed:
                typer.echo(data[printed:].decode(errors="replace"), nl=False)
                printed = len(data)
            if not follow or handle.status in TERMINAL:
                return
            time.sleep(0.5)
    except AlmanacAPIError as error:
        raise fail(error) from error


@run_app.command("wait")
def wait(run_id: int, timeout: Annotated[float | None, typer.Option(help="Seconds.")] = None
         ) -> None:
    """Wait for the run to end; exit 0 on SUCCESS, 1 otherwise."""
    try:
        status = client().runs.get(run_id).wait(
            timeout=timeout, on_change=lambda s: typer.echo(s))
    except AlmanacAPIError as error:
        raise fail(error) from error
    except TimeoutError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(code=2) from error
    raise typer.Exit(code=0 if status == "SUCCESS" else 1)
