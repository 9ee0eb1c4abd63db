"""`almanac group ...` and the group-run operator commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.output import client, emit_json, fail, table
from app.cli.run_inputs import DateOption, ParamOption, param_values
from app.client import AlmanacAPIError

group_app = typer.Typer(help="Groups and their dependency DAGs.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _call(method: str, path: str, **kwargs: Any) -> Any:
    try:
        return client().request(method, path, **kwargs)
    except AlmanacAPIError as error:
        raise fail(error) from error


@group_app.command("list")
def list_groups(as_json: JsonFlag = False) -> None:
    rows = _call("GET", "/groups")
    if as_json:
        emit_json(rows)
    else:
        table(rows, ["gid", "name", "active", "tasks", "next_fire_time"], "Groups")


@group_app.command("create")
def create(
    name: str,
    tasks: Annotated[str, typer.Option(help="Task ids, comma separated.")] = "",
    cron: Annotated[str | None, typer.Option(help="Cron schedule of the group.")] = None,
    timezone: str = "UTC",
) -> None:
    body: dict[str, Any] = {"name": name, "tasks": [int(t) for t in tasks.split(",") if t.strip()]}
    if cron:
        body["schedule"] = {"kind": "cron", "cron": cron, "timezone": timezone}
    emit_json(_call("POST", "/groups", json=body))


@group_app.command("show")
def show(gid: int) -> None:
    emit_json(_call("GET", f"/groups/{gid}"))


@group_app.command("edge")
def edge(
    gid: int,
    upstream: int,
    downstream: int,
    condition: Annotated[str, typer.Option(help="success, failure or done.")] = "success",
    remove: Annotated[bool, typer.Option("--remove")] = False,
) -> None:
    """Add (or --remove) the dependency UPSTREAM -> DOWNSTREAM."""
    if remove:
        _call(
            "DELETE", f"/groups/{gid}/edges", json={"upstream": upstream, "downstream": downstream}
        )
        typer.echo(f"removed {upstream} -> {downstream}")
    else:
        _call(
            "POST",
            f"/groups/{gid}/edges",
            json={"upstream": upstream, "downstream": downstream, "condition": condition},
        )
        typer.echo(f"added {upstream} -> {downstream} ({condition})")


@group_app.command("run")
def run(gid: int, param: ParamOption = None, business_date: DateOption = None) -> None:
    """Start a group run now, optionally for a business date with parameter values (they
    reach its tasks)."""
    params = param_values(param)
    try:
        started = client().groups.run(gid, business_date=business_date, params=params)
    except AlmanacAPIError as error:
        raise fail(error) from error
    emit_json(started)


@group_app.command("graph")
def graph(gid: int, group_run: int | None = None) -> None:
    params = {"group_run": group_run} if group_run else {}
    data = _call("GET", f"/groups/{gid}/graph", params=params)
    names = {n["tid"]: n for n in data["nodes"]}
    for depth, layer in enumerate(data["generations"]):
        cells = [f"{names[t]['name']} [{names[t]['status'] or '-'}]" for t in layer]
        typer.echo(f"{depth}: " + "   ".join(cells))
    for e in data["edges"]:
        typer.echo(
            f"  {names[e['upstream']]['name']} -> {names[e['downstream']]['name']}"
            f" ({e['condition']})"
        )


@group_app.command("terminate")
def terminate(group_run: int) -> None:
    """Terminate a whole group run."""
    emit_json(_call("POST", f"/group-runs/{group_run}/terminate"))


def register_run_actions(run_app: typer.Typer) -> None:
    """`almanac run why|force|rerun|mark-success`: what an operator does with one run."""

    @run_app.command("why")
    def why(run_id: int) -> None:
        """Why is this run not running?"""
        items = _call("GET", f"/runs/{run_id}/why")
        if not items:
            typer.echo("nothing: it is not waiting")
        for item in items:
            typer.echo(f"- {item['detail']}")

    @run_app.command("force")
    def force(run_id: int) -> None:
        """Start a run of a group run now, ignoring its upstreams."""
        emit_json(_call("POST", f"/runs/{run_id}/force"))

    @run_app.command("rerun")
    def rerun(run_id: int) -> None:
        """Run a finished run again, with everything downstream of it."""
        typer.echo(f"restarted runs: {_call('POST', f'/runs/{run_id}/rerun')}")

    @run_app.command("mark-success")
    def mark_success(run_id: int, reason: Annotated[str, typer.Option(help="Why.")]) -> None:
        """Mark a FAILED run SUCCESS by hand; its downstream is released."""
        released = _call("POST", f"/runs/{run_id}/mark-success", json={"reason": reason})
        typer.echo(f"released runs: {released}")
