"""The generated reference pages (REST API, CLI, settings, metrics) are what the code says
today: regenerated in memory, each must equal the committed page; and the example Grafana
dashboard queries only series the server exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.manual import generated_pages
from app.manual.metrics_page import metric_names

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return generated_pages()


def test_every_generated_page_is_current(pages: dict[str, str]) -> None:
    stale = [
        relative
        for relative, text in pages.items()
        if not (DOCS / relative).exists() or (DOCS / relative).read_text() != text
    ]
    assert not stale, f"run `python scripts/gen_reference.py`: stale {stale}"


def test_the_pages_cover_the_code(pages: dict[str, str]) -> None:
    from app.settings import Settings

    rest = pages["reference/rest-api.md"]
    assert "### POST /api/v1/tasks/{tid}/run" in rest and "### RunPublic" in rest
    cli = pages["reference/cli.md"]
    assert "## almanac task" in cli and "### almanac agent install" in cli
    assert "`ALMANAC_AGENT_TOKEN`" in cli  # an option's variable
    settings = pages["reference/settings.md"]
    for name in Settings.model_fields:
        assert f"| `{name}` |" in settings
    assert "`ALMANAC_HEARTBEAT_TIMEOUT_SECONDS`" in settings
    assert "`almanac_trigger_delay_seconds_bucket`" in pages["reference/metrics.md"]


def test_the_grafana_dashboard_queries_real_series() -> None:
    dashboard = json.loads((DOCS / "operations" / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in expressions for name in re.findall(r"\balmanac_\w+", expr)}
    assert len(used) >= 10
    assert used <= metric_names(), used - metric_names()
