"""Host-process executor: `/bin/sh -c COMMAND` in its own process group, as the run's user."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from typing import Any

from app.agents.cgroups import Cgroups, Limits, RunGroup
from app.agents.executors.base import LaunchError, Outcome, RunSpec, Sink, Stream
from app.agents.executors.child import Child, spawn
from app.domain.capacity import parse_size
from app.private_files import open_to_run_user

_READ_SIZE = 64 * 1024
_BASE_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TZ")


# setpriv (util-linux) changes the user in the exec'd child: subprocess then keeps its vfork,
# which it gives up when asked to change the user itself (a fork of the agent then costs
# milliseconds a run: seconds for a burst of a thousand).
_SETPRIV = shutil.which("setpriv")


@dataclass(frozen=True)
class _Credentials:
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def _credentials(user: str | None) -> _Credentials | None:
    """Who the command runs as: `user` with that user's own groups, or the agent's user."""
    if not user:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise LaunchError(f"run_as_user {user!r} does not exist on this agent") from None
    if entry.pw_uid == os.geteuid() and os.geteuid() != 0:
        return None  # already that user
    if os.geteuid() != 0:
        raise LaunchError(f"agent is not root: cannot run as {user!r}")
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return _Credentials(entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)


def _launch(argv: list[str], creds: _Credentials | None) -> tuple[list[str], dict[str, Any]]:
    """The argv and the subprocess arguments that run `argv` with `creds`."""
    if creds is None:
        return argv, {}
    if _SETPRIV is None:
        return argv, {"user": creds.uid, "group": creds.gid, "extra_groups": list(creds.groups)}
    groups = ["--groups", ",".join(map(str, creds.groups))] if creds.groups else ["--clear-groups"]
    return [_SETPRIV, f"--reuid={creds.uid}", f"--regid={creds.gid}", *groups, "--", *argv], {}


def _environment(spec: RunSpec, home: str | None) -> dict[str, str]:
    env = {key: os.environ[key] for key in _BASE_ENV_KEYS if key in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    if home:
        env["HOME"] = home
    env.update(spec.env)
    env["ALMANAC_RUN_ID"] = str(spec.run_id)
    env["ALMANAC_ATTEMPT"] = str(spec.attempt)
    env["ALMANAC_OUTPUT_DIR"] = str(spec.output_dir)
    if spec.results_file is not None:
        env["ALMANAC_RESULTS"] = str(spec.results_file)
    if spec.inputs_dir is not None:
        env["ALMANAC_UPSTREAM_OUTPUTS"] = str(spec.inputs_dir)
    if spec.gpus:  # the GPUs placement gave the run, and no others
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in spec.gpus)
    return env


def _limits(spec: RunSpec) -> Limits:
    try:
        memory = parse_size(spec.memory) if spec.memory else None
    except ValueError as exc:
        raise LaunchError(f"memory: {exc}") from None
    return Limits(
        cpus=spec.cpus,
        memory=memory,
        cpuset_cpus=spec.cpuset_cpus,
        cpuset_mems=spec.cpuset_mems,
    )


class ProcessExecutor:
    def __init__(self, cgroups: Cgroups | None = None) -> None:
        """`cgroups`: where runs' cpu and memory limits are written (found on this host
        when not given)."""
        self.cgroups = cgroups

    async def start(self, spec: RunSpec, sink: Sink) -> ProcessExecution:
        creds = _credentials(spec.run_as_user)
        home = creds.home if creds else os.environ.get("HOME")
        spec.output_dir.mkdir(parents=True, exist_ok=True)
        if spec.results_file is not None:
            spec.results_file.parent.mkdir(parents=True, exist_ok=True)
        if creds:
            open_to_run_user(spec.output_dir, creds.uid, creds.gid)
            if spec.results_file is not None:
                open_to_run_user(spec.results_file.parent, creds.uid, creds.gid)
            if spec.inputs_dir is not None:
                open_to_run_user(spec.inputs_dir, creds.uid, creds.gid)
        argv, as_user = _launch(["/bin/sh", "-c", spec.command], creds)
        limits = _limits(spec)
        if self.cgroups is None and not limits.empty:
            self.cgroups = Cgroups()
        group = RunGroup()
        if self.cgroups is not None:
            name = f"almanac-{os.getpid()}-run-{spec.run_id}-{spec.attempt}"
            group = self.cgroups.make(name, limits)
        try:
            proc = spawn(
                group.wrap(argv),
                cwd=spec.workdir or str(spec.output_dir),
                env=_environment(spec, home),
                start_new_session=True,  # own process group: kill/pause reach every child
                **as_user,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            group.remove()
            raise LaunchError(f"cannot start process: {exc}") from exc
        execution = ProcessExecution(proc=proc, spec=spec, sink=sink, group=group)
        notes = [n for n in (group.note, spec.numa_note) if n]
        await sink.running("; ".join([f"pid {proc.pid}", *notes]), pid=proc.pid)
        execution.begin()
        return execution


@dataclass
class ProcessExecution:
    proc: Child
    spec: RunSpec
    sink: Sink
    group: RunGroup = field(default_factory=RunGroup)
    _terminated: bool = False
    _pumps: tuple[asyncio.Task[None], ...] = ()

    def begin(self) -> None:
        self._pumps = (
            asyncio.create_task(self._pump("stdout")),
            asyncio.create_task(self._pump("stderr")),
        )

    async def _pump(self, stream: Stream) -> None:
        reader = await self.proc.reader(stream)
        while chunk := await reader.read(_READ_SIZE):
            await self.sink.output(stream, chunk)

    async def wait(self) -> Outcome:
        timed_out = False
        try:
            async with asyncio.timeout(self.spec.max_run_seconds):
                code = await self.proc.wait()
        except TimeoutError:
            timed_out = True
            await self.kill(grace_seconds=5.0)
            code = await self.proc.wait()
        # The pipes close when the last holder exits; a background child may keep them open.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                # A pump that failed must not keep the outcome from being reported.
                await asyncio.gather(*self._pumps, return_exceptions=True)
        for pump in self._pumps:
            pump.cancel()
        outcome = self._outcome(code, timed_out)
        if outcome.reason and outcome.reason.startswith("exit code") and self.group.oom_killed():
            outcome = Outcome(exit_code=outcome.exit_code, reason="oom")
        self.group.remove()
        return outcome

    def _outcome(self, code: int, timed_out: bool) -> Outcome:
        exit_code = 128 - code if code < 0 else code  # a signal death reads like the shell does
        if timed_out:
            return Outcome(exit_code=exit_code, reason="timeout")
        if self._terminated:
            return Outcome(exit_code=exit_code, reason="terminated", terminated=True)
        if exit_code != 0:
            return Outcome(exit_code=exit_code, reason=f"exit code {exit_code}")
        return Outcome(exit_code=0)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    async def kill(self, grace_seconds: float = 10.0) -> None:
        self._terminated = True
        self._signal_group(signal.SIGCONT)  # a paused group must wake to see SIGTERM
        self._signal_group(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace_seconds):
                await self.proc.wait()
        except TimeoutError:
            self._signal_group(signal.SIGKILL)

    async def pause(self) -> None:
        self._signal_group(signal.SIGSTOP)

    async def resume(self) -> None:
        self._signal_group(signal.SIGCONT)
