"""`almanac calendar ...`"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.output import client, emit_json, fail, table
from app.client import AlmanacAPIError

calendar_app = typer.Typer(help="Holiday calendars.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _dates(text: str) -> list[str]:
    return [d.strip() for d in text.split(",") if d.strip()]


@calendar_app.command("list")
def list_calendars(as_json: JsonFlag = False) -> None:
    try:
        rows = client().request("GET", "/calendars")
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(rows)
    else:
        table(rows, ["name", "country", "subdivision", "skip_weekends", "used_by"], "Calendars")


@calendar_app.command("create")
def create(
    name: str,
    country: Annotated[str | None, typer.Option(help="ISO country code, e.g. DE.")] = None,
    subdivision: Annotated[str | None, typer.Option(help="e.g. BY.")] = None,
    skip_weekends: Annotated[bool, typer.Option("--skip-weekends")] = False,
    closed: Annotated[str, typer.Option(help="Extra closed dates, comma separated.")] = "",
    open_dates: Annotated[str, typer.Option("--open", help="Working dates, comma separated.")] = "",
) -> None:
    body: dict[str, Any] = {
        "name": name,
        "country": country,
        "subdivision": subdivision,
        "skip_weekends": skip_weekends,
        "extra_dates": _dates(closed),
        "working_dates": _dates(open_dates),
    }
    try:
        emit_json(client().request("POST", "/calendars", json=body))
    except AlmanacAPIError as error:
        raise fail(error) from error


@calendar_app.command("show")
def show(name: str) -> None:
    try:
        emit_json(client().request("GET", f"/calendars/{name}"))
    except AlmanacAPIError as error:
        raise fail(error) from error


@calendar_app.command("closed")
def closed(name: str, year: int) -> None:
    """Every closed day of YEAR with its reason."""
    try:
        days = client().request("GET", f"/calendars/{name}/closed", params={"year": year})
    except AlmanacAPIError as error:
        raise fail(error) from error
    for day in days:
        typer.echo(f"{day['date']}  {day['reason']}")


@calendar_app.command("delete")
def delete(name: str) -> None:
    try:
        client().request("DELETE", f"/calendars/{name}")
    except AlmanacAPIError as error:
        raise fail(error) from error
    typer.echo(f"deleted calendar {name}")
