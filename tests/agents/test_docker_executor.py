"""The Docker executor against a real engine and the offline busybox image (no mocks)."""

import asyncio
import itertools
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from support import require

from app.agents.executors.base import Execution, Executor, LaunchError, Outcome, RunSpec, Stream
from app.agents.executors.docker import (
    LABEL_AGENT,
    LABEL_ATTEMPT,
    LABEL_MAX_RUN,
    LABEL_RUN_ID,
    DockerExecution,
    DockerExecutor,
    container_name,
    container_options,
    docker_available,
    outcome_from_state,
    owner_tag,
    parse_docker_time,
    parse_memory,
)
from app.agents.resources import probe_gpus
from app.domain.results import parse_results

IMAGE = "almanac-test-busybox:latest"
DOCKER = docker_available()
WAIT = 30.0  # bound on every await of an outcome or of expected output


class RecordingSink:
    """Keeps everything it is told; `until` waits (bounded) for expected output."""

    def __init__(self) -> None:
        self.running_details: list[str] = []
        self.chunks: list[tuple[Stream, bytes]] = []
        self._changed = asyncio.Event()

    async def running(self, detail: str = "", *, pid: int | None = None) -> None:
        self.running_details.append(detail)

    async def output(self, stream: Stream, data: bytes) -> None:
        assert isinstance(data, bytes)
        self.chunks.append((stream, data))
        self._changed.set()

    def text(self, stream: Stream) -> bytes:
        return b"".join(data for s, data in self.chunks if s == stream)

    async def until(self, stream: Stream, needle: bytes) -> None:
        async with asyncio.timeout(WAIT):
            while needle not in self.text(stream):
                self._changed.clear()
                await self._changed.wait()


_run_ids = itertools.count((os.getpid() % 100_000) * 1000 + int(time.time()) % 1000)


@pytest.fixture
def client() -> Iterator[Any]:
    """Every engine test comes through here: without Docker it skips, or fails in CI."""
    require("docker", DOCKER, "no Docker engine answered a ping")
    api = docker.from_env()
    yield api
    api.close()


@pytest.fixture
def run_id(client: Any) -> Iterator[int]:
    """A fresh run id per test; anything a failing test leaves behind is removed."""
    rid = next(_run_ids)
    yield rid
    for leftover in client.containers.list(all=True, filters={"label": f"{LABEL_RUN_ID}={rid}"}):
        leftover.remove(force=True)


@pytest.fixture
async def executor(client: Any) -> AsyncIterator[DockerExecutor]:
    executor = DockerExecutor(stop_grace_seconds=1, pull_timeout=20)
    yield executor
    executor.close()


def spec(run_id: int, tmp_path: Path, command: str, **fields: Any) -> RunSpec:
    fields.setdefault("image", IMAGE)
    return RunSpec(run_id=run_id, attempt=1, command=command, output_dir=tmp_path / "out", **fields)


async def finish(execution: DockerExecution) -> Outcome:
    """The outcome, once the container's removal (which follows it) is done too."""
    async with asyncio.timeout(WAIT):
        outcome = await execution.wait()
        await execution.removed()
        return outcome


def assert_removed(client: Any, run_id: int, attempt: int = 1) -> None:
    # One listing call, no inspection of each: other tests' containers come and go meanwhile.
    name = container_name(run_id, attempt)
    found = client.api.containers(all=True, filters={"name": name})
    assert f"/{name}" not in [n for c in found for n in c["Names"]]


async def state_of(client: Any, execution: DockerExecution) -> dict[str, Any]:
    attrs = await asyncio.to_thread(client.api.inspect_container, execution.container_id)
    state: dict[str, Any] = attrs["State"]
    return state


