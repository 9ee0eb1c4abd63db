"""`almanac`: the entry point that gathers every command group."""

from __future__ import annotations

import typer

from app.cli.adhoc import register as register_adhoc_commands
from app.cli.agents import agents_app
from app.cli.alerts import register as register_alert_commands
from app.cli.calendars import calendar_app
from app.cli.groups import group_app, register_run_actions
from app.cli.io import register as register_io_commands
from app.cli.outputs import register as register_output_commands
from app.cli.pools import pool_app, quota_app
from app.cli.runs import run_app
from app.cli.serve import agent, db_app, server
from app.cli.tasks import task_app
from app.cli.users import install as install_user_commands

cli = typer.Typer(
    help="Almanac: a scheduled-job orchestrator.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cli.command("server")(server)
cli.command("agent")(agent)
cli.add_typer(db_app, name="db")
cli.add_typer(task_app, name="task")
cli.add_typer(run_app, name="run")
cli.add_typer(calendar_app, name="calendar")
cli.add_typer(group_app, name="group")
cli.add_typer(agents_app, name="agents")
cli.add_typer(pool_app, name="pool")
cli.add_typer(quota_app, name="quota")
register_output_commands(run_app)
register_run_actions(run_app)
install_user_commands(cli, run_app)

register_adhoc_commands(cli)
register_io_commands(cli)
register_alert_commands(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
