"""`almanac plan -f PATH` and `almanac apply -f PATH [--prune]`: definition files as code.

PATH is one YAML/JSON file or a folder of them (read recursively; hidden folders skipped).
The source recorded on the objects is `file:<PATH>` (relative to its git checkout when it
lies in one, with the checkout's commit), unless `--source` names another.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.output import client, console, emit_json, fail, table
from app.client import AlmanacAPIError

SUFFIXES = (".yaml", ".yml", ".json")

PathOption = Annotated[
    Path, typer.Option("--file", "-f", help="A definitions file, or a folder of them.")
]
SourceOption = Annotated[
    str | None,
    typer.Option(help="Who manages the objects (default: file:<PATH>)."),
]
CommitOption = Annotated[
    str | None, typer.Option(help="The commit to record (default: the checkout's HEAD).")
]
PruneOption = Annotated[
    bool, typer.Option("--prune", help="Delete what this source manages and the files lack.")
]


def read_files(path: Path) -> dict[str, str]:
    """{path relative to PATH: text}; a single file is known by its name."""
    if path.is_file():
        return {path.name: path.read_text(encoding="utf-8")}
    if not path.is_dir():
        raise typer.BadParameter(f"{path} is neither a file nor a folder", param_hint="--file")
    found: dict[str, str] = {}
    for root, folders, names in os.walk(path):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(names):
            if name.lower().endswith(SUFFIXES):
                full = Path(root) / name
                found[full.relative_to(path).as_posix()] = full.read_text(encoding="utf-8")
    if not found:
        raise typer.BadParameter(f"no .yaml, .yml or .json files in {path}", param_hint="--file")
    return found


def _git(path: Path, *args: str) -> str | None:
    folder = path if path.is_dir() else path.parent
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def source_and_commit(path: Path) -> tuple[str, str | None]:
    """`file:<path in its checkout>` and the checkout's HEAD; else the path as given."""
    top = _git(path, "rev-parse", "--show-toplevel")
    if top:
        relative = path.resolve().relative_to(Path(top).resolve()).as_posix()
        return f"file:{relative}", _git(path, "rev-parse", "HEAD")
    return f"file:{path.as_posix().rstrip('/') or '.'}", None


def _refused(error: AlmanacAPIError, as_json: bool) -> typer.Exit:
    if as_json:
        emit_json({"detail": error.detail, "errors": error.errors})
        return typer.Exit(code=1)
    if not error.errors:
        return fail(error)
    rows = [
        {
            **e,
            "where": ":".join(
                str(part) for part in (e.get("file"), e.get("line"), e.get("column")) if part
            ),
        }
        for e in error.errors
    ]
    table(rows, ["where", "item", "field", "problem"], "Refused: nothing was changed")
    return typer.Exit(code=1)


def _run(step: str, path: Path, source: str | None, commit: str | None, prune: bool) -> Any:
    files = read_files(path)
    found_source, found_commit = source_and_commit(path)
    api = client()
    call = api.definitions.apply if step == "apply" else api.definitions.plan
    return call(files, source=source or found_source, commit=commit or found_commit, prune=prune)


def plan(
    file: PathOption,
    source: SourceOption = None,
    commit: CommitOption = None,
    prune: PruneOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Print what applying the files would change, field by field (nothing is written)."""
    try:
        result = _run("plan", file, source, commit, prune)
    except AlmanacAPIError as error:
        raise _refused(error, as_json) from error
    if as_json:
        emit_json(result)
    else:
        console.out(result["text"], end="", highlight=False)


def apply(
    file: PathOption,
    source: SourceOption = None,
    commit: CommitOption = None,
    prune: PruneOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Apply the files in one transaction, all or nothing (same checks as import)."""
    try:
        result = _run("apply", file, source, commit, prune)
    except AlmanacAPIError as error:
        raise _refused(error, as_json) from error
    if as_json:
        emit_json(result)
        return
    console.out(result["text"], end="", highlight=False)
    console.out(f"Applied as {result['source']}.", highlight=False)


def register(cli: typer.Typer) -> None:
    cli.command("plan")(plan)
    cli.command("apply")(apply)
