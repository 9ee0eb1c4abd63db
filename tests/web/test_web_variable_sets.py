"""The variable sets page: admins create and edit (secret inputs write-only), viewers read
names; the run detail page shows a run's results."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from run_moves import move
from sqlalchemy import Engine
from web.web_helpers import Login

from app.db.engine import session_scope
from app.db.runs import get_run
from app.domain.states import RunStatus
from app.hub.log_masking import LogMasker
from app.protocol.frames import LogHeader

SECRET = "web-secret-5510"


def test_admin_creates_and_edits_viewer_reads(web: TestClient, login: Login) -> None:
    made = web.post(
        "/variable-sets",
        data={
            "name": "web-set",
            "instance": "default",
            "variables": "REGION=eu\nTIER=gold\n",
            "secrets": f"TOKEN={SECRET}\n",
        },
    )
    assert made.status_code == 303, made.text
    page = web.get("/variable-sets")
    assert page.status_code == 200 and "web-set" in page.text and "REGION" in page.text
    assert "<td>TOKEN</td>" in page.text and SECRET not in page.text
    edited = web.post(
        "/variable-sets/default/web-set",
        data={"description": "edited", "variables": "REGION=us\n", "secrets": ""},
    )
    assert edited.status_code == 303
    page = web.get("/variable-sets").text
    assert "edited" in page and "TIER" not in page and "<td>TOKEN</td>" in page  # kept
    refused = web.post("/variable-sets", data={"name": "bad", "secrets": "1X=2\n"})
    assert refused.status_code == 422 and "secrets" in refused.text
    viewer = login("viewer")
    seen = viewer.get("/variable-sets").text
    assert "web-set" in seen and "<td>TOKEN</td>" in seen and SECRET not in seen
    assert "REGION=" not in seen and "<td>us</td>" not in seen  # plain values masked
    assert "New variable set" not in seen
    denied = viewer.post("/variable-sets/default/web-set/delete")
    assert denied.status_code in (403, 200) and "web-set" in web.get("/variable-sets").text
    removed = web.post(
        "/variable-sets/default/web-set", data={"variables": "", "remove_secret": "TOKEN"}
    )
    assert removed.status_code == 303
    assert "<td>TOKEN</td>" not in web.get("/variable-sets").text
    assert web.post("/variable-sets/default/web-set/delete").status_code == 303
    assert "web-set" not in web.get("/variable-sets").text


def _masked(engine: Engine, run_id: int, masker: LogMasker, offset: int, data: bytes) -> None:
    with session_scope(engine) as session:
        run = get_run(session, run_id)
        header = LogHeader(run_id=run_id, attempt=1, stream="stdout", offset=offset)
        masker.store(session, run, header, data)


def test_live_stream_and_page_show_secrets_masked_and_results(
    web: TestClient, api: TestClient, web_app: FastAPI, web_engine: Engine
) -> None:
    body = {"name": "masked-job", "command": "true", "secrets": {"K": SECRET}}
    tid = api.post("/api/v1/tasks", json=body).json()["tid"]
    run_id = int(api.post(f"/api/v1/tasks/{tid}/run").json()["id"])
    with session_scope(web_engine) as session:
        run = get_run(session, run_id, lock=True)
        for status in (RunStatus.TRIGGER, RunStatus.RUNNING):
            move(session, run, status, at=datetime.now(UTC), agent="a1")
    masker = LogMasker()
    first = b"key web-sec"  # the secret straddles two chunks
    _masked(web_engine, run_id, masker, 0, first)
    _masked(web_engine, run_id, masker, len(first), b"ret-5510 end\n")
    web_app.state.sse_lifetime = 8.0  # room for a loaded machine: the backlog comes first
    received = web.get(f"/task-runs/{run_id}/events?attempt=1&out=0&err=0&v=0").text
    events = [b for b in received.split("\n\n") if b.startswith("event: log")]
    text = "".join(json.loads(b.split("data: ", 1)[1])["text"] for b in events)
    assert text == "key *** end\n" and SECRET not in received, received[:3000]
    with session_scope(web_engine) as session:
        get_run(session, run_id, lock=True).results = {"rows": 42, "ok": True}
    page = web.get(f"/task-runs/{run_id}").text
    assert 'id="results"' in page and "rows" in page and SECRET not in page
