"""Process runs held to their request with real processes and this host's real cgroups: a
memory hog is killed by its limit (reason "oom"), a CPU quota is written, GPUs are named in
CUDA_VISIBLE_DEVICES; where no cgroup can be written, the run says its limits are not
enforced."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from app.agents.cgroups import Cgroups, Limits, _own_paths
from app.agents.executors.base import Outcome, RunSpec, Stream
from app.agents.executors.process import ProcessExecutor
from app.agents.resources import bind_to_node, parse_cpu_list, pci_address, probe_numa

WAIT = 60.0
HOST = Cgroups()
needs_cgroups = pytest.mark.skipif(
    HOST.usable is None, reason="no writable cgroup on this host: the note is tested instead"
)


class Sink:
    def __init__(self) -> None:
        self.details: list[str] = []
        self.out = bytearray()

    async def running(self, detail: str = "", *, pid: int | None = None) -> None:
        self.details.append(detail)

    async def output(self, stream: Stream, data: bytes) -> None:
        if stream == "stdout":
            self.out += data


async def run(
    tmp: Path, command: str, executor: ProcessExecutor, **fields: object
) -> tuple[Outcome, Sink]:
    spec = RunSpec(run_id=7, attempt=1, command=command, output_dir=tmp / "out", **fields)  # type: ignore[arg-type]
    sink = Sink()
    execution = await executor.start(spec, sink)
    async with asyncio.timeout(WAIT):
        return await execution.wait(), sink


HOG = f"{sys.executable} -c 'x = bytearray(400 * 1024 * 1024); print(len(x))'"


@needs_cgroups
async def test_a_memory_hog_is_killed_by_its_limit(tmp_path: Path) -> None:
    outcome, sink = await run(tmp_path, HOG, ProcessExecutor(), memory="64M")
    assert outcome.exit_code != 0 and outcome.reason == "oom"
    assert "held to 67108864 bytes of memory" in sink.details[0]
    within, sink = await run(tmp_path, HOG, ProcessExecutor(), memory="1G")
    assert within.exit_code == 0 and sink.out.strip() == str(400 * 1024 * 1024).encode()


@needs_cgroups
async def test_a_cpu_quota_is_written_and_the_cgroup_removed_after(tmp_path: Path) -> None:
    command = "cat /proc/self/cgroup"
    outcome, sink = await run(tmp_path, command, ProcessExecutor(), cpus=0.5)
    assert outcome.exit_code == 0
    assert "held to 0.5 cpus" in sink.details[0]
    assert "almanac-" in sink.out.decode()  # the command ran inside its own cgroup
    leftovers = [p for base in HOST.v1.values() if base for p in base.glob("almanac-*")]
    assert leftovers == []


async def test_without_a_writable_cgroup_the_run_says_limits_are_not_enforced(
    tmp_path: Path,
) -> None:
    nowhere = Cgroups(root=tmp_path / "no-cgroups", proc_cgroup="0::/\n4:memory:/\n1:cpu:/\n")
    outcome, sink = await run(tmp_path, HOG, ProcessExecutor(nowhere), memory="64M", cpus=1)
    assert outcome.exit_code == 0  # nothing held it
    assert sink.details[0].endswith(
        "cpu and memory limits not enforced: no writable cgroup (v2 or v1) on this agent"
    )


async def test_a_run_with_no_limits_makes_no_cgroup(tmp_path: Path) -> None:
    outcome, sink = await run(
        tmp_path, "echo $CUDA_VISIBLE_DEVICES", ProcessExecutor(), gpus=(1, 3)
    )
    assert outcome.exit_code == 0 and sink.out.strip() == b"1,3"
    assert sink.details[0].startswith("pid ") and ";" not in sink.details[0]


async def test_a_numa_binding_on_a_one_node_host_is_a_no_op_said_on_the_run(
    tmp_path: Path,
) -> None:
    one_node = [{"node": 0, "cores": [0, 1], "memory": 1}]
    binding = bind_to_node(1, one_node)
    assert (binding.cpus, binding.mems) == (None, None)
    outcome, sink = await run(tmp_path, "true", ProcessExecutor(), numa_note=binding.note)
    assert "NUMA node 1: a no-op, this host has one node" in sink.details[0]
    two = [{"node": 0, "cores": [0, 1]}, {"node": 1, "cores": [2, 3]}]
    assert bind_to_node(1, two).cpus == "2,3" and bind_to_node(1, two).mems == "1"


def test_topology_parsing() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert pci_address("00000000:3B:00.0") == "0000:3b:00.0"
    assert _own_paths("4:memory:/a/b\n0::/c\n2:cpu,cpuacct:/d") == {
        "memory": "/a/b",
        "": "/c",
        "cpu": "/d",
        "cpuacct": "/d",
    }
    nodes = probe_numa()
    assert nodes and all(n["cores"] for n in nodes)  # this host has /sys/devices/system/node


def test_limits_empty() -> None:
    assert Limits().empty and not Limits(cpus=1).empty
