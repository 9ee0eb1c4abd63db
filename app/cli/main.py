"""`almanac`: the entry point that gathers every command group."""

from __future__ import annotations

from typing import Annotated

import typer

from app import __version__
from app.cli.adhoc import register as register_adhoc_commands
from app.cli.agents import agents_app
from app.cli.alerts import register as register_alert_commands
from app.cli.backfills import backfill_app
from app.cli.backup import register as register_backup_commands
from app.cli.calendars import calendar_app
from app.cli.crontab import import_crontab
from app.cli.definitions import register as register_definition_commands
from app.cli.groups import group_app, register_run_actions
from app.cli.history import register as register_history_commands
from app.cli.install import agent_install, server_install
from app.cli.io import register as register_io_commands
from app.cli.mcp_command import register as register_mcp_command
from app.cli.outputs import register as register_output_commands
from app.cli.pools import pool_app, quota_app
from app.cli.runs import run_app
from app.cli.serve import agent, db_app, server
from app.cli.tasks import task_app
from app.cli.users import install as install_user_commands
from app.cli.varsets import varset_app

cli = typer.Typer(
    help="Almanac: a scheduled-job orchestrator.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"almanac {__version__}")
        raise typer.Exit()


@cli.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Almanac: a scheduled-job orchestrator."""


# `almanac server` and `almanac agent` run the service; `... install` writes its systemd unit.
server_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
server_app.callback()(server)
server_app.command("install")(server_install)
agent_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
agent_app.callback()(agent)
agent_app.command("install")(agent_install)
cli.add_typer(server_app, name="server")
cli.add_typer(agent_app, name="agent")
cli.add_typer(db_app, name="db")
cli.add_typer(task_app, name="task")
cli.add_typer(run_app, name="run")
cli.add_typer(calendar_app, name="calendar")
cli.add_typer(group_app, name="group")
cli.add_typer(agents_app, name="agents")
cli.add_typer(varset_app, name="varset")
cli.add_typer(backfill_app, name="backfill")
cli.add_typer(pool_app, name="pool")
cli.add_typer(quota_app, name="quota")
register_output_commands(run_app)
register_history_commands(task_app, "task")
register_history_commands(group_app, "group")
register_run_actions(run_app)
install_user_commands(cli, run_app)

register_adhoc_commands(cli)
register_io_commands(cli)
register_definition_commands(cli)
cli.command("import-crontab")(import_crontab)
register_alert_commands(cli)
register_backup_commands(cli)
register_mcp_command(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
