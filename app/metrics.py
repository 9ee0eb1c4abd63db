"""Prometheus metrics: histograms observed where things happen, counts read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.db.tables import Agent, LogChunk, Run
from app.domain.admission import reason_class
from app.domain.states import RunStatus
from app.hub.hub import AgentHub
from app.placement_metrics import PlacementCollector
from app.scheduler.admission import load_gates

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self, engine: Engine, hub: AgentHub) -> None:
        self.registry = CollectorRegistry()
        self.trigger_delay = Histogram(
            "almanac_trigger_delay_seconds",
            "Trigger time to ACTIVE, per scheduled occurrence",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.dependency_hop = Histogram(
            "almanac_dependency_hop_seconds",
            "Upstream end to downstream dispatch in a group run",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_DatabaseCollector(engine, hub))
        self.registry.register(PlacementCollector(engine))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _admission_metrics(engine: Engine) -> Iterator[GaugeMetricFamily]:
    """Pool slots and use, and ACTIVE runs by the class of what they wait for."""
    with Session(engine) as session:
        gates = load_gates(session)
        reasons = session.exec(
            select(Run.reason, func.count())
            .where(Run.status == RunStatus.ACTIVE)
            .group_by(col(Run.reason))
        ).all()
    slots = GaugeMetricFamily("almanac_pool_slots", "Slots of a pool", labels=["instance", "pool"])
    used = GaugeMetricFamily(
        "almanac_pool_used_slots", "Slots of a pool held by runs", labels=["instance", "pool"]
    )
    for (instance, name), pool in sorted(gates.pools.items()):
        slots.add_metric([instance, name], float(pool.slots))
        used.add_metric([instance, name], float(pool.used))
    yield slots
    yield used
    depth: dict[str, int] = dict.fromkeys(("pool", "lock", "quota", "agent", "other", "none"), 0)
    for reason, count in reasons:
        depth[reason_class(reason)] += int(count)
    waiting = GaugeMetricFamily(
        "almanac_queue_depth", "ACTIVE runs by what they wait for", labels=["reason"]
    )
    for kind, count in depth.items():
        waiting.add_metric([kind], float(count))
    yield waiting


class _DatabaseCollector(Collector):
    """Counts that are the database's truth, read when Prometheus scrapes."""

    def __init__(self, engine: Engine, hub: AgentHub) -> None:
        self.engine = engine
        self.hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        with Session(self.engine) as session:
            by_status = dict(
                session.exec(select(Run.status, func.count()).group_by(Run.status)).all()
            )
            agents = dict(
                session.exec(select(Agent.status, func.count()).group_by(Agent.status)).all()
            )
            log_bytes = session.exec(
                select(func.coalesce(func.sum(func.length(LogChunk.data)), 0))
            ).one()
        runs = GaugeMetricFamily("almanac_runs", "Runs by status", labels=["status"])
        for status in RunStatus:
            runs.add_metric([status.value], float(by_status.get(status.value, 0)))
        yield runs
        yield GaugeMetricFamily(
            "almanac_dispatch_queue_depth",
            "Runs ACTIVE, waiting to start",
            value=float(by_status.get(RunStatus.ACTIVE, 0)),
        )
        yield from _admission_metrics(self.engine)
        online = GaugeMetricFamily("almanac_agents", "Agents by status", labels=["status"])
        for agent_status in ("online", "offline", "draining"):
            online.add_metric([agent_status], float(agents.get(agent_status, 0)))
        yield online
        yield GaugeMetricFamily(
            "almanac_agents_connected",
            "Agents connected to this server",
            value=float(len(self.hub.connections)),
        )
        yield GaugeMetricFamily(
            "almanac_log_bytes", "Bytes of run output stored", value=float(log_bytes or 0)
        )
        refused = CounterMetricFamily(
            "almanac_agent_frames_refused",
            "Agent frames not taken by this server: another "
            "agent's run, a settled attempt, a malformed frame",
            labels=["kind"],
        )
        for kind, count in sorted(self.hub.refused_frames.items()):
            refused.add_metric([kind], float(count))
        yield refused
