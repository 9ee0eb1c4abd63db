"""`almanac server`, `almanac agent`, `almanac db upgrade`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from app.gc_tuning import tune_for_service
from app.logs import configure
from app.private_files import (
    make_non_dumpable,
    private_umask,
    secure_agent_data_dir,
    secure_server_data_dir,
)

if TYPE_CHECKING:
    from app.agents.agent import AgentProcess
    from app.domain.run_policy import RunPolicy
    from app.settings import Settings

LogFormat = Literal["text", "json"]

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def server(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(envvar="ALMANAC_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="ALMANAC_PORT", help="Port to listen on.")] = 8080,
    data_dir: Annotated[
        Path | None, typer.Option(envvar="ALMANAC_DATA_DIR", help="Data directory.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(envvar="ALMANAC_DATABASE_URL", help="SQLAlchemy URL.")
    ] = None,
    no_local_agent: Annotated[
        bool, typer.Option("--no-local-agent", help="Do not start the built-in agent.")
    ] = False,
    log_format: Annotated[
        LogFormat, typer.Option(envvar="ALMANAC_LOG_FORMAT", help="text or json.")
    ] = "text",
    local_agent_policy: Annotated[
        Path | None,
        typer.Option(
            envvar="ALMANAC_LOCAL_AGENT_POLICY",
            help="Policy file of the built-in agent (see `almanac agent --policy`).",
        ),
    ] = None,
    local_agent_reserve_cores: Annotated[
        float,
        typer.Option(
            envvar="ALMANAC_LOCAL_AGENT_RESERVE_CORES",
            min=0,
            help="Cores the built-in agent keeps for the host.",
        ),
    ] = 0.0,
    local_agent_reserve_memory: Annotated[
        str | None,
        typer.Option(
            envvar="ALMANAC_LOCAL_AGENT_RESERVE_MEMORY",
            help="Memory the built-in agent keeps for the host (e.g. 2G).",
        ),
    ] = None,
    placement_policy: Annotated[
        str,
        typer.Option(
            envvar="ALMANAC_PLACEMENT_POLICY",
            help="spread (the least loaded agent) or pack (fill one agent first).",
        ),
    ] = "spread",
) -> None:
    """Run the API, the UI, the scheduler and (unless told not to) a built-in local agent.

    `almanac server install` writes a systemd unit instead."""
    if ctx.invoked_subcommand is not None:
        return
    from app.backup import serving_lock
    from app.settings import Settings

    configure(log_format)
    private_umask()  # the database, the key, outputs: 0600 in 0700 folders
    settings = Settings(
        host=host,
        port=port,
        data_dir=data_dir or Path("./almanac-data"),
        database_url=database_url,
        local_agent=not no_local_agent,
        local_agent_policy=local_agent_policy,
        local_agent_reserve_cores=local_agent_reserve_cores,
        local_agent_reserve_memory=local_agent_reserve_memory,
        placement_policy=_placement_policy(placement_policy),
    )
    _size(local_agent_reserve_memory, "--local-agent-reserve-memory")
    secure_server_data_dir(settings.data_dir, local_agent=settings.local_agent)
    url = settings.resolved_database_url()
    with serving_lock(url):  # `almanac restore` refuses while this server runs
        _serve(settings, url)


def _serve(settings: Settings, url: str) -> None:
    import uvicorn  # the server's own: client commands start without it

    from app.bootstrap import ensure_admin, upgrade_database
    from app.clock import SystemClock
    from app.db.engine import make_engine
    from app.db.seal_legacy import seal_plaintext
    from app.server import create_app
    from app.services.versions import record_baselines

    host, port = settings.host, settings.port
    upgrade_database(url)
    engine = make_engine(url)
    clock = SystemClock()
    generated = ensure_admin(engine, clock, os.environ.get("ALMANAC_ADMIN_PASSWORD"))
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(f"Almanac is running at http://{shown_host}:{port}/")
    if generated:
        typer.echo(f"Created user 'admin' with password: {generated}  (shown once)")
    app = create_app(settings, clock=clock, engine=engine)
    seal_plaintext(engine)  # environments stored before they were sealed at rest
    # Definitions stored before history get their version 1 beside the serving server: after
    # an upgrade with 100,000 definitions that takes minutes, and reads make a missing one.
    threading.Thread(
        target=record_baselines, args=(engine, 100), name="history-baselines", daemon=True
    ).start()
    tune_for_service()
    # Open live pages (SSE) must not hold a stopping server for long.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        ws_max_size=64 * 1024 * 1024,
        timeout_graceful_shutdown=5,
    )


def agent(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option("--server", envvar="ALMANAC_SERVER", help="Server URL, e.g. http://host:8080"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="ALMANAC_AGENT_TOKEN",
            help="Agent token from POST /api/v1/agents/tokens. Prefer --token-file: a token on "
            "the command line or in the environment can be read by other local users "
            "(ps, /proc) and by what the agent's user runs.",
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file", help="Read the agent token from this file (0600), or '-' for stdin."
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Agent name (default: host name).")] = None,
    labels: Annotated[str, typer.Option(help="Labels, k=v,k2=v2.")] = "",
    max_runs: Annotated[int | None, typer.Option(help="Most runs at once.")] = None,
    data_dir: Annotated[Path, typer.Option(help="Spool directory.")] = Path("./almanac-agent"),
    log_format: Annotated[
        LogFormat, typer.Option(envvar="ALMANAC_LOG_FORMAT", help="text or json.")
    ] = "text",
    drain: Annotated[
        bool,
        typer.Option("--drain", help="On SIGTERM, wait for running work to end before exiting."),
    ] = False,
    spool_min_free_mb: Annotated[
        int,
        typer.Option(
            "--spool-min-free-mb",
            min=0,
            help="Free space (MiB) the spool's file system needs for the agent to take work.",
        ),
    ] = 16,
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="Policy file (JSON, or TOML by its .toml name): users, mounts, "
            "images, default_user.",
        ),
    ] = None,
    allow_user: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-user",
            help="A run_as_user this agent accepts (repeat; '*' = any but root; "
            "root only when named).",
        ),
    ] = None,
    allow_mount: Annotated[
        list[str] | None,
        typer.Option("--allow-mount", help="A host path (prefix) runs may bind-mount (repeat)."),
    ] = None,
    allow_image: Annotated[
        list[str] | None,
        typer.Option("--allow-image", help="An image name or glob runs may use (repeat)."),
    ] = None,
    reserve_cores: Annotated[
        float,
        typer.Option(
            "--reserve-cores", min=0, help="Cores kept for the host, not offered to runs."
        ),
    ] = 0.0,
    reserve_memory: Annotated[
        str | None,
        typer.Option("--reserve-memory", help="Memory kept for the host (e.g. 2G)."),
    ] = None,
    default_user: Annotated[
        str | None,
        typer.Option(
            "--default-user",
            help="User of runs that name none ('' = the agent's own user; "
            "default: nobody when the agent is root).",
        ),
    ] = None,
) -> None:
    """Run an agent that dials the server and executes the runs it is sent.

    SIGTERM or Ctrl+C: the agent takes no new work and exits (with --drain, once its runs
    have ended and the server has their outcome).

    `almanac agent install` writes a systemd unit instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not server:
        raise typer.BadParameter("give the server's URL", param_hint="--server")
    from app.agents.agent import AgentConfig, AgentProcess  # the agent's own, imported late
    from app.agents.executors.docker import DockerExecutor, docker_available
    from app.agents.executors.process import ProcessExecutor
    from app.agents.resources import probe_resources

    configure(log_format)
    private_umask()  # the spool holds the runs' env secrets: 0600 in 0700 folders
    make_non_dumpable()  # same-uid processes cannot read our environment or memory
    secret = _agent_token(token, token_file)
    policy = _agent_policy(policy_file, allow_user, allow_mount, allow_image, default_user)
    config = AgentConfig(
        spool_min_free=spool_min_free_mb * 1024 * 1024,
        server_url=server,
        token=secret,
        name=name or socket.gethostname(),
        data_dir=data_dir,
        labels=_parse_labels(labels),
        max_runs=max_runs,
        policy=policy,
        reserve_cores=reserve_cores,
        reserve_memory=_size(reserve_memory, "--reserve-memory"),
    )
    secure_agent_data_dir(data_dir)
    has_docker = docker_available()
    process = AgentProcess(
        config,
        process_executor=ProcessExecutor(),
        docker_executor=DockerExecutor(agent_name=config.name) if has_docker else None,
        resources=lambda: probe_resources(has_docker, data_dir).to_dict(),
    )
    tune_for_service()
    asyncio.run(_run_agent(process, drain=drain))