async def until_state(
    client: Any, execution: DockerExecution, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Short bounded poll of Docker's own view of the container."""
    async with asyncio.timeout(10):
        while True:
            state = await state_of(client, execution)
            if check(state):
                return state
            await asyncio.sleep(0.05)


# --- pure: no engine needed ---------------------------------------------------------------------


def test_the_executor_meets_the_contract() -> None:
    # mypy checks the structural match; constructing must not touch Docker.
    executor: Executor = DockerExecutor()
    execution_type: type[Execution] = DockerExecution
    assert executor is not None and execution_type is DockerExecution


def test_container_options_map_the_spec(tmp_path: Path) -> None:
    options = container_options(
        RunSpec(
            run_id=7,
            attempt=2,
            command="echo $HOME && exit 3",
            output_dir=tmp_path,
            image="busybox",
            env={"A": "1", "ALMANAC_RUN_ID": "forged"},
            workdir="/work",
            run_as_user="1000:1000",
            cpus=1.5,
            memory="512M",
            gpus=(0, 2),
            mounts=("/data:/in:ro", "/scratch:/scratch"),
            max_run_seconds=90,
        )
    )

    assert options["command"] == ["/bin/sh", "-c", "echo $HOME && exit 3"]
    assert options["name"] == "almanac-run-7-2"
    assert options["environment"] == {
        "A": "1",
        "ALMANAC_RUN_ID": "7",
        "ALMANAC_ATTEMPT": "2",
        "ALMANAC_OUTPUT_DIR": "/outputs",
    }
    assert options["labels"] == {LABEL_RUN_ID: "7", LABEL_ATTEMPT: "2", LABEL_MAX_RUN: "90.0"}
    assert options["nano_cpus"] == 1_500_000_000
    assert options["mem_limit"] == options["memswap_limit"] == 512 * 2**20
    assert options["working_dir"] == "/work" and options["user"] == "1000:1000"
    [gpus] = options["device_requests"]
    assert gpus["DeviceIDs"] == ["0", "2"] and gpus["Capabilities"] == [["gpu"]]
    assert [(m["Source"], m["Target"], m["ReadOnly"]) for m in options["mounts"]] == [
        ("/data", "/in", True),
        ("/scratch", "/scratch", False),
        (str(tmp_path), "/outputs", False),
    ]
    assert "network_mode" not in options


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512M", 512 * 2**20),
        ("4G", 4 * 2**30),
        ("64m", 64 * 2**20),
        ("1.5g", 3 * 2**29),
        ("256Mi", 256 * 2**20),
        ("100MB", 100 * 2**20),
        ("2048", 2048),
        ("1k", 1024),
    ],
)
def test_parse_memory(text: str, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "5X", "G"])
def test_parse_memory_refuses_nonsense(text: str) -> None:
    with pytest.raises(LaunchError, match="memory"):
        parse_memory(text)


@pytest.mark.parametrize("mount", ["/a", "/a:/b:rx", "rel:/b", "/a:rel", "/a:/b:ro:x", ":/b"])
def test_bad_mounts_are_launch_errors(tmp_path: Path, mount: str) -> None:
    with pytest.raises(LaunchError, match="mount"):
        container_options(spec(1, tmp_path, "true", mounts=(mount,)))


def test_a_spec_without_image_or_with_bad_cpus_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="image"):
        container_options(spec(1, tmp_path, "true", image=None))
    with pytest.raises(LaunchError, match="cpus"):
        container_options(spec(1, tmp_path, "true", cpus=0))


@pytest.mark.parametrize(
    ("state", "terminated", "timed_out", "expected"),
    [
        ({"ExitCode": 0}, False, False, Outcome(exit_code=0)),
        ({"ExitCode": 2}, False, False, Outcome(exit_code=2, reason="exit code 2")),
        ({"ExitCode": 137, "OOMKilled": True}, False, False, Outcome(exit_code=137, reason="oom")),
        ({"ExitCode": 0, "OOMKilled": True}, False, False, Outcome(exit_code=0)),
        ({"ExitCode": 137}, False, True, Outcome(exit_code=137, reason="timeout")),
        (
            {"ExitCode": 137},
            True,
            True,
            Outcome(exit_code=137, reason="terminated", terminated=True),
        ),
    ],
)
def test_outcome_from_state(
    state: dict[str, Any], terminated: bool, timed_out: bool, expected: Outcome
) -> None:
    assert outcome_from_state(state, terminated=terminated, timed_out=timed_out) == expected


