"""systemd units for `almanac agent install` and `almanac server install` (text only: the
commands write it where they are told).

Both run as a dedicated unprivileged user, restart on failure, keep their state in
/var/lib (StateDirectory, owned by that user) and are stopped with SIGTERM to the main process
only (KillMode=mixed): the agent, started with --drain, lets its runs end and reports them
before it exits, instead of every command in the service being signalled at once. The agent's
token reaches it as a systemd credential: the file stays root's (0600) and the service reads a
copy that only its own user can read (`%d` is the unit's credentials folder).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

SYSTEM_UNIT_DIR = "/etc/systemd/system"


@dataclass(frozen=True, kw_only=True)
class AgentUnit:
    executable: Sequence[str]  # how to start `almanac` (absolute path, or python -m)
    server: str
    token_file: str
    user: str = "almanac"
    name: str | None = None
    labels: str = ""
    extra_args: Sequence[str] = ()
    stop_timeout: str = "1h"

    @property
    def unit_name(self) -> str:
        return f"almanac-agent-{self.name}.service" if self.name else "almanac-agent.service"

    @property
    def state_dir(self) -> str:
        return f"almanac-agent-{self.name}" if self.name else "almanac-agent"


@dataclass(frozen=True, kw_only=True)
class ServerUnit:
    executable: Sequence[str]
    user: str = "almanac"
    host: str = "127.0.0.1"
    port: int = 8080
    local_agent: bool = True
    environment_file: str | None = None
    extra_args: Sequence[str] = ()

    unit_name = "almanac-server.service"
    state_dir = "almanac"


def _command(words: Sequence[str]) -> str:
    """An ExecStart line: each word quoted for systemd (its quoting is the shell's for these
    words), `%` doubled so systemd expands no specifier we did not write."""
    return " ".join(shlex.quote(word).replace("%", "%%") for word in words)


def _hardening(user: str, state_dir: str) -> list[str]:
    return [
        f"User={user}",
        f"Group={user}",
        f"StateDirectory={state_dir}",
        "StateDirectoryMode=0711",
        f"WorkingDirectory=/var/lib/{state_dir}",
        "Restart=on-failure",
        "RestartSec=5",
        "KillMode=mixed",
        "NoNewPrivileges=yes",
        "ProtectSystem=full",
        "PrivateTmp=yes",
        "Environment=ALMANAC_LOG_FORMAT=json",
    ]


def agent_unit_text(unit: AgentUnit) -> str:
    words = [*unit.executable, "agent", "--server", unit.server]
    words += ["--data-dir", f"/var/lib/{unit.state_dir}", "--drain"]
    if unit.name:
        words += ["--name", unit.name]
    if unit.labels:
        words += ["--labels", unit.labels]
    words += list(unit.extra_args)
    # The credential's path is written unquoted after the quoted words: `%d` must expand.
    exec_start = f"{_command(words)} --token-file %d/agent.token"
    lines = [
        "[Unit]",
        f"Description=Almanac agent{' ' + unit.name if unit.name else ''}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"LoadCredential=agent.token:{unit.token_file}",
        f"ExecStart={exec_start}",
        *_hardening(unit.user, unit.state_dir),
        f"TimeoutStopSec={unit.stop_timeout}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def server_unit_text(unit: ServerUnit) -> str:
    words = [*unit.executable, "server", "--host", unit.host, "--port", str(unit.port)]
    words += ["--data-dir", f"/var/lib/{unit.state_dir}"]
    if not unit.local_agent:
        words.append("--no-local-agent")
    words += list(unit.extra_args)
    lines = [
        "[Unit]",
        "Description=Almanac server",
        "Wants=network-online.target",
        "After=network-online.target postgresql.service",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={_command(words)}",
        *_hardening(unit.user, unit.state_dir),
        "TimeoutStopSec=30",
    ]
    if unit.environment_file:  # ALMANAC_DATABASE_URL, ALMANAC_SECRET_KEY: kept out of the unit
        lines.append(f"EnvironmentFile={unit.environment_file}")
    lines += ["", "[Install]", "WantedBy=multi-user.target"]
    return "\n".join(lines) + "\n"


def enable_instructions(unit_name: str, path: str, user: str, home: str) -> str:
    return "\n".join(
        [
            f"wrote {path}",
            "to enable it:",
            f"  sudo useradd --system --home-dir {home} --shell /usr/sbin/nologin {user}"
            "   # once, if the user does not exist",
            *(
                [f"  sudo cp {shlex.quote(path)} {SYSTEM_UNIT_DIR}/{unit_name}"]
                if not path.startswith(SYSTEM_UNIT_DIR + "/")
                else []
            ),
            "  sudo systemctl daemon-reload",
            f"  sudo systemctl enable --now {unit_name}",
            f"  journalctl -u {unit_name} -f   # its log",
        ]
    )
