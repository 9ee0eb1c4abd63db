"""`almanac agents list|drain|undrain|remove`: the fleet (`almanac agent` runs an agent)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.output import client, emit_json, fail, table
from app.client import AlmanacAPIError

agents_app = typer.Typer(
    help="The fleet of agents: list, drain, undrain, remove.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _call(method: str, path: str) -> Any:
    try:
        return client().request(method, path)
    except AlmanacAPIError as error:
        raise fail(error) from error


@agents_app.command("list")
def list_agents(as_json: JsonFlag = False) -> None:
    """Every agent with its status, resources and the runs it holds."""
    rows = _call("GET", "/agents")
    if as_json:
        emit_json(rows)
        return
    shown = [
        {
            **row,
            "gpus": len(row.get("gpus") or []),
            "runs": ",".join(str(r) for r in row.get("running_runs") or []) or "-",
            "heartbeat": str(row.get("last_heartbeat") or "")[:19],
        }
        for row in rows
    ]
    table(
        shown,
        ["name", "status", "draining", "cpus", "gpus", "docker", "runs", "heartbeat"],
        "Agents",
    )


@agents_app.command("drain")
def drain(name: str) -> None:
    """Let NAME finish its running work and give it no new work."""
    row = _call("POST", f"/agents/{name}/drain")
    typer.echo(f"agent {row['name']} is draining; running: {row['running_runs'] or 'none'}")


@agents_app.command("undrain")
def undrain(name: str) -> None:
    """Give NAME work again."""
    row = _call("POST", f"/agents/{name}/undrain")
    typer.echo(f"agent {row['name']} takes work again ({row['status']})")


@agents_app.command("remove")
def remove(name: str) -> None:
    """Forget NAME: it must be offline, or drained with no runs left."""
    _call("DELETE", f"/agents/{name}")
    typer.echo(f"agent {name} removed")
