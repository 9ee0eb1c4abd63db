"""`almanac run ...`"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from app.cli.output import client, console, emit_json, fail, table
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
        table(
            data["items"],
            [
                "id",
                "task_name",
                "status",
                "trigger_kind",
                "trigger_time",
                "agent",
                "exit_code",
                "duration_seconds",
            ],
            "Runs",
        )


@run_app.command("show")
def show(run_id: int, as_json: JsonFlag = False) -> None:
    try:
        data = client().runs.get(run_id).data
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(data)
        return
    typer.echo(
        f"run {data['id']} {data['status']}  task={data['task_name']}  "
        f"agent={data['agent']}  exit={data['exit_code']}  reason={data['reason'] or '-'}"
    )
    typer.echo(f"  business date {data.get('business_date') or '-'}")
    for name, value in sorted((data.get("params") or {}).items()):
        typer.echo(f"  param {name} = {json.dumps(value)}")
    for event in data["events"]:
        typer.echo(f"  {event['at']}  #{event['attempt']} {event['status']:<10} {event['detail']}")


@run_app.command("logs")
def logs(
    run_id: int,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new output.")
    ] = False,
    stderr: Annotated[
        bool, typer.Option("--stderr", help="Show stderr instead of stdout.")
    ] = False,
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
def wait(
    run_id: int, timeout: Annotated[float | None, typer.Option(help="Seconds.")] = None
) -> None:
    """Wait for the run to end; exit 0 on SUCCESS, 1 otherwise."""
    try:
        status = client().runs.get(run_id).wait(timeout=timeout, on_change=lambda s: typer.echo(s))
    except AlmanacAPIError as error:
        raise fail(error) from error
    except TimeoutError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(code=2) from error
    raise typer.Exit(code=0 if status == "SUCCESS" else 1)


Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")]


@run_app.command("kill")
def kill(run_id: int, yes: Yes = False) -> None:
    """Stop a run (it ends TERMINATED); asks first unless -y."""
    try:
        api = client()
        handle = api.runs.get(run_id)
        if handle.status in TERMINAL:
            typer.echo(f"run {run_id} already ended {handle.status}")
            return
        if not yes:
            typer.confirm(
                f"Kill run {run_id} ({handle.data.get('task_name') or 'adhoc'}, {handle.status})?",
                abort=True,
            )
        handle.kill()
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"run {run_id}: kill requested ({handle.status})")


@run_app.command("pause")
def pause(run_id: int) -> None:
    """Suspend a RUNNING run (SIGSTOP of its processes, or docker pause)."""
    try:
        client().runs.get(run_id).pause()
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"run {run_id}: pause requested")


@run_app.command("resume")
def resume(run_id: int) -> None:
    """Resume a PAUSED run."""
    try:
        client().runs.get(run_id).resume()
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"run {run_id}: resume requested")


def _line(data: dict[str, Any]) -> str:
    parts = [f"run {data['id']}", str(data["status"])]
    if data.get("agent"):
        parts.append(f"on {data['agent']}")
    if data.get("reason"):
        parts.append(f"({data['reason']})")
    return " ".join(parts)


@run_app.command("watch")
def watch(
    run_id: int, timeout: Annotated[float | None, typer.Option(help="Seconds.")] = None
) -> None:
    """A live status line (with a spinner) until the run ends; each change is printed.
    Exit 0 on SUCCESS, 1 otherwise, 2 on timeout."""
    try:
        handle = client().runs.get(run_id)
        with console.status(_line(handle.data)) as spinner:

            def changed(_status: str) -> None:
                spinner.update(_line(handle.data))
                console.out(_line(handle.data), highlight=False)

            status = handle.wait(timeout=timeout, poll=0.3, on_change=changed)
    except AlmanacAPIError as error:
        raise fail(error) from error
    except TimeoutError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(code=2) from error
    seconds = handle.data.get("duration_seconds")
    if seconds is not None:
        console.out(f"took {seconds:.1f}s", highlight=False)
    raise typer.Exit(code=0 if status == "SUCCESS" else 1)
