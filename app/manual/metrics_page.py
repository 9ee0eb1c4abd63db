"""docs/reference/metrics.md from the metrics registry the server exposes at /metrics."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

from prometheus_client.metrics_core import Metric

# The names Prometheus stores for each kind of family (a counter's `_total`, a histogram's series).
_SERIES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
}


def metric_families() -> list[Metric]:
    """Every family /metrics exposes, collected once from an empty database."""
    from sqlmodel import SQLModel

    from app.clock import FrozenClock
    from app.db.engine import make_engine
    from app.hub.hub import AgentHub
    from app.metrics import Metrics
    from app.scheduler.lifecycle import apply_state

    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{scratch}/metrics.db")
        try:
            SQLModel.metadata.create_all(engine)
            clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
            hub = AgentHub(engine, clock, heartbeat_interval=5.0, reports=apply_state)
            families = list(Metrics(engine, hub).registry.collect())
        finally:
            engine.dispose()
    return families


def metric_names() -> set[str]:
    """Every series name a query may use (a counter's `_total`, a histogram's `_bucket`...)."""
    names: set[str] = set()
    for family in metric_families():
        names.add(family.name)
        names.update(family.name + suffix for suffix in _SERIES.get(family.type, ()))
    return names


def metrics_page() -> str:
    from app.manual import cell

    out = [
        "# Metrics\n",
        "The server exposes Prometheus metrics at `/metrics`, behind a bearer token like every "
        "route (give Prometheus a viewer's API token). Counts are read from the "
        "database when Prometheus scrapes, so every server of a cluster reports the same "
        "totals; histograms are observed by the server that leads the scheduler. An example "
        "dashboard to import into Grafana: "
        "[grafana-dashboard.json](../operations/grafana-dashboard.json) "
        "([how](../operations/monitoring.md)).\n",
        "| metric | type | labels | meaning |\n|---|---|---|---|",
    ]
    for family in sorted(metric_families(), key=lambda f: f.name):
        suffixes = _SERIES.get(family.type, ())
        shown = ", ".join(f"`{family.name}{s}`" for s in suffixes) or f"`{family.name}`"
        labels = sorted(
            set(getattr(family, "_labelnames", ()))
            | {key for sample in family.samples for key in sample.labels if key != "le"}
        )
        out.append(
            f"| {shown} | {family.type} | {', '.join(f'`{label}`' for label in labels)} | "
            f"{cell(family.documentation)} |"
        )
    return "\n".join(out).rstrip() + "\n"
