"""Prometheus gauges of placement: what each agent offers and what its runs hold, read
from the database when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.db.tables import Agent
from app.domain.capacity import Allocation, capacity_of
from app.scheduler.dispatch import allocations

_SERIES = (
    ("cores", "CPU cores"),
    ("memory_bytes", "memory (bytes)"),
    ("gpus", "GPUs"),
)


class PlacementCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with Session(self.engine) as session:
            agents = session.exec(select(Agent.name, Agent.resources)).all()
            held = allocations(session)
        offered = {
            name: (capacity_of(resources or {}), held.get(name) or Allocation())
            for name, resources in agents
        }
        for key, words in _SERIES:
            capacity = GaugeMetricFamily(
                f"almanac_agent_capacity_{key}", f"{words} an agent offers runs", labels=["agent"]
            )
            allocated = GaugeMetricFamily(
                f"almanac_agent_allocated_{key}", f"{words} an agent's runs hold", labels=["agent"]
            )
            for name, (cap, alloc) in sorted(offered.items()):
                capacity.add_metric([name], _value(key, cap.cores, cap.memory, len(cap.gpus)))
                allocated.add_metric(
                    [name], _value(key, alloc.cores, alloc.memory, len(alloc.gpus))
                )
            yield capacity
            yield allocated
        per_gpu = GaugeMetricFamily(
            "almanac_agent_gpu_allocated",
            "1 while a run holds the GPU, else 0",
            labels=["agent", "gpu"],
        )
        for name, (cap, alloc) in sorted(offered.items()):
            for gpu in cap.gpus:
                per_gpu.add_metric([name, str(gpu.index)], float(gpu.index in alloc.gpus))
        yield per_gpu


def _value(key: str, cores: float, memory: int, gpus: int) -> float:
    return float({"cores": cores, "memory_bytes": memory, "gpus": gpus}[key])
