"""Results between tasks, for real: an upstream command writes $ALMANAC_RESULTS, the server
keeps them on its run, and its downstream in the same group run reads them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlmodel import select
from support import LiveServer, wait_for

from app.db.engine import session_scope
from app.db.tables import Run
from app.domain.results import MAX_NAMES

GROUP_DONE = {"SUCCESS", "FAILED", "TERMINATED"}


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    return shared_agent_ready


def _group_run(http: httpx.Client, name: str, up: str, down: str) -> dict[str, dict[str, Any]]:
    tids = {
        label: http.post("/tasks", json={"name": f"{name}-{label}", "command": cmd}).json()["tid"]
        for label, cmd in (("extract", up), ("load", down))
    }
    gid = http.post("/groups", json={"name": name, "tasks": list(tids.values())}).json()["gid"]
    edge = {"upstream": tids["extract"], "downstream": tids["load"], "condition": "success"}
    assert http.post(f"/groups/{gid}/edges", json=edge).status_code == 201
    group_run = http.post(f"/groups/{gid}/run").json()["id"]
    detail = wait_for(
        lambda: (r := http.get(f"/group-runs/{group_run}").json())["status"] in GROUP_DONE and r,
        timeout=30,
    )
    names = {tid: label for label, tid in tids.items()}
    return {names[r["task"]]: http.get(f"/runs/{r['id']}").json() for r in detail["runs"]}


def test_downstream_reads_upstream_results(agent_ready: LiveServer) -> None:
    upstream = (
        'echo "rows=42" >> "$ALMANAC_RESULTS"; '
        'echo "path=/data/out 1.csv" >> "$ALMANAC_RESULTS"; '
        'echo \'meta={"ok": true}\' >> "$ALMANAC_RESULTS"; '
        'echo "not a result line" >> "$ALMANAC_RESULTS"; '
        'mkdir -p "$ALMANAC_OUTPUT_DIR/sub"; echo "file body" > "$ALMANAC_OUTPUT_DIR/sub/data.txt"'
    )
    downstream = (
        'echo "got $ALMANAC_UPSTREAM_RESULTS_E2E_EXTRACT_ROWS '
        '$ALMANAC_UPSTREAM_RESULTS_E2E_EXTRACT_PATH $ALMANAC_UPSTREAM_RESULTS_E2E_EXTRACT_META"; '
        'cat "$ALMANAC_UPSTREAM_OUTPUTS/results-e2e-extract/sub/data.txt"'
    )
    with agent_ready.client() as http:
        runs = _group_run(http, "results-e2e", upstream, downstream)
        assert runs["extract"]["status"] == "SUCCESS", runs
        assert runs["extract"]["results"] == {
            "rows": 42,
            "path": "/data/out 1.csv",
            "meta": {"ok": True},
        }
        assert "not NAME=VALUE" in (runs["extract"]["reason"] or "")
        assert runs["load"]["status"] == "SUCCESS", runs["load"]
        lines = http.get(f"/runs/{runs['load']['id']}/logs", params={"stream": "stdout"})
        # Only an agent's token, for a run it holds, fetches an upstream's files.
        url = f"/agents/inputs/{runs['load']['id']}/1/{runs['extract']['id']}/sub/data.txt"
        assert http.get(url).status_code == 401  # a user's token is not an agent's
    assert lines.json()["lines"] == ['got 42 /data/out 1.csv {"ok":true}', "file body"]


def test_results_over_the_cap_are_dropped_and_said(agent_ready: LiveServer) -> None:
    many = f'for i in $(seq 1 {MAX_NAMES + 5}); do echo "r$i=$i" >> "$ALMANAC_RESULTS"; done'
    with agent_ready.client() as http:
        task = http.post("/tasks", json={"name": "results-cap", "command": many}).json()
        run_id = http.post(f"/tasks/{task['tid']}/run").json()["id"]
        run = wait_for(
            lambda: (r := http.get(f"/runs/{run_id}").json())["status"] in GROUP_DONE and r,
            timeout=30,
        )
    assert run["status"] == "SUCCESS"
    assert len(run["results"]) == MAX_NAMES and run["results"]["r1"] == 1
    assert "r101" not in run["results"]
    assert "5 results over the cap" in run["reason"]


SET_SECRET = "pw-Rk81-results"
TASK_SECRET = "tok-Jd40-results"


def test_a_secret_in_a_result_is_masked_before_it_is_stored(agent_ready: LiveServer) -> None:
    """The results the command writes hold the secrets it was given (a variable set's, its
    task's), whole, inside a text, deep in JSON, as a number: what is stored, served and
    handed to the downstream (placeholder and variable) has `***` in their place."""
    upstream = (
        'echo "dsn=postgres://app:$ALMANAC_VAR_DB_PASSWORD@db/x" >> "$ALMANAC_RESULTS"; '
        'echo "token=$API_KEY" >> "$ALMANAC_RESULTS"; '
        'echo "pin=$PIN" >> "$ALMANAC_RESULTS"; '
        'echo "meta={\\"k\\": [\\"a $API_KEY b\\", {\\"$API_KEY\\": 1}], \\"n\\": 7}" '
        '>> "$ALMANAC_RESULTS"'
    )
    # The downstream has no secrets of its own: its output is masked of none.
    downstream = (
        'echo dsn ${upstream.masked-extract.dsn} env "$ALMANAC_UPSTREAM_MASKED_EXTRACT_TOKEN"'
    )
    with agent_ready.client() as http:
        made = http.post(
            "/variable-sets",
            json={"name": "results-mask", "secrets": {"DB_PASSWORD": SET_SECRET}},
        )
        assert made.status_code == 201, made.text
        extract = http.post(
            "/tasks",
            json={
                "name": "masked-extract",
                "command": upstream,
                "secrets": {"API_KEY": TASK_SECRET, "PIN": "90817263"},
                "variable_sets": ["results-mask"],
            },
        )
        assert extract.status_code == 201, extract.text
        load = http.post("/tasks", json={"name": "masked-load", "command": downstream})
        tids = [extract.json()["tid"], load.json()["tid"]]
        gid = http.post("/groups", json={"name": "masked", "tasks": tids}).json()["gid"]
        edge = {"upstream": tids[0], "downstream": tids[1], "condition": "success"}
        assert http.post(f"/groups/{gid}/edges", json=edge).status_code == 201
        group_run = http.post(f"/groups/{gid}/run").json()["id"]
        detail = wait_for(
            lambda: (
                (r := http.get(f"/group-runs/{group_run}").json())["status"] in GROUP_DONE and r
            ),
            timeout=30,
        )
        runs = {r["task"]: http.get(f"/runs/{r['id']}").json() for r in detail["runs"]}
        up, down = runs[tids[0]], runs[tids[1]]
        assert up["status"] == "SUCCESS" and down["status"] == "SUCCESS", runs
        served = http.get(f"/runs/{up['id']}").text
        lines = http.get(f"/runs/{down['id']}/logs", params={"stream": "stdout"}).json()["lines"]
    assert up["results"] == {
        "dsn": "postgres://app:***@db/x",
        "token": "***",
        "pin": "***",
        "meta": {"k": ["a *** b", {"***": 1}], "n": 7},
    }
    assert lines == ["dsn postgres://app:***@db/x env ***"]
    with session_scope(agent_ready.engine) as session:
        stored = json.dumps(session.exec(select(Run.results).where(Run.id == up["id"])).one())
    for secret in (SET_SECRET, TASK_SECRET, "90817263"):
        assert secret not in stored and secret not in served
