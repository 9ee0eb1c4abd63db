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
            **usage(row),
            "gpus": len(row.get("gpus") or []),
            "runs": ",".join(str(r) for r in row.get("running_runs") or []) or "-",
            "heartbeat": str(row.get("last_heartbeat") or "")[:19],
        }
        for row in rows
    ]
    table(
        shown,
        ["name", "status", "draining", "cores", "memory", "gpus used", "docker", "runs"],
        "Agents",
    )


def _size(value: float) -> str:
    from app.domain.capacity import show_size

    return show_size(int(value)) if value else "0"


def usage(row: dict[str, Any]) -> dict[str, str]:
    """ "allocated/capacity" of cores, memory and GPUs, for one agent row."""
    capacity = row.get("capacity") or {}
    held = row.get("allocated") or {}
    return {
        "cores": f"{held.get('cores', 0):g}/{capacity.get('cores', 0):g}",
        "memory": f"{_size(held.get('memory', 0))}/{_size(capacity.get('memory', 0))}",
        "gpus used": f"{len(held.get('gpus') or [])}/{len(capacity.get('gpus') or [])}",
    }


@agents_app.command("show")
def show(name: str, as_json: JsonFlag = False) -> None:
    """NAME's capacity, what its runs hold (per GPU and NUMA node) and those runs."""
    row = _call("GET", f"/agents/{name}")
    if as_json:
        emit_json(row)
        return
    table([{**row, **usage(row)}], ["name", "status", "cores", "memory", "gpus used"], name)
    capacity, held = row.get("capacity") or {}, row.get("allocated") or {}
    busy = set(held.get("gpus") or [])
    gpus = [
        {
            "gpu": g["index"],
            "model": g.get("name") or "",
            "memory": _size(g.get("memory") or 0),
            "numa": "" if g.get("numa_node") is None else g["numa_node"],
            "held": "yes" if g["index"] in busy else "free",
        }
        for g in capacity.get("gpus") or []
    ]
    if gpus:
        table(gpus, ["gpu", "model", "memory", "numa", "held"], "GPUs")
    nodes = held.get("numa") or {}
    numa = [
        {
            "node": n["node"],
            "cores": len(n.get("cores") or []),
            "memory": _size(n.get("memory") or 0),
            "bound cores held": f"{(nodes.get(str(n['node'])) or {}).get('cores', 0):g}",
        }
        for n in capacity.get("numa") or []
    ]
    if numa:
        table(numa, ["node", "cores", "memory", "bound cores held"], "NUMA nodes")
    runs = ",".join(str(r) for r in row.get("running_runs") or []) or "none"
    typer.echo(f"runs: {runs}")


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
