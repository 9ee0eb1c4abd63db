"""`almanac adhoc ... -- COMMAND`, `almanac submit -t AGENT ... -- COMMAND`, `almanac batch ...`.

The command after `--` is one shell string: a single argument goes as written (so
`-- 'make && make test'` keeps its `&&`), several are quoted and joined.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer

from app.cli.output import client, console, emit_json, fail, table
from app.client import AlmanacAPIError, Batch, RunHandle

batch_app = typer.Typer(help="Adhoc batches: show, wait, kill.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Command = Annotated[list[str], typer.Argument(help="The command (after --).", metavar="COMMAND")]
Wait = Annotated[bool, typer.Option("--wait", "-w", help="Wait, printing the output.")]
Image = Annotated[str | None, typer.Option("--image", help="Docker image (else a process).")]
Memory = Annotated[str | None, typer.Option("--memory", "-m", help="e.g. 512M, 4G.")]
Mounts = Annotated[list[str] | None, typer.Option("--mount", help="SRC:DST[:ro], repeatable.")]
Envs = Annotated[list[str] | None, typer.Option("--env", "-e", help="K=V, repeatable.")]
User = Annotated[str | None, typer.Option("--user", help="Run as this user.")]


def shell_command(words: list[str]) -> str:
    if not words:
        raise typer.BadParameter("give the command after --", param_hint="COMMAND")
    return words[0] if len(words) == 1 else shlex.join(words)


def pairs(items: list[str] | None, what: str) -> dict[str, str]:
    found = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not K=V", param_hint=what)
        found[key] = value
    return found


def _resources(
    image: str | None,
    cpus: float | None,
    memory: str | None,
    mounts: list[str] | None,
    env: list[str] | None,
    user: str | None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "image": image,
        "cpus": cpus,
        "memory": memory,
        "mounts": mounts or None,
        "env": pairs(env, "--env") or None,
        "run_as_user": user,
    }
    return {k: v for k, v in fields.items() if v is not None}


def show_batch(batch: Batch) -> None:
    rows = [{**r, "agent": r.get("target") or r.get("agent")} for r in batch.data["runs"]]
    table(
        rows,
        ["agent", "id", "status", "exit_code", "reason", "duration_seconds"],
        f"Batch {batch.batch_id}",
    )


def follow(batch: Batch, timeout: float | None = None) -> int:
    """Print each agent's output as `agent | line` (stderr: `agent:err | line`) with a
    spinner, until every run ended; the exit code: 0 when all succeeded."""
    with console.status(f"batch {batch.batch_id}: starting") as spinner:

        def on_change(agent: str, status: str) -> None:
            spinner.update(
                f"batch {batch.batch_id}: "
                + ", ".join(f"{n} {s}" for n, s in batch.statuses().items())
            )
            console.out(f"[{agent}] {status}", highlight=False)

        def on_line(agent: str, stream: str, line: str) -> None:
            marker = agent if stream == "stdout" else f"{agent}:err"
            console.out(f"{marker} | {line}", highlight=False)

        final = batch.wait(timeout=timeout, on_change=on_change, on_line=on_line)
    return 0 if final and all(s == "SUCCESS" for s in final.values()) else 1


def adhoc(
    command: Command,
    agents: Annotated[str | None, typer.Option("--agents", "-a", help="Names, a,b,c.")] = None,
    labels: Annotated[
        str | None, typer.Option("--labels", help="Every online agent with these labels, k=v,k=v.")
    ] = None,
    all_agents: Annotated[bool, typer.Option("--all", help="Every online agent.")] = False,
    image: Image = None,
    cpus: Annotated[float | None, typer.Option("--cpus", "-c", help="CPU cores.")] = None,
    memory: Memory = None,
    mount: Mounts = None,
    env: Envs = None,
    user: User = None,
    wait: Wait = False,
    as_json: JsonFlag = False,
) -> None:
    """Run COMMAND now on several agents: one run per agent, one batch."""
    where: dict[str, Any] = {}
    if agents:
        where["agents"] = [a.strip() for a in agents.split(",") if a.strip()]
    if labels:
        where["labels"] = pairs(labels.split(","), "--labels")
    where["all"] = all_agents
    try:
        batch = client().adhoc.start(
            shell_command(command), **where, **_resources(image, cpus, memory, mount, env, user)
        )
        if as_json and not wait:
            emit_json(batch.data)
            return
        console.out(f"batch {batch.batch_id}", highlight=False)
        if not wait:
            show_batch(batch)
            return
        code = follow(batch)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(batch.data)
    else:
        show_batch(batch)
    raise typer.Exit(code=code)


def parse_target(target: str) -> tuple[str, int | None, list[int]]:
    """`AGENT`, `AGENT::0,1` (GPU indices) or `AGENT:NUMA::0,1` / `AGENT:NUMA` (cores and
    memory bound to that NUMA node), as KohakuRiver writes them."""
    where, _, gpus = target.partition("::")
    name, _, node = where.partition(":")
    if not name:
        raise typer.BadParameter("give an agent name", param_hint="--target")
    try:
        numa = int(node) if node.strip() else None
    except ValueError:
        raise typer.BadParameter(
            f"the NUMA node must be a number: {node!r}", param_hint="--target"
        ) from None
    if numa is not None and numa < 0:
        raise typer.BadParameter(
            f"the NUMA node must not be negative: {numa}", param_hint="--target"
        )
    try:
        return name, numa, [int(g) for g in gpus.split(",") if g.strip()]
    except ValueError:
        raise typer.BadParameter(f"GPUs must be indices: {gpus!r}", param_hint="--target") from None


def submit(
    command: Command,
    target: Annotated[
        str, typer.Option("--target", "-t", help="AGENT, AGENT::GPU,GPU or AGENT:NUMA::GPU,GPU.")
    ],
    cores: Annotated[float | None, typer.Option("--cores", "-c", help="CPU cores.")] = None,
    gpu_count: Annotated[
        int | None, typer.Option("--gpus", min=1, help="Any this many free GPUs.")
    ] = None,
    memory: Memory = None,
    image: Image = None,
    mount: Mounts = None,
    env: Envs = None,
    user: User = None,
    wait: Wait = False,
    as_json: JsonFlag = False,
) -> None:
    """Start one run of COMMAND on one agent with these resources."""
    agent, numa, gpus = parse_target(target)
    extra = _resources(image, cores, memory, mount, env, user)
    if gpus:
        extra["gpus"] = gpus
    if gpu_count:
        extra["gpu_count"] = gpu_count
    if numa is not None:
        extra["numa_node"] = numa
    try:
        batch = client().adhoc.start(shell_command(command), agents=[agent], **extra)
        run: RunHandle = batch.runs[0]
        if not wait:
            if as_json:
                emit_json(run.data)
            else:
                console.out(
                    f"run {run.id} {run.status} on {agent} (batch {batch.batch_id})",
                    highlight=False,
                )
            return
        code = follow(batch)
        status = run.refresh().status
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(run.data)
    else:
        console.out(f"run {run.id} {status}", highlight=False)
    raise typer.Exit(code=code)


@batch_app.command("show")
def show(batch_id: str, as_json: JsonFlag = False) -> None:
    try:
        batch = client().adhoc.get(batch_id)
    except AlmanacAPIError as error:
        raise fail(error) from error
    if as_json:
        emit_json(batch.data)
    else:
        show_batch(batch)


@batch_app.command("wait")
def wait_batch(
    batch_id: str, timeout: Annotated[float | None, typer.Option(help="Seconds.")] = None
) -> None:
    """Wait for every run, printing the output; exit 0 when all succeeded."""
    try:
        code = follow(client().adhoc.get(batch_id), timeout)
    except AlmanacAPIError as error:
        raise fail(error) from error
    except TimeoutError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(code=2) from error
    raise typer.Exit(code=code)


@batch_app.command("kill")
def kill(
    batch_id: str, yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False
) -> None:
    """Kill every run of the batch that has not ended."""
    if not yes:
        typer.confirm(f"Kill every running run of batch {batch_id}?", abort=True)
    try:
        show_batch(client().adhoc.kill(batch_id))
    except AlmanacAPIError as error:
        raise fail(error) from error


def register(cli: typer.Typer) -> None:
    """`almanac adhoc`, `almanac submit` and `almanac batch ...`."""
    settings = {"allow_interspersed_args": False}
    cli.command("adhoc", context_settings=settings)(adhoc)
    cli.command("submit", context_settings=settings)(submit)
    cli.add_typer(batch_app, name="batch")
