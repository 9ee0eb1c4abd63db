"""`almanac agent install` and `almanac server install`: systemd units (app/systemd_units.py)
written where asked, and how to enable them."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.systemd_units import (
    SYSTEM_UNIT_DIR,
    AgentUnit,
    ServerUnit,
    agent_unit_text,
    enable_instructions,
    server_unit_text,
)

User = Annotated[str, typer.Option(help="The dedicated unprivileged user the service runs as.")]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help=f"Where to write the unit (default: {SYSTEM_UNIT_DIR})."),
]


def almanac_executable() -> list[str]:
    """How a service starts this Almanac: the `almanac` script of this environment, else its
    Python with `-m app.cli.main`."""
    script = Path(sys.executable).parent / "almanac"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "app.cli.main"]


def agent_install(
    server: Annotated[str, typer.Option("--server", help="Server URL, e.g. http://host:8080")],
    token_file: Annotated[
        Path, typer.Option("--token-file", help="The agent token's file (root's, 0600).")
    ],
    user: User = "almanac",
    name: Annotated[str | None, typer.Option(help="Agent name (default: host name).")] = None,
    labels: Annotated[str, typer.Option(help="Labels, k=v,k2=v2.")] = "",
    output: Output = None,
) -> None:
    """Write a systemd unit that runs `almanac agent` as a service (drains on stop)."""
    _refuse_root(user)
    _check_token_file(token_file)
    unit = AgentUnit(
        executable=almanac_executable(),
        server=server,
        token_file=str(token_file.absolute()),
        user=user,
        name=name,
        labels=labels,
    )
    path = _write(output, unit.unit_name, agent_unit_text(unit))
    typer.echo(enable_instructions(unit.unit_name, str(path), user, f"/var/lib/{unit.state_dir}"))


def server_install(
    user: User = "almanac",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    no_local_agent: Annotated[
        bool, typer.Option("--no-local-agent", help="Do not start the built-in agent.")
    ] = False,
    environment_file: Annotated[
        Path | None,
        typer.Option(
            help="A file of ALMANAC_* settings (ALMANAC_DATABASE_URL, ALMANAC_SECRET_KEY), "
            "root's, 0600."
        ),
    ] = None,
    output: Output = None,
) -> None:
    """Write a systemd unit that runs `almanac server` as a service."""
    _refuse_root(user)
    unit = ServerUnit(
        executable=almanac_executable(),
        user=user,
        host=host,
        port=port,
        local_agent=not no_local_agent,
        environment_file=str(environment_file.absolute()) if environment_file else None,
    )
    path = _write(output, unit.unit_name, server_unit_text(unit))
    typer.echo(enable_instructions(unit.unit_name, str(path), user, f"/var/lib/{unit.state_dir}"))


def _refuse_root(user: str) -> None:
    if user in ("root", "0"):
        raise typer.BadParameter("a service runs as an unprivileged user", param_hint="--user")


def _check_token_file(path: Path) -> None:
    """The token may be read by its owner only; a file others can read is refused."""
    if not path.exists():
        typer.echo(f"note: {path} does not exist yet: put the agent token there (0600)", err=True)
        return
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise typer.BadParameter(
            f"{path} can be read by others: chmod 600 {path}", param_hint="--token-file"
        )


def _write(output: Path | None, unit_name: str, text: str) -> Path:
    path = output or Path(SYSTEM_UNIT_DIR) / unit_name
    if path.is_dir():
        path = path / unit_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    return path
