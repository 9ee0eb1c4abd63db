"""docs/reference/cli.md from the typer commands themselves (their help, options, variables)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption


def cli_page() -> str:
    from app.cli.main import cli

    root = typer.main.get_command(cli)
    out = [
        "# Command line\n",
        "`almanac` is one command with subcommands; `almanac COMMAND --help` prints the same "
        "text. Commands that talk to a server read `ALMANAC_URL` (default "
        "`http://127.0.0.1:8080`) and `ALMANAC_TOKEN` (an API token from `almanac token "
        "create`, or the `access_token` of `POST /api/v1/auth/token`); an option with a "
        "variable beside it can be given by that variable instead.\n",
    ]
    for path, command in _walk(root, ("almanac",)):
        out.extend(_command(path, command))
    return "\n".join(out).rstrip() + "\n"


def _walk(command: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []
    if len(path) > 1 and not command.hidden:
        found.append((path, command))
    if isinstance(command, TyperGroup):
        for name in sorted(command.commands):
            sub = command.commands[name]
            if not sub.hidden:
                found.extend(_walk(sub, (*path, name)))
    return found


def _command(path: tuple[str, ...], command: Any) -> list[str]:
    from app.manual import cell

    level = "#" * min(len(path), 4)
    out = [f"{level} {' '.join(path)}\n"]
    with typer.Context(command, info_name=" ".join(path)) as ctx:
        usage = " ".join(command.collect_usage_pieces(ctx))
    usage = re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), usage)  # NAME, as the table names it
    out.append(f"```text\n{' '.join(path)} {usage}\n```\n")
    if command.help:
        out.append(inspect.cleandoc(command.help).replace("\b\n", "") + "\n")
    rows = []
    for param in command.params:
        if not isinstance(param, TyperArgument | TyperOption):
            continue
        if getattr(param, "hidden", False) or param.name in ("help",):
            continue
        if isinstance(param, TyperArgument):
            names = f"`{(param.metavar or param.name or '').upper()}`"
        else:
            names = ", ".join(f"`{name}`" for name in [*param.opts, *param.secondary_opts])
        envvar = param.envvar if isinstance(param.envvar, str) else ""
        rows.append(
            f"| {names} | {cell(_default(param))} | "
            f"{f'`{envvar}`' if envvar else ''} | {cell(getattr(param, 'help', '') or '')} |"
        )
    if rows:
        out.append("| argument or option | default | variable | what |\n|---|---|---|---|")
        out.extend(rows)
        out.append("")
    return out


def _default(param: TyperArgument | TyperOption) -> str:
    if isinstance(param, TyperArgument):
        return "required" if param.required else ""
    value: Any = param.default
    if value is None or callable(value) or value == () or getattr(param, "is_flag", False):
        return "on" if value is True else ""
    if isinstance(value, Path):
        return f"`{value}`"
    return f"`{getattr(value, 'value', value)}`"