async def _run_agent(process: AgentProcess, *, drain: bool) -> None:
    loop = asyncio.get_running_loop()
    leaving: list[asyncio.Task[None]] = []

    def on_signal() -> None:
        if not leaving:  # a second signal while draining changes nothing
            leaving.append(asyncio.create_task(process.shutdown(drain=drain)))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await process.run_forever()


def _agent_token(token: str | None, token_file: Path | None) -> str:
    os.environ.pop("ALMANAC_AGENT_TOKEN", None)  # not handed on to anything we start
    if token_file is not None:
        text = sys.stdin.read() if str(token_file) == "-" else token_file.read_text()
        token = text.strip()
    if not token:
        raise typer.BadParameter(
            "give --token-file (or --token / ALMANAC_AGENT_TOKEN)", param_hint="--token-file"
        )
    return token


def _agent_policy(
    policy_file: Path | None,
    users: list[str] | None,
    mounts: list[str] | None,
    images: list[str] | None,
    default_user: str | None,
) -> RunPolicy:
    from app.agents.agent_policy import load_policy

    try:
        return load_policy(
            policy_file=policy_file,
            users=users or (),
            mounts=mounts or (),
            images=images or (),
            default_user=default_user,
        )
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--policy") from exc


def _placement_policy(text: str) -> Literal["spread", "pack"]:
    if text not in ("spread", "pack"):
        raise typer.BadParameter(f"{text!r}: give spread or pack", param_hint="--placement-policy")
    return "pack" if text == "pack" else "spread"


def _size(text: str | None, flag: str) -> int:
    from app.domain.capacity import parse_size

    if not text:
        return 0
    try:
        return parse_size(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from exc


def _parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"label {part!r} is not k=v", param_hint="--labels")
        labels[key] = value
    return labels


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[str | None, typer.Option(envvar="ALMANAC_DATABASE_URL")] = None,
    data_dir: Annotated[Path, typer.Option(envvar="ALMANAC_DATA_DIR")] = Path("./almanac-data"),
) -> None:
    """Bring the database schema up to date."""
    from app.bootstrap import upgrade_database

    private_umask()
    from app.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url())
    typer.echo("database is up to date")
