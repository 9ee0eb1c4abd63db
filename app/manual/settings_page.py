"""docs/reference/settings.md from app/settings.py: every setting, its variable, its default."""

from __future__ import annotations

import typer
from typer.core import TyperGroup, TyperOption

from app.secrets import KEY_ENV, KEY_FILE


def settings_page() -> str:
    from app.cli.main import cli
    from app.manual import cell
    from app.settings import Settings

    server = typer.main.get_command(cli)
    assert isinstance(server, TyperGroup)
    # `almanac server` passes its flags to Settings: a flag's own variable (or none) wins.
    flags = {
        param.name: param
        for param in server.commands["server"].params
        if isinstance(param, TyperOption) and param.name
    }
    prefix = str(Settings.model_config.get("env_prefix", ""))
    out = [
        "# Settings\n",
        "The server (`almanac server`) reads its settings from its flags, else from "
        f"`{prefix}*` environment variables, else the defaults below. A setting without a flag "
        "is set by its variable only (in the systemd unit's `Environment=` or the compose "
        "file); one marked *flag only* is set by its flag only.\n",
        "| setting | variable | flag | default | meaning |\n|---|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"Settings.{name} has no description (the manual shows it)")
        option = flags.get(name) or flags.get(f"no_{name}")
        variable = f"`{prefix}{name}`".upper()
        flag = ""
        if option is not None:
            flag = f"`{option.opts[0]}`"
            variable = f"`{option.envvar}`" if isinstance(option.envvar, str) else "(flag only)"
        default = "unset" if field.default is None else f"`{field.default}`"
        out.append(f"| `{name}` | {variable} | {flag} | {default} | {cell(field.description)} |")
    out.append("")
    out.append("## Other variables\n")
    out.append("| variable | read by | meaning |\n|---|---|---|")
    out.append(
        f"| `{KEY_ENV}` | server, `almanac` commands that open the database | The key (or "
        "keys, comma-separated, newest first) that encrypts secrets at rest; unset: the "
        f"`{KEY_FILE}` file in the data directory, made on first use. |"
    )
    out.append(
        "| `ALMANAC_URL`, `ALMANAC_TOKEN` | client commands, `almanac mcp` | The server's URL "
        "and your API token. |"
    )
    out.append("")
    out.append(
        "Commands' own variables (the agent's `ALMANAC_SERVER` and `ALMANAC_AGENT_TOKEN`, "
        "`ALMANAC_LOG_FORMAT`, ...) are listed with their options in the "
        "[command line reference](cli.md). What a run's command sees (`ALMANAC_RUN_ID`, "
        "`ALMANAC_BUSINESS_DATE`, ...) is in [run context](run-context.md)."
    )
    return "\n".join(out).rstrip() + "\n"
