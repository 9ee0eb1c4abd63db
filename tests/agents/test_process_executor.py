"""The host-process executor with real processes: `/bin/sh -c`, process groups, signals, users."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.agents.executors import process
from app.agents.executors.base import LaunchError, Outcome, RunSpec, Stream
from app.agents.executors.process import ProcessExecutor

WAIT = 30.0  # bound on every wait for an outcome or a process state


class RecordingSink:
    """Keeps every chunk per stream, in arrival order."""

    def __init__(self) -> None:
        self.running_details: list[str] = []
        self.data: dict[Stream, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.chunks = 0

    async def running(self, detail: str = "", *, pid: int | None = None) -> None:
        self.running_details.append(detail)

    async def output(self, stream: Stream, data: bytes) -> None:
        assert isinstance(data, bytes) and data
        self.data[stream] += data
        self.chunks += 1

    def text(self, stream: Stream) -> str:
        return self.data[stream].decode()


def make_spec(tmp: Path, command: str, **fields: object) -> RunSpec:
    defaults: dict[str, object] = {"run_id": 41, "attempt": 1, "output_dir": tmp / "outputs"}
    defaults.update(fields)
    return RunSpec(command=command, **defaults)  # type: ignore[arg-type]


async def run_to_end(spec: RunSpec) -> tuple[Outcome, RecordingSink]:
    sink = RecordingSink()
    execution = await ProcessExecutor().start(spec, sink)
    async with asyncio.timeout(WAIT):
        outcome = await execution.wait()
    return outcome, sink


async def until(predicate: Callable[[], object]) -> None:
    """Bounded polling of a real process's state."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {WAIT}s")
        await asyncio.sleep(0.02)


def proc_state(pid: int) -> str | None:
    """The state letter of /proc/<pid>/stat, None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    """Signal 0 reaches the process, and it is not a zombie nobody reaped yet."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return proc_state(pid) not in (None, "Z", "X")


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None


def shell_pid(sink: RecordingSink) -> int:
    (detail,) = sink.running_details
    assert detail.startswith("pid ")
    return int(detail.removeprefix("pid "))


