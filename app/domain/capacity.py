"""What an agent has to give (capacity), what its runs hold (allocation) and what a run asks
(request). Pure: built from what agents report and from run specs, nothing is read.

Cores are counted in the task's own unit (`cpus`, fractions allowed); memory in bytes; GPUs
by index, each held by one run at a time. A run that asks for no cores or memory holds none
(it is limited only by the agent's `max_runs`), as before placement existed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])i?)?b?\s*$", re.IGNORECASE)
_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: str) -> int:
    """ "512M" -> bytes (binary units, as Docker reads them); ValueError when not a size."""
    match = _MEMORY.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a size such as '512M' or '4G'")
    size = int(float(match[1]) * _UNITS[(match[2] or "").lower()])
    if size <= 0:
        raise ValueError(f"{value!r} must be more than zero")
    return size


def _cores(count: float) -> str:
    return f"{count:g} core{'' if count == 1 else 's'}"


def show_size(size: int) -> str:
    for unit, scale in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= scale:
            return f"{size / scale:.3g}{unit}"
    return f"{size}B"


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str = ""
    memory: int = 0  # bytes
    numa_node: int | None = None


@dataclass(frozen=True)
class NumaNode:
    node: int
    cores: tuple[int, ...]  # logical CPU ids
    memory: int = 0  # bytes


@dataclass(frozen=True)
class Capacity:
    """What an agent offers to runs: its host less what it keeps back (`--reserve-*`)."""

    cores: float
    memory: int
    gpus: tuple[Gpu, ...] = ()
    numa: tuple[NumaNode, ...] = ()

    @cached_property
    def gpu_indices(self) -> frozenset[int]:
        return frozenset(g.index for g in self.gpus)

    def node(self, number: int) -> NumaNode | None:
        return next((n for n in self.numa if n.node == number), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "cores": self.cores,
            "memory": self.memory,
            "gpus": [
                {"index": g.index, "name": g.name, "memory": g.memory, "numa_node": g.numa_node}
                for g in self.gpus
            ],
            "numa": [
                {"node": n.node, "cores": list(n.cores), "memory": n.memory} for n in self.numa
            ],
        }


def capacity_of(resources: Mapping[str, Any]) -> Capacity:
    """An agent's capacity from what it reports (hello and heartbeats): `cpus`,
    `memory_total`, `gpus` (NVML), `numa`, less `reserved` {"cores", "memory"}."""
    reserved = resources.get("reserved") or {}
    cores = _number(resources.get("cpus")) - _number(reserved.get("cores"))
    memory = int(_number(resources.get("memory_total")) - _number(reserved.get("memory")))
    gpus = tuple(
        Gpu(
            index=int(g["index"]),
            name=str(g.get("name") or ""),
            memory=int(_number(g.get("memory_total", g.get("memory")))),
            numa_node=g.get("numa_node") if isinstance(g.get("numa_node"), int) else None,
        )
        for g in resources.get("gpus") or ()
        if isinstance(g, Mapping) and isinstance(g.get("index"), int)
    )
    numa = tuple(
        NumaNode(
            node=int(n["node"]),
            cores=tuple(int(c) for c in n.get("cores") or ()),
            memory=int(_number(n.get("memory"))),
        )
        for n in resources.get("numa") or ()
        if isinstance(n, Mapping) and isinstance(n.get("node"), int)
    )
    return Capacity(cores=max(cores, 0.0), memory=max(memory, 0), gpus=gpus, numa=numa)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


@dataclass(frozen=True)
class Request:
    """What one run asks: cores, memory (bytes), GPU indices or a number of any GPUs, and
    optionally the NUMA node its cores and memory are bound to."""

    cores: float = 0.0
    memory: int = 0
    gpus: tuple[int, ...] = ()
    gpu_count: int = 0
    numa_node: int | None = None

    @property
    def gpus_wanted(self) -> int:
        return len(self.gpus) or self.gpu_count

    @property
    def empty(self) -> bool:
        return not (self.cores or self.memory or self.gpus_wanted)

    def words(self) -> str:
        """ "2 cores, 4G, GPUs 0,1" — what the run asks, for reasons."""
        parts = []
        if self.cores:
            parts.append(_cores(self.cores))
        if self.memory:
            parts.append(f"{show_size(self.memory)} memory")
        if self.gpus:
            parts.append("GPUs " + ",".join(map(str, self.gpus)))
        elif self.gpu_count:
            parts.append(f"{self.gpu_count} GPU{'s' if self.gpu_count > 1 else ''}")
        if self.numa_node is not None:
            parts.append(f"NUMA node {self.numa_node}")
        return ", ".join(parts) or "nothing"


def request_of(spec: Mapping[str, Any]) -> Request:
    """The request of a run's spec. Specs are checked when saved; a value that cannot be
    read (an old row) asks for nothing rather than blocking dispatch."""
    try:
        memory = parse_size(str(spec["memory"])) if spec.get("memory") else 0
    except ValueError:
        memory = 0
    cpus = spec.get("cpus")
    count = spec.get("gpu_count")
    numa = spec.get("numa_node")
    return Request(
        cores=float(cpus) if isinstance(cpus, int | float) and cpus > 0 else 0.0,
        memory=memory,
        gpus=tuple(sorted({int(g) for g in spec.get("gpus") or ()})),
        gpu_count=count if isinstance(count, int) and count > 0 else 0,
        numa_node=numa if isinstance(numa, int) and numa >= 0 else None,
    )


@dataclass
class Allocation:
    """What runs hold on one agent (the sum), or what one run holds (stored on the run)."""

    cores: float = 0.0
    memory: int = 0
    gpus: set[int] = field(default_factory=set)
    numa_node: int | None = None

    def add(self, other: Allocation) -> None:
        self.cores += other.cores
        self.memory += other.memory
        self.gpus |= other.gpus

    def to_json(self) -> dict[str, Any]:
        held: dict[str, Any] = {
            "cores": self.cores,
            "memory": self.memory,
            "gpus": sorted(self.gpus),
        }
        if self.numa_node is not None:
            held["numa_node"] = self.numa_node
        return held

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Allocation:
        if not data:
            return cls()
        numa = data.get("numa_node")
        return cls(
            cores=_number(data.get("cores")),
            memory=int(_number(data.get("memory"))),
            gpus={int(g) for g in data.get("gpus") or () if isinstance(g, int)},
            numa_node=numa if isinstance(numa, int) else None,
        )


def total(allocations: Iterable[Allocation]) -> Allocation:
    held = Allocation()
    for one in allocations:
        held.add(one)
    return held


def never_fits(request: Request, capacity: Capacity) -> tuple[str, str] | None:
    """The request field an agent of `capacity` could never give even were it idle, and what
    it has instead (("gpu_count", "2 GPUs")); None when it could."""
    if request.cores > capacity.cores:
        return "cpus", _cores(capacity.cores)
    if request.memory > capacity.memory:
        return "memory", f"{show_size(capacity.memory)} memory"
    if set(request.gpus) - capacity.gpu_indices:
        return "gpus", _gpu_list(capacity)
    if request.gpu_count > len(capacity.gpus):
        count = len(capacity.gpus)
        return "gpu_count", f"{count} GPU{'' if count == 1 else 's'}"
    # On a one-node host a NUMA binding is accepted and is a no-op (the agent says so).
    several = len(capacity.numa) > 1
    if request.numa_node is not None and several and capacity.node(request.numa_node) is None:
        return "numa_node", "NUMA nodes " + ",".join(str(n.node) for n in capacity.numa)
    return None


def _gpu_list(capacity: Capacity) -> str:
    if not capacity.gpus:
        return "no GPUs"
    return "GPUs " + ",".join(str(g.index) for g in capacity.gpus)


def fit(request: Request, capacity: Capacity, held: Allocation) -> Allocation | str:
    """What the run would hold on an agent of `capacity` whose runs hold `held`, or what is
    short. GPUs by index are exclusive; `gpu_count` takes the lowest free indices, those on
    the requested NUMA node first."""
    if request.cores and held.cores + request.cores > capacity.cores + 1e-9:
        return f"{_cores(max(capacity.cores - held.cores, 0))} free"
    if request.memory and held.memory + request.memory > capacity.memory:
        return f"{show_size(max(capacity.memory - held.memory, 0))} memory free"
    free = sorted(capacity.gpu_indices - held.gpus)
    gpus: set[int]
    if request.gpus:
        busy = sorted(set(request.gpus) & held.gpus)
        if busy:
            return "GPU " + ",".join(map(str, busy)) + " in use"
        gpus = set(request.gpus)
    elif request.gpu_count:
        if len(free) < request.gpu_count:
            return f"{len(free)} GPU{'' if len(free) == 1 else 's'} free"
        near = _near_node(capacity, request.numa_node)
        ordered = sorted(free, key=lambda i: (i not in near, i))
        gpus = set(ordered[: request.gpu_count])
    else:
        gpus = set()
    return Allocation(
        cores=request.cores, memory=request.memory, gpus=gpus, numa_node=request.numa_node
    )


def _near_node(capacity: Capacity, node: int | None) -> set[int]:
    if node is None:
        return set()
    return {g.index for g in capacity.gpus if g.numa_node == node}
