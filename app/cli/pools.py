"""`almanac pool ...` (occupancy and queue) and `almanac quota ...`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.output import client, emit_json, fail, table
from app.client import AlmanacAPIError

pool_app = typer.Typer(help="Pools: named slots runs draw from.", no_args_is_help=True)
quota_app = typer.Typer(help="Per-instance quotas.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Instance = Annotated[str | None, typer.Option(help="The pool's instance.")]


def _occupancy(pool: dict[str, Any]) -> dict[str, Any]:
    return {**pool, "used": f"{pool['used']}/{pool['slots']}"}


@pool_app.command("list")
def list_pools(instance: Instance = None, as_json: JsonFlag = False) -> None:
    try:
        rows = client().pools.list(instance)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(rows)
    else:
        shown = [_occupancy(p) for p in rows]
        table(shown, ["name", "instance", "used", "waiting", "placement", "description"], "Pools")


@pool_app.command("show")
def show(name: str, instance: Instance = None, as_json: JsonFlag = False) -> None:
    """Occupancy, the runs holding slots and the queue (position 1 starts first)."""
    try:
        pool = client().pools.get(name, instance)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(pool)
        return
    holders = ", ".join(str(r) for r in pool["holders"]) or "none"
    typer.echo(f"pool {pool['name']} ({pool['instance']}): {pool['used']} of {pool['slots']} used")
    typer.echo(f"held by runs: {holders}; {pool['waiting']} waiting")
    table(pool["queued"], ["position", "run", "task_name", "priority", "slots", "reason"], "Queue")


@pool_app.command("create")
def create(
    name: str,
    slots: int,
    instance: Annotated[str, typer.Option(help="The pool's instance.")] = "default",
    description: str = "",
    placement: Annotated[str | None, typer.Option(help="spread or pack.")] = None,
) -> None:
    fields: dict[str, Any] = {"instance": instance, "description": description}
    if placement:
        fields["placement"] = placement
    try:
        emit_json(client().pools.create(name, slots, **fields))
    except AlmanacAPIError as error:
        raise fail(error) from error


@pool_app.command("set")
def set_pool(
    name: str,
    instance: Instance = None,
    slots: Annotated[int | None, typer.Option(help="New number of slots.")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    placement: Annotated[str | None, typer.Option(help="spread or pack.")] = None,
) -> None:
    fields = {
        k: v
        for k, v in (("slots", slots), ("description", description), ("placement", placement))
        if v is not None
    }
    try:
        emit_json(client().pools.update(name, instance, **fields))
    except AlmanacAPIError as error:
        raise fail(error) from error


@pool_app.command("delete")
def delete(name: str, instance: Instance = None) -> None:
    try:
        client().pools.delete(name, instance)
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"deleted pool {name}")


@quota_app.command("list")
def list_quotas(as_json: JsonFlag = False) -> None:
    try:
        rows = client().quotas.list()
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(rows)
    else:
        columns = ["instance", "runs", "max_runs", "cores", "max_cores", "gpus", "max_gpus"]
        table(rows, [*columns, "waiting"], "Quotas")


@quota_app.command("set")
def set_quota(
    instance: str,
    max_runs: Annotated[int | None, typer.Option(help="Concurrent runs; unset: no limit.")] = None,
    max_cores: Annotated[float | None, typer.Option(help="Cores held at once.")] = None,
    max_gpus: Annotated[int | None, typer.Option(help="GPUs held at once.")] = None,
) -> None:
    """Replace INSTANCE's quota: limits not given are lifted."""
    try:
        emit_json(
            client().quotas.set(instance, max_runs=max_runs, max_cores=max_cores, max_gpus=max_gpus)
        )
    except AlmanacAPIError as error:
        raise fail(error) from error


@quota_app.command("delete")
def delete_quota(instance: str) -> None:
    try:
        client().quotas.delete(instance)
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"deleted the quota of {instance}")
