"""`--param NAME=VALUE` and `--date YYYY-MM-DD` of the task and group run commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer

ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="A parameter value, NAME=VALUE (repeatable); typed by the declaration.",
    ),
]
DateOption = Annotated[
    str | None,
    typer.Option("--date", help="Business date to run for, YYYY-MM-DD (default: today)."),
]


def param_values(pairs: list[str] | None) -> dict[str, Any]:
    """NAME=VALUE pairs as a dict; the server types the values (a bad one names it)."""
    values: dict[str, Any] = {}
    for pair in pairs or []:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--param")
        values[name.strip()] = value
    return values