@pytest.fixture
def reaped() -> Iterator[list[int]]:
    """Pids a test started in the background; whatever survives a failing test is killed."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, 9)


# ---- output -----------------------------------------------------------------------------


async def test_stdout_and_stderr_are_captured_separately_and_in_order(tmp_path: Path) -> None:
    command = (
        'i=1; while [ "$i" -le 1000 ]; do '
        'if [ $((i % 2)) -eq 1 ]; then echo "line $i"; else echo "line $i" >&2; fi; '
        "i=$((i + 1)); done"
    )
    outcome, sink = await run_to_end(make_spec(tmp_path, command))
    assert outcome == Outcome(exit_code=0)
    assert outcome.succeeded
    odd = "".join(f"line {i}\n" for i in range(1, 1001, 2))
    even = "".join(f"line {i}\n" for i in range(2, 1001, 2))
    assert sink.text("stdout") == odd
    assert sink.text("stderr") == even


async def test_running_is_reported_with_the_pid(tmp_path: Path) -> None:
    outcome, sink = await run_to_end(make_spec(tmp_path, "echo $$"))
    assert outcome.succeeded
    assert sink.running_details == [f"pid {sink.text('stdout').strip()}"]


async def test_twenty_megabytes_of_output_arrive_intact(tmp_path: Path) -> None:
    size = 20_000_000
    pattern = b"0123456789abcdefghi\n"  # 20 bytes a line
    outcome, sink = await run_to_end(
        make_spec(tmp_path, f"yes 0123456789abcdefghi | head -c {size}")
    )
    assert outcome.succeeded
    data = bytes(sink.data["stdout"])
    assert len(data) == size
    assert hashlib.sha256(data).digest() == hashlib.sha256(pattern * (size // 20)).digest()
    assert sink.data["stderr"] == b""


# ---- exit codes -------------------------------------------------------------------------


async def test_non_zero_exit_code_is_the_reason(tmp_path: Path) -> None:
    outcome, sink = await run_to_end(make_spec(tmp_path, "echo before; exit 3"))
    assert outcome.exit_code == 3
    assert outcome.reason == "exit code 3"
    assert not outcome.terminated and not outcome.succeeded
    assert sink.text("stdout") == "before\n"


async def test_a_missing_command_fails_with_the_shells_code(tmp_path: Path) -> None:
    outcome, sink = await run_to_end(make_spec(tmp_path, "no-such-command-almanac"))
    assert outcome.exit_code == 127
    assert outcome.reason == "exit code 127"
    assert "no-such-command-almanac" in sink.text("stderr")


# ---- environment, directories -----------------------------------------------------------


async def test_environment_carries_the_task_env_and_run_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALMANAC_AGENT_TOKEN", "secret-agent-token")  # the agent's own secret
    spec = make_spec(
        tmp_path,
        'printf "%s|%s|%s|%s|%s\\n" "$GREETING" "$ALMANAC_RUN_ID" "$ALMANAC_ATTEMPT" '
        '"$ALMANAC_OUTPUT_DIR" "${ALMANAC_AGENT_TOKEN-unset}"',
        run_id=987,
        attempt=2,
        env={"GREETING": "hello world; $(not expanded)"},
    )
    outcome, sink = await run_to_end(spec)
    assert outcome.succeeded
    assert sink.text("stdout") == (f"hello world; $(not expanded)|987|2|{spec.output_dir}|unset\n")


async def test_default_working_directory_is_the_output_dir(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "pwd")
    outcome, sink = await run_to_end(spec)
    assert outcome.succeeded
    assert sink.text("stdout") == f"{spec.output_dir}\n"


async def test_workdir_is_honoured(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "input.txt").write_text("from the workdir\n")
    outcome, sink = await run_to_end(
        make_spec(tmp_path, "pwd; cat input.txt", workdir=str(workdir))
    )
    assert outcome.succeeded
    assert sink.text("stdout") == f"{workdir}\nfrom the workdir\n"


async def test_a_missing_workdir_is_a_launch_error(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "true", workdir=str(tmp_path / "absent"))
    with pytest.raises(LaunchError, match="absent"):
        await ProcessExecutor().start(spec, RecordingSink())


async def test_a_file_written_to_the_output_dir_lands_in_the_spec_output_dir(
    tmp_path: Path,
) -> None:
    spec = make_spec(
        tmp_path,
        'echo "result 42" > "$ALMANAC_OUTPUT_DIR/report.txt"',
        workdir=str(tmp_path),
        output_dir=tmp_path / "spool" / "7-1" / "outputs",
    )
    outcome, _ = await run_to_end(spec)
    assert outcome.succeeded
    assert (spec.output_dir / "report.txt").read_text() == "result 42\n"


# ---- kill, pause, timeout -----------------------------------------------------------------


async def test_kill_terminates_the_whole_process_group(tmp_path: Path, reaped: list[int]) -> None:
    pid_file = tmp_path / "grandchild.pid"
    sink = RecordingSink()
    execution = await ProcessExecutor().start(
        make_spec(tmp_path, f"sleep 300 & echo $! > {pid_file}; echo started; wait"), sink
    )
    await until(lambda: read_pid(pid_file) and sink.text("stdout") == "started\n")
    grandchild = read_pid(pid_file)
    assert grandchild is not None
    reaped.append(grandchild)
    assert alive(grandchild)

    await execution.kill(grace_seconds=10.0)
    async with asyncio.timeout(WAIT):
        outcome = await execution.wait()
    assert outcome.terminated
    assert outcome.reason == "terminated"
    assert not outcome.succeeded
    await until(lambda: not alive(grandchild))
    assert not alive(shell_pid(sink))


async def test_kill_escalates_to_sigkill_when_sigterm_is_ignored(
    tmp_path: Path, reaped: list[int]
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    # An ignored SIGTERM is inherited by the background child: only SIGKILL ends either.
    command = f"trap '' TERM; sleep 300 & echo $! > {pid_file}; wait; wait; wait"
    sink = RecordingSink()
    execution = await ProcessExecutor().start(make_spec(tmp_path, command), sink)
    await until(lambda: read_pid(pid_file))
    grandchild = read_pid(pid_file)
    assert grandchild is not None
    reaped.append(grandchild)

    await execution.kill(grace_seconds=0.3)
    async with asyncio.timeout(WAIT):
        outcome = await execution.wait()
    assert outcome.terminated
    assert outcome.exit_code == 128 + 9  # died of SIGKILL, read as the shell would
    await until(lambda: not alive(grandchild))


async def test_pause_stops_the_group_and_resume_lets_it_finish(
    tmp_path: Path, reaped: list[int]
) -> None:
    child_file = tmp_path / "child.pid"
    command = f'sleep 300 & echo $! > {child_file}; wait $!; echo "finished $?"'
    sink = RecordingSink()
    execution = await ProcessExecutor().start(make_spec(tmp_path, command), sink)
    await until(lambda: read_pid(child_file))
    child = read_pid(child_file)
    assert child is not None
    reaped.append(child)
    shell = shell_pid(sink)
    # Both settled (a process stopped inside fork or execve reads "D", not "T").
    await until(lambda: proc_state(shell) == "S" and proc_state(child) == "S")

    await execution.pause()
    await until(lambda: proc_state(shell) == "T" and proc_state(child) == "T")
    os.kill(child, signal.SIGTERM)  # held pending: a stopped process does not act on it
    assert proc_state(child) == "T" and proc_state(shell) == "T"

    await execution.resume()
    async with asyncio.timeout(WAIT):
        outcome = await execution.wait()
    assert outcome.succeeded
    assert sink.text("stdout") == "finished 143\n"  # the child died of the SIGTERM after all


async def test_kill_reaches_a_paused_group(tmp_path: Path) -> None:
    sink = RecordingSink()
    execution = await ProcessExecutor().start(
        make_spec(tmp_path, "echo ready; sleep 300; echo never"), sink
    )
    shell = shell_pid(sink)
    # Settled in `wait` for its child (a process stopped inside execve reads "D", not "T").
    await until(lambda: sink.text("stdout") == "ready\n" and proc_state(shell) == "S")
    await execution.pause()
    await until(lambda: proc_state(shell) == "T")
    await execution.kill(grace_seconds=10.0)
    async with asyncio.timeout(WAIT):
        outcome = await execution.wait()
    assert outcome.terminated
    assert outcome.exit_code == 128 + 15  # SIGTERM, not the SIGKILL after the grace


async def test_max_run_seconds_ends_the_run_as_timeout(tmp_path: Path) -> None:
    outcome, _ = await run_to_end(make_spec(tmp_path, "sleep 300", max_run_seconds=0.5))
    assert outcome.reason == "timeout"
    assert not outcome.terminated
    assert not outcome.succeeded


async def test_a_run_inside_its_time_limit_is_not_a_timeout(tmp_path: Path) -> None:
    outcome, sink = await run_to_end(make_spec(tmp_path, "echo quick", max_run_seconds=60))
    assert outcome == Outcome(exit_code=0)
    assert sink.text("stdout") == "quick\n"


# ---- users ----------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="running as another user needs root")
@pytest.mark.parametrize("through", ["setpriv", "subprocess"])
async def test_run_as_user_drops_to_that_user_and_its_groups(
    through: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """setpriv changes the user in the exec'd child (the agent's fork stays a cheap vfork);
    without it subprocess does it, to the same effect."""
    if through == "subprocess":
        monkeypatch.setattr(process, "_SETPRIV", None)
    else:
        assert process._SETPRIV is not None, "util-linux's setpriv is part of Debian"
    nobody = pwd.getpwnam("nobody")
    groups = sorted(set(os.getgrouplist("nobody", nobody.pw_gid)))
    # Somewhere nobody can reach (pytest's own tmp folders are private to root).
    with tempfile.TemporaryDirectory() as base:
        os.chmod(base, 0o755)
        spec = make_spec(
            Path(base),
            'id -u; id -g; id -G; touch "$ALMANAC_OUTPUT_DIR/mine"',
            run_as_user="nobody",
        )
        outcome, sink = await run_to_end(spec)
        assert outcome.succeeded, sink.text("stderr")
        uid, gid, all_groups = sink.text("stdout").splitlines()
        assert int(uid) == nobody.pw_uid
        assert int(gid) == nobody.pw_gid
        assert sorted(int(g) for g in all_groups.split()) == groups  # none of root's groups
        assert (spec.output_dir / "mine").stat().st_uid == nobody.pw_uid


async def test_an_unknown_user_is_a_launch_error_naming_the_user(tmp_path: Path) -> None:
    sink = RecordingSink()
    with pytest.raises(LaunchError, match="no-such-user-almanac"):
        await ProcessExecutor().start(
            make_spec(tmp_path, "true", run_as_user="no-such-user-almanac"), sink
        )
    assert sink.running_details == []


def test_the_launch_hands_the_user_change_to_setpriv_with_the_users_groups() -> None:
    creds = process._Credentials(uid=65534, gid=65534, groups=(65534, 27), home="/nonexistent")
    argv, options = process._launch(["/bin/sh", "-c", "id"], creds)
    assert options == {}  # nothing that would make subprocess give up its vfork
    assert argv[1:] == [
        "--reuid=65534",
        "--regid=65534",
        "--groups",
        "65534,27",
        "--",
        "/bin/sh",
        "-c",
        "id",
    ]
    none_extra = process._launch(["true"], process._Credentials(1, 1, (), "/"))[0]
    assert "--clear-groups" in none_extra
    assert process._launch(["true"], None) == (["true"], {})
