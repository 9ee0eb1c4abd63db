"""/metrics speaks Prometheus and needs a token; /health says who leads."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_metrics_report_runs_by_status_and_need_a_token(api: TestClient) -> None:
    tid = api.post("/api/v1/tasks", json={"name": "m", "command": "true"}).json()["tid"]
    api.post(f"/api/v1/tasks/{tid}/run")  # no agent here: it waits ACTIVE
    body = api.get("/metrics").text
    assert 'almanac_runs{status="ACTIVE"} 1.0' in body
    assert "almanac_dispatch_queue_depth 1.0" in body
    assert "almanac_trigger_delay_seconds_bucket" in body
    assert "almanac_dependency_hop_seconds_count" in body
    assert TestClient(api.app).get("/metrics").status_code == 401
