"""Printing for people (rich tables) and for scripts (--json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from app.client import Almanac, AlmanacAPIError


class _Console:
    """Prints through a console made at the call: its width follows COLUMNS as it is then
    (a Console made at import keeps the width the environment had at import)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(Console(), name)


console = _Console()


def client() -> Almanac:
    return Almanac(client="cli")


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    view = Table(title=title)
    for column in columns:
        view.add_column(column)
    for row in rows:
        view.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(view)


def fail(error: AlmanacAPIError) -> typer.Exit:
    typer.echo(f"error: {error.detail}", err=True)
    return typer.Exit(code=1)
