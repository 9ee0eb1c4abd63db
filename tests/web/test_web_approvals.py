"""The approvals queue: each pending run with everything it will run; operators approve or
reject one or many with a reason; the navigation's badge counts them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from web.test_web_adhoc import _agents
from web.web_helpers import Login


def _submitted(login: Login, engine: Engine) -> list[int]:
    _agents(engine)
    user = login("user")
    batch = user.post(
        "/adhoc", data={"command": "echo 'hello world'", "target": "all", "workdir": "/tmp"}
    ).context["batch"]
    return sorted(int(r["id"]) for r in batch["runs"])


def test_operators_see_what_will_run_and_decide(
    login: Login, web_engine: Engine, api: TestClient
) -> None:
    first, second = _submitted(login, web_engine)
    operator = login("operator")
    assert operator.get("/approvals/count").text == "2"
    page = operator.get("/approvals")
    assert [p.run.id for p in page.context["pending"]] == [first, second]  # oldest first
    assert "echo &#39;hello world&#39;" in page.text and "/tmp" in page.text
    digest = page.context["pending"][0].spec_digest
    approved = operator.post(
        "/approvals",
        data={"run": str(first), f"digest-{first}": digest, "action": "approve", "comment": "ok"},
    )
    assert approved.context["outcomes"] == [{"run": first, "ok": True, "text": "approved"}]
    assert api.get(f"/api/v1/runs/{first}").json()["status"] == "ACTIVE"
    rejected = operator.post(
        "/approvals", data={"run": str(second), "action": "reject", "comment": "not today"}
    )
    assert rejected.context["outcomes"][0]["ok"] is True
    run = api.get(f"/api/v1/runs/{second}").json()
    assert run["status"] == "REJECTED" and "not today" in run["reason"]
    assert operator.get("/approvals/count").text == ""
    assert 'id="approvals-empty"' in operator.get("/approvals").text


def test_an_approval_of_a_stale_spec_is_refused_per_run(
    login: Login, web_engine: Engine, api: TestClient
) -> None:
    first, _ = _submitted(login, web_engine)
    operator = login("operator")
    stale = "0" * 64
    answer = operator.post(
        "/approvals", data={"run": str(first), f"digest-{first}": stale, "action": "approve"}
    )
    outcome = answer.context["outcomes"][0]
    assert outcome["ok"] is False and "spec_digest" in outcome["text"]
    assert api.get(f"/api/v1/runs/{first}").json()["status"] == "PENDING_APPROVAL"


def test_viewers_see_the_queue_but_cannot_decide(
    login: Login, web_engine: Engine, api: TestClient
) -> None:
    first, _ = _submitted(login, web_engine)
    viewer = login("viewer")
    page = viewer.get("/approvals")
    assert page.status_code == 200 and 'name="run"' not in page.text
    refused = viewer.post("/approvals", data={"run": str(first), "action": "approve"})
    assert refused.status_code == 403
    assert api.get(f"/api/v1/runs/{first}").json()["status"] == "PENDING_APPROVAL"