def test_docker_time_keeps_microseconds() -> None:
    stamp = parse_docker_time("2026-03-01T10:20:30.123456789Z")
    assert (stamp.microsecond, stamp.utcoffset()) == (
        123456,
        parse_docker_time("2026-03-01T00:00:00Z").utcoffset(),
    )


def test_docker_available_is_false_for_a_dead_engine() -> None:
    dead = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    assert docker_available(dead) is False


# --- against the engine -------------------------------------------------------------------------


@pytest.mark.docker
async def test_streams_are_separate_and_in_order(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    command = (
        "echo out1; echo err1 >&2; echo out2; echo err2 >&2;"
        " i=0; while [ $i -lt 3000 ]; do echo line $i; echo err $i >&2; i=$((i+1)); done"
    )
    sink = RecordingSink()

    outcome = await finish(await executor.start(spec(run_id, tmp_path, command), sink))

    lines = "".join(f"line {i}\n" for i in range(3000)).encode()
    errors = "".join(f"err {i}\n" for i in range(3000)).encode()
    assert outcome == Outcome(exit_code=0) and outcome.succeeded
    assert sink.text("stdout") == b"out1\nout2\n" + lines
    assert sink.text("stderr") == b"err1\nerr2\n" + errors
    assert len(sink.running_details) == 1 and IMAGE in sink.running_details[0]
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_nonzero_exit_code_is_the_reason(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    sink = RecordingSink()

    outcome = await finish(await executor.start(spec(run_id, tmp_path, "echo bye; exit 3"), sink))

    assert outcome == Outcome(exit_code=3, reason="exit code 3")
    assert sink.text("stdout") == b"bye\n"
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_env_workdir_and_user_reach_the_container(
    executor: DockerExecutor, run_id: int, tmp_path: Path
) -> None:
    sink = RecordingSink()
    command = 'echo "$GREETING|$ALMANAC_RUN_ID|$ALMANAC_ATTEMPT|$ALMANAC_OUTPUT_DIR"; pwd; id -u'
    run = spec(
        run_id,
        tmp_path,
        command,
        env={"GREETING": "hello world; $(not expanded)"},
        workdir="/tmp",
        run_as_user="1234:1234",
    )

    outcome = await finish(await executor.start(run, sink))

    assert outcome.succeeded
    assert (
        sink.text("stdout")
        == f"hello world; $(not expanded)|{run_id}|1|/outputs\n/tmp\n1234\n".encode()
    )


@pytest.mark.docker
async def test_cpu_and_memory_limits_are_applied(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    # cgroup v2 files first, v1 as a fallback (the engine here runs cgroup v1).
    command = (
        "cat /sys/fs/cgroup/cpu.max 2>/dev/null"
        " || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us);"
        " cat /sys/fs/cgroup/memory.max 2>/dev/null"
        " || cat /sys/fs/cgroup/memory/memory.limit_in_bytes;"
        " echo done; sleep 60"
    )
    sink = RecordingSink()
    execution = await executor.start(spec(run_id, tmp_path, command, cpus=0.5, memory="64M"), sink)
    await sink.until("stdout", b"done\n")

    host_config = (await asyncio.to_thread(client.api.inspect_container, execution.container_id))[
        "HostConfig"
    ]
    await execution.kill(grace_seconds=0)
    await finish(execution)

    assert sink.text("stdout") == b"50000 100000\n67108864\ndone\n"
    assert host_config["NanoCpus"] == 500_000_000
    assert host_config["Memory"] == host_config["MemorySwap"] == 64 * 2**20


@pytest.mark.docker
async def test_exceeding_memory_ends_with_oom(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    sink = RecordingSink()
    # The engine misses an OOM kill in the first milliseconds of a container (containerd arms
    # its OOM watch just after start; seen on Docker 20.10, cgroup v1): allocate a moment later.
    command = "echo allocating; sleep 0.5; dd if=/dev/zero of=/dev/null bs=64M count=1"

    outcome = await finish(
        await executor.start(spec(run_id, tmp_path, command, memory="16M"), sink)
    )

    assert outcome == Outcome(exit_code=137, reason="oom")
    assert sink.text("stdout") == b"allocating\n"
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_kill_ends_terminated(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    sink = RecordingSink()
    execution = await executor.start(spec(run_id, tmp_path, "echo started; sleep 60"), sink)
    await sink.until("stdout", b"started\n")

    began = time.monotonic()
    await execution.kill(grace_seconds=1)
    outcome = await finish(execution)

    assert outcome.terminated and outcome.reason == "terminated" and not outcome.succeeded
    assert time.monotonic() - began < 15
    assert_removed(client, run_id)
    await execution.kill()  # killing an ended run is a no-op


@pytest.mark.docker
async def test_kill_honours_a_graceful_sigterm_handler(
    executor: DockerExecutor, run_id: int, tmp_path: Path
) -> None:
    sink = RecordingSink()
    command = "trap 'echo cleaning up; exit 0' TERM; echo ready; sleep 60 & wait"
    execution = await executor.start(spec(run_id, tmp_path, command), sink)
    await sink.until("stdout", b"ready\n")

    await execution.kill(grace_seconds=10)
    outcome = await finish(execution)

    assert outcome.terminated and outcome.exit_code == 0
    assert sink.text("stdout") == b"ready\ncleaning up\n"


@pytest.mark.docker
async def test_pause_freezes_and_resume_continues(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    command = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done"
    sink = RecordingSink()
    execution = await executor.start(spec(run_id, tmp_path, command), sink)
    await sink.until("stdout", b"tick 2\n")

    await execution.pause()
    await execution.pause()  # idempotent
    await until_state(client, execution, lambda s: s["Paused"] and s["Status"] == "paused")
    frozen = sink.text("stdout")
    await asyncio.sleep(0.3)  # several tick periods: a frozen task must print nothing
    assert sink.text("stdout") == frozen
    last = int(frozen.strip().splitlines()[-1].split()[1])

    await execution.resume()
    await until_state(client, execution, lambda s: not s["Paused"] and s["Status"] == "running")
    await sink.until("stdout", f"tick {last + 2}\n".encode())

    await execution.kill(grace_seconds=0)
    assert (await finish(execution)).terminated
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_kill_while_paused_still_stops(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    sink = RecordingSink()
    execution = await executor.start(spec(run_id, tmp_path, "echo up; sleep 60"), sink)
    await sink.until("stdout", b"up\n")
    await execution.pause()
    await until_state(client, execution, lambda s: s["Paused"])

    await execution.kill(grace_seconds=1)

    assert (await finish(execution)).terminated
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_max_run_seconds_stops_with_timeout(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    sink = RecordingSink()
    began = time.monotonic()
    run = spec(run_id, tmp_path, "echo begin; sleep 60", max_run_seconds=1)

    outcome = await finish(await executor.start(run, sink))

    assert outcome.reason == "timeout" and not outcome.terminated
    assert 1 <= time.monotonic() - began < 15
    assert sink.text("stdout") == b"begin\n"
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_missing_image_is_a_clear_launch_error(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    image = "almanac-test-no-such-image:never"
    sink = RecordingSink()

    with pytest.raises(LaunchError) as caught:
        await executor.start(spec(run_id, tmp_path, "true", image=image), sink)

    assert str(caught.value).startswith(
        f"image {image} not found locally and could not be pulled: "
    )
    assert sink.running_details == []
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_unknown_user_is_a_launch_error_and_leaves_nothing(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    with pytest.raises(LaunchError, match="did not start: .*no-such-user"):
        await executor.start(
            spec(run_id, tmp_path, "true", run_as_user="no-such-user"), RecordingSink()
        )
    assert_removed(client, run_id)


@pytest.mark.docker
@pytest.mark.skipif(bool(probe_gpus()), reason="this host has GPUs")
async def test_gpus_on_an_engine_without_gpu_support_are_a_launch_error(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    with pytest.raises(LaunchError, match="did not start: .*gpu"):
        await executor.start(spec(run_id, tmp_path, "true", gpus=(0,)), RecordingSink())
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_outputs_and_mounts(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "input.txt").write_text("from the host\n")
    command = (
        "cat /in/input.txt; echo result > $ALMANAC_OUTPUT_DIR/result.txt;"
        " echo nope > /in/written.txt"
    )
    sink = RecordingSink()
    run = spec(run_id, tmp_path, command, mounts=(f"{data}:/in:ro",))

    outcome = await finish(await executor.start(run, sink))

    assert outcome.exit_code not in (0, None)  # the read-only mount refused the last write
    assert sink.text("stdout") == b"from the host\n"
    assert b"Read-only file system" in sink.text("stderr")
    assert (tmp_path / "out" / "result.txt").read_text() == "result\n"
    assert not (data / "written.txt").exists()
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_a_leftover_container_of_the_same_attempt_is_replaced(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    client.containers.create(
        IMAGE, ["true"], name=container_name(run_id, 1), labels={LABEL_RUN_ID: str(run_id)}
    )
    sink = RecordingSink()

    outcome = await finish(await executor.start(spec(run_id, tmp_path, "echo fresh"), sink))

    assert outcome.succeeded and sink.text("stdout") == b"fresh\n"


@pytest.mark.docker
async def test_find_running_and_reattach_after_a_restart(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    command = (
        "echo before; echo err-before >&2;"
        " while [ ! -f /outputs/go ]; do sleep 0.05; done; echo after; exit 4"
    )
    first = RecordingSink()
    execution = await executor.start(spec(run_id, tmp_path, command), first)
    await first.until("stdout", b"before\n")
    await first.until("stderr", b"err-before\n")
    await execution.detach()  # the agent goes away; the container must not

    restarted = DockerExecutor()
    try:
        found = [c for c in await restarted.find_running() if c.run_id == run_id]
        assert [(c.attempt, c.container_id, c.status) for c in found] == [
            (1, execution.container_id, "running")
        ]
        second = RecordingSink()
        again = await restarted.reattach(run_id, 1, second, offsets={"stdout": len(b"before\n")})
        await second.until("stderr", b"err-before\n")
        (tmp_path / "out" / "go").touch()

        outcome = await finish(again)
    finally:
        restarted.close()

    assert outcome == Outcome(exit_code=4, reason="exit code 4")
    assert second.text("stdout") == b"after\n"
    assert second.text("stderr") == b"err-before\n"
    assert second.running_details == []
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_reattach_to_an_ended_container_reports_its_outcome(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    first = RecordingSink()
    execution = await executor.start(
        spec(run_id, tmp_path, "echo hi; echo oops >&2; exit 2"), first
    )
    await first.until("stderr", b"oops\n")
    await execution.detach()
    await until_state(client, execution, lambda s: s["Status"] == "exited")

    second = RecordingSink()
    outcome = await finish(await executor.reattach(run_id, 1, second))

    assert outcome == Outcome(exit_code=2, reason="exit code 2")
    assert (second.text("stdout"), second.text("stderr")) == (b"hi\n", b"oops\n")
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_reattach_keeps_enforcing_max_run_seconds(
    executor: DockerExecutor, client: Any, run_id: int, tmp_path: Path
) -> None:
    first = RecordingSink()
    run = spec(run_id, tmp_path, "echo up; sleep 60", max_run_seconds=2)
    execution = await executor.start(run, first)
    await first.until("stdout", b"up\n")
    await execution.detach()

    outcome = await finish(await executor.reattach(run_id, 1, RecordingSink()))

    assert outcome.reason == "timeout"
    assert_removed(client, run_id)


@pytest.mark.docker
async def test_reattach_to_an_unknown_run_is_a_lookup_error(
    executor: DockerExecutor, run_id: int
) -> None:
    with pytest.raises(LookupError, match=f"run {run_id} attempt 1"):
        await executor.reattach(run_id, 1, RecordingSink())


@pytest.mark.docker
async def test_output_is_raw_bytes_and_streams_in_bounded_chunks(
    executor: DockerExecutor, run_id: int, tmp_path: Path
) -> None:
    size = 20_000_000
    command = f"printf '\\377\\000\\376'; head -c {size} /dev/zero; printf '\\377' >&2"
    sink = RecordingSink()

    outcome = await finish(await executor.start(spec(run_id, tmp_path, command), sink))

    stdout = sink.text("stdout")
    assert outcome.succeeded
    assert stdout[:3] == b"\xff\x00\xfe" and len(stdout) == 3 + size
    assert stdout[3:].count(0) == size
    assert sink.text("stderr") == b"\xff"
    assert max(len(data) for _, data in sink.chunks) < 2**20  # streamed, never gathered whole


@pytest.mark.docker
async def test_runs_in_parallel_keep_their_own_output(
    executor: DockerExecutor, client: Any, tmp_path: Path
) -> None:
    run_ids = [next(_run_ids) for _ in range(4)]
    sinks = [RecordingSink() for _ in run_ids]
    try:
        executions = [
            await executor.start(
                spec(rid, tmp_path / str(rid), f"for i in 1 2 3; do echo {rid}-$i; done"), sink
            )
            for rid, sink in zip(run_ids, sinks, strict=True)
        ]
        outcomes = await asyncio.gather(*(finish(e) for e in executions))
    finally:
        for rid in run_ids:
            for leftover in client.containers.list(all=True, filters={"name": f"-{rid}-"}):
                leftover.remove(force=True)

    assert all(o.succeeded for o in outcomes)
    for rid, sink in zip(run_ids, sinks, strict=True):
        assert sink.text("stdout") == f"{rid}-1\n{rid}-2\n{rid}-3\n".encode()


def test_container_names_and_labels_carry_the_agents_tag(tmp_path: Path) -> None:
    tag = owner_tag("build host/2")
    assert tag.startswith("build-host-2-") and tag != owner_tag("build host 2")
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]+", f"almanac-{tag}")  # Docker's name rule
    options = container_options(spec(5, tmp_path, "true"), tag)
    assert options["name"] == f"almanac-{tag}-run-5-1"
    assert options["labels"][LABEL_AGENT] == tag


@pytest.mark.docker
async def test_agents_sharing_an_engine_keep_to_their_own_containers(
    client: Any, run_id: int, tmp_path: Path
) -> None:
    """Two servers' agents on one engine: the same run id makes two containers, and each
    agent finds only its own after a restart."""
    first, second = DockerExecutor(agent_name="one"), DockerExecutor(agent_name="two")
    try:
        executions = [
            await executor.start(spec(run_id, tmp_path / name, "sleep 30"), RecordingSink())
            for name, executor in (("one", first), ("two", second))
        ]
        mine = [c for c in await first.find_running() if c.run_id == run_id]
        assert [c.container_id for c in mine] == [executions[0].container_id]
        theirs = [c for c in await second.find_running() if c.run_id == run_id]
        assert [c.container_id for c in theirs] == [executions[1].container_id]
        for execution in executions:
            await execution.kill()
            await finish(execution)
    finally:
        first.close()
        second.close()
        for leftover in client.containers.list(all=True, filters={"name": f"-run-{run_id}-"}):
            leftover.remove(force=True)


@pytest.mark.docker
async def test_results_file_and_upstream_outputs_in_the_container(
    executor: DockerExecutor, run_id: int, tmp_path: Path
) -> None:
    """$ALMANAC_RESULTS lies in the mounted results folder (nothing else of the spool);
    upstream outputs are mounted read-only."""
    sink = RecordingSink()
    results = tmp_path / "results" / "results"
    results.parent.mkdir()
    inputs = tmp_path / "inputs" / "extract"
    inputs.mkdir(parents=True)
    (inputs / "data.txt").write_text("upstream data\n")
    command = (
        'echo "rows=7" >> "$ALMANAC_RESULTS"; echo "$ALMANAC_RESULTS"; '
        'cat "$ALMANAC_UPSTREAM_OUTPUTS/extract/data.txt"; '
        'touch "$ALMANAC_UPSTREAM_OUTPUTS/x" 2>/dev/null || echo read-only'
    )
    run = spec(run_id, tmp_path, command, results_file=results, inputs_dir=tmp_path / "inputs")

    outcome = await finish(await executor.start(run, sink))

    assert outcome.succeeded
    assert sink.text("stdout") == b"/almanac-results/results\nupstream data\nread-only\n"
    assert parse_results(results.read_bytes()).values == {"rows": 7}
