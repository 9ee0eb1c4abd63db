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


_names = _dates  # comma separated names, the same way
Categories = Annotated[
    str,
    typer.Option(
        help="The holidays library's categories, comma separated (public, bank, catholic, ...)."
    ),
]
Include = Annotated[
    str, typer.Option(help="Calendars whose closed days close this one, comma separated.")
]
Exclude = Annotated[
    str, typer.Option(help="Calendars whose closed days open this one, comma separated.")
]


@calendar_app.command("list")
def list_calendars(as_json: JsonFlag = False) -> None:
    try:
        rows = client().request("GET", "/calendars")
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(rows)
    else:
        columns = ["name", "country", "subdivision", "categories", "include", "exclude"]
        table(rows, [*columns, "skip_weekends", "used_by"], "Calendars")


@calendar_app.command("create")
def create(
    name: str,
    country: Annotated[str | None, typer.Option(help="ISO country code, e.g. DE.")] = None,
    subdivision: Annotated[str | None, typer.Option(help="e.g. BY.")] = None,
    skip_weekends: Annotated[bool, typer.Option("--skip-weekends")] = False,
    closed: Annotated[str, typer.Option(help="Extra closed dates, comma separated.")] = "",
    open_dates: Annotated[str, typer.Option("--open", help="Working dates, comma separated.")] = "",
    categories: Categories = "",
    include: Include = "",
    exclude: Exclude = "",
) -> None:
    body: dict[str, Any] = {
        "name": name,
        "country": country,
        "subdivision": subdivision,
        "categories": _names(categories),
        "skip_weekends": skip_weekends,
        "extra_dates": _dates(closed),
        "working_dates": _dates(open_dates),
        "include": _names(include),
        "exclude": _names(exclude),
    }
    try:
        emit_json(client().request("POST", "/calendars", json=body))
    except AlmanacAPIError as error:
        raise fail(error) from error


@calendar_app.command("update")
def update(
    name: str,
    country: Annotated[str | None, typer.Option(help="ISO country code, e.g. DE.")] = None,
    subdivision: Annotated[str | None, typer.Option(help="e.g. BY.")] = None,
    skip_weekends: Annotated[bool | None, typer.Option("--skip-weekends/--keep-weekends")] = None,
    closed: Annotated[str | None, typer.Option(help="Extra closed dates (replaces).")] = None,
    open_dates: Annotated[
        str | None, typer.Option("--open", help="Working dates (replaces).")
    ] = None,
    categories: Annotated[str | None, typer.Option(help="Categories (replaces).")] = None,
    include: Annotated[str | None, typer.Option(help="Included calendars (replaces).")] = None,
    exclude: Annotated[str | None, typer.Option(help="Excluded calendars (replaces).")] = None,
) -> None:
    """Change the options given; a list option replaces the list ("" empties it)."""
    body: dict[str, Any] = {}
    for field, value in (("country", country), ("subdivision", subdivision)):
        if value is not None:
            body[field] = value or None
    if skip_weekends is not None:
        body["skip_weekends"] = skip_weekends
    lists = {
        "extra_dates": closed,
        "working_dates": open_dates,
        "categories": categories,
        "include": include,
        "exclude": exclude,
    }
    body |= {field: _names(value) for field, value in lists.items() if value is not None}
    try:
        emit_json(client().request("PATCH", f"/calendars/{name}", json=body))
    except AlmanacAPIError as error:
        raise fail(error) from error


@calendar_app.command("preview")
def preview(name: str, year: int, as_json: JsonFlag = False) -> None:
    """YEAR as schedules see it: closed dates with their reason, and dates a rule opened."""
    try:
        result = client().request("GET", f"/calendars/{name}/preview", params={"year": year})
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(result)
        return
    for day in result["closed"]:
        typer.echo(f"{day['date']}  closed  {day['reason']}")
    for day in result["opened"]:
        typer.echo(f"{day['date']}  open    {day['reason']}")
    typer.echo(f"{result['closed_days']} closed, {result['open_days']} open")


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
