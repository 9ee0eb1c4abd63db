"""The pure placement step: requests, capacity, fit, spread and pack, reasons."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.capacity import (
    Allocation,
    Capacity,
    Gpu,
    NumaNode,
    Request,
    capacity_of,
    fit,
    never_fits,
    parse_size,
    request_of,
)
from app.domain.placement import AgentSlot
from app.domain.placer import Placement, Placer, choose_agent

GIB = 1024**3


def box(name: str, *, cores: float = 8, gpus: int = 2, running: int = 0, **extra: Any) -> AgentSlot:
    return AgentSlot(
        name=name,
        labels=extra.pop("labels", {}),
        max_runs=extra.pop("max_runs", None),
        running=running,
        docker=False,
        capacity=Capacity(
            cores=cores,
            memory=16 * GIB,
            gpus=tuple(Gpu(index=i, numa_node=i % 2) for i in range(gpus)),
            numa=(NumaNode(0, (0, 1)), NumaNode(1, (2, 3))),
        ),
        **extra,
    )


def test_requests_are_read_from_specs() -> None:
    assert request_of({"cpus": 2, "memory": "1G", "gpus": [1, 0, 1]}) == Request(
        cores=2, memory=GIB, gpus=(0, 1)
    )
    assert request_of({"gpu_count": 2, "numa_node": 1}) == Request(gpu_count=2, numa_node=1)
    assert request_of({"memory": "lots"}).empty  # an unreadable old row asks nothing
    assert parse_size("512M") == 512 * 1024**2
    with pytest.raises(ValueError):
        parse_size("0")


def test_capacity_is_the_host_less_its_reserve() -> None:
    capacity = capacity_of(
        {
            "cpus": 16,
            "memory_total": 64 * GIB,
            "reserved": {"cores": 2, "memory": 4 * GIB},
            "gpus": [{"index": 0, "name": "A100", "memory_total": 80 * GIB, "numa_node": 1}],
            "numa": [{"node": 0, "cores": [0, 1], "memory": GIB}],
        }
    )
    assert (capacity.cores, capacity.memory) == (14, 60 * GIB)
    assert capacity.gpus == (Gpu(0, "A100", 80 * GIB, 1),)
    assert capacity.numa == (NumaNode(0, (0, 1), GIB),)


def test_fit_holds_gpus_by_index_and_takes_those_near_the_node_first() -> None:
    capacity = box("a", gpus=4).capacity
    assert capacity is not None
    held = Allocation(gpus={0})
    assert fit(Request(gpus=(0,)), capacity, held) == "GPU 0 in use"
    got = fit(Request(gpu_count=2, numa_node=1), capacity, held)
    assert isinstance(got, Allocation) and got.gpus == {1, 3} and got.numa_node == 1
    assert fit(Request(gpu_count=4), capacity, held) == "3 GPUs free"
    assert fit(Request(cores=8.5), capacity, Allocation()) == "8 cores free"
    assert never_fits(Request(gpu_count=5), capacity) == ("gpu_count", "4 GPUs")
    assert never_fits(Request(numa_node=3), capacity) == ("numa_node", "NUMA nodes 0,1")
    one_node = Capacity(cores=2, memory=GIB, numa=(NumaNode(0, (0, 1)),))
    assert never_fits(Request(numa_node=3), one_node) is None  # a no-op there, not refused


def test_spread_takes_the_least_loaded_and_pack_fills_one_first() -> None:
    spec = {"gpu_count": 1}
    spread = Placer([box("a", running=1), box("b"), box("c")])
    assert [_name(spread.place(spec)) for _ in range(4)] == ["b", "c", "a", "b"]
    pack = Placer([box("a"), box("b", running=1), box("c")], policy="pack")
    assert [_name(pack.place(spec)) for _ in range(5)] == ["b", "b", "a", "a", "c"]


def test_never_two_runs_on_one_gpu_and_the_reason_names_what_is_short() -> None:
    agents = [box("gpu-a"), box("gpu-b", gpus=1)]
    placer = Placer(agents, offline=[box("gpu-c")])
    placed = [placer.place({"gpu_count": 1}) for _ in range(4)]
    held = [(p.agent.name, sorted(p.allocation.gpus)) for p in placed if isinstance(p, Placement)]
    assert sorted(held) == [("gpu-a", [0]), ("gpu-a", [1]), ("gpu-b", [0])]
    assert placed[3] == (
        "needs 1 GPU; gpu-a has 0 GPUs free, gpu-b has 0 GPUs free, gpu-c is offline"
    )


def test_cores_are_never_over_committed_and_max_runs_still_counts() -> None:
    placer = Placer([box("a", cores=4, max_runs=10)])
    assert [isinstance(placer.place({"cpus": 1.5}), Placement) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    slots = Placer([box("a", max_runs=1)])
    assert isinstance(slots.place({}), Placement)
    assert slots.place({}) == "waiting for a free slot: a has no free slot"


def test_a_request_no_agent_could_hold_says_so() -> None:
    assert choose_agent({"gpu_count": 3}, [box("a"), box("b", gpus=1)]) == (
        "no agent could ever hold it: needs 3 GPUs; a has only 2 GPUs, b has only 1 GPU"
    )


def test_targets_and_labels_apply_before_capacity() -> None:
    agents = [box("a", labels={"gpu": "a100"}), box("b", gpus=8)]
    assert _name(choose_agent({"gpu_count": 1, "labels": {"gpu": "a100"}}, agents)) == "a"
    assert choose_agent({"gpu_count": 4, "target": "a"}, agents).startswith(
        "no agent could ever hold it"
    )


def test_an_agent_reporting_no_capacity_is_not_counted_on_cores() -> None:
    old = AgentSlot(name="old", labels={}, max_runs=None, running=0, docker=False)
    placer = Placer([old])
    assert isinstance(placer.place({"cpus": 64}), Placement)
    first = placer.place({"gpus": [0]})
    assert isinstance(first, Placement)
    assert placer.place({"gpus": [0]}) == "needs GPUs 0; old has GPU 0 in use"


def _name(placed: object) -> str:
    if isinstance(placed, AgentSlot):
        return placed.name
    assert isinstance(placed, Placement), placed
    return placed.agent.name
