"""`almanac run outputs ID` and `almanac run download ID [--name N] [-o DIR]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer

from app.cli.output import client, emit_json, fail, table
from app.client import AlmanacAPIError
from app.client.http import Almanac

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Attempt = Annotated[int | None, typer.Option(help="Attempt (default: the latest).")]


def _params(attempt: int | None) -> dict[str, Any]:
    return {"attempt": attempt} if attempt is not None else {}


def list_outputs(run_id: int, attempt: Attempt = None, as_json: JsonFlag = False) -> None:
    """The files the run left in its output directory."""
    try:
        data = client().request("GET", f"/runs/{run_id}/outputs", params=_params(attempt))
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(data)
    else:
        table(
            data["outputs"],
            ["name", "size", "sha256"],
            f"Outputs of run {run_id}, attempt {data['attempt']}",
        )


def download(
    run_id: int,
    name: Annotated[str | None, typer.Option("--name", help="One file (default: all).")] = None,
    out: Annotated[Path, typer.Option("-o", "--output-dir", help="Where to put them.")] = Path("."),
    attempt: Attempt = None,
) -> None:
    """Download one output file, or all of them (into DIR, keeping their relative paths)."""
    api = client()
    try:
        if name is not None:
            names = [name]
        else:
            listed = api.request("GET", f"/runs/{run_id}/outputs", params=_params(attempt))
            names = [f["name"] for f in listed["outputs"]]
        for each in names:
            target = _target(out, each)
            _fetch(api, f"/runs/{run_id}/outputs/{quote(each)}", _params(attempt), target)
            typer.echo(str(target))
    except AlmanacAPIError as error:
        raise fail(error) from error


def _target(out: Path, name: str) -> Path:
    """out/name, refusing a name that would land outside `out` (the server never sends one)."""
    base = out.resolve()
    target = (base / name).resolve()
    if base not in target.parents:
        typer.echo(f"error: refusing to write {name!r} outside {base}", err=True)
        raise typer.Exit(code=1)
    return target


def _fetch(api: Almanac, path: str, params: dict[str, Any], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with api.http.stream("GET", path, params=params) as response:
        if not response.is_success:
            response.read()
            _raise(response)
        with open(partial, "wb") as handle:
            for chunk in response.iter_bytes():
                handle.write(chunk)
    partial.replace(target)


def _raise(response: httpx.Response) -> None:
    try:
        detail = str(response.json().get("detail", response.text))
    except ValueError:
        detail = response.text
    raise AlmanacAPIError(response.status_code, detail)


def register(run_app: typer.Typer) -> None:
    run_app.command("outputs")(list_outputs)
    run_app.command("download")(download)
