"""Run detail: details, timeline, actions per status and role, the log viewer's pages,
search and download, and the live stream of status and output."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from run_moves import move
from sqlalchemy import Engine
from support import wait_for
from web.web_helpers import Login

from app.db.engine import session_scope
from app.db.logs import append_chunk
from app.db.runs import get_run
from app.domain.states import RunStatus
from app.models.schemas import RunEventPublic
from app.web.timeline import timeline


def _run(api: TestClient, command: str = "echo hi") -> int:
    tid = api.post("/api/v1/tasks", json={"name": "job", "command": command}).json()["tid"]
    return int(api.post(f"/api/v1/tasks/{tid}/run").json()["id"])


def _move(engine: Engine, run_id: int, *statuses: RunStatus, **changes: Any) -> None:
    for status in statuses:
        with session_scope(engine) as session:
            move(
                session,
                get_run(session, run_id, lock=True),
                status,
                at=datetime.now(UTC),
                **changes,
            )


def _log(engine: Engine, run_id: int, text: str, stream: str = "stdout") -> None:
    with session_scope(engine) as session:
        from app.db.logs import stored_size

        offset = stored_size(session, run_id, 1, stream)
        append_chunk(
            session, run_id=run_id, attempt=1, stream=stream, offset=offset, data=text.encode()
        )


def test_page_shows_details_timeline_and_first_log_page(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    run_id = _run(api)
    _move(web_engine, run_id, RunStatus.TRIGGER, RunStatus.RUNNING, agent="a1")
    _move(web_engine, run_id, RunStatus.SUCCESS, exit_code=0)
    _log(web_engine, run_id, "".join(f"line {i}\n" for i in range(1, 701)))
    _log(web_engine, run_id, "oops\n", "stderr")
    response = web.get(f"/task-runs/{run_id}")
    assert response.template.name == "run_detail/page.html"
    view, log = response.context["view"], response.context["log"]
    assert view.run.id == run_id and view.run.status == "SUCCESS"
    assert [(s.status, s.state) for s in view.steps] == [
        ("ACTIVE", "done"),
        ("TRIGGER", "done"),
        ("RUNNING", "done"),
        ("SUCCESS", "done"),
    ]
    assert log.stream == "stdout" and log.page.page == 1 and not log.live
    assert log.counts == {"stdout": 700, "stderr": 1} and log.pages == 2
    assert len(log.page.lines) == 500 and log.page.lines[0] == "line 1"
    assert 'id="l-500"' in response.text and 'id="l-501"' not in response.text


def test_status_fragment_for_htmx(web: TestClient, api: TestClient) -> None:
    run_id = _run(api)
    response = web.get(f"/task-runs/{run_id}", headers={"HX-Request": "true"})
    assert response.template.name == "run_detail/_status.html"
    assert '<div id="run-status"' in response.text and "<html" not in response.text


def test_unknown_run_is_a_404_page(web: TestClient) -> None:
    response = web.get("/task-runs/999")
    assert response.status_code == 404 and response.template.name == "error.html"


def test_actions_follow_status_and_role(login: Login, api: TestClient, web_engine: Engine) -> None:
    run_id = _run(api)
    viewer, operator = login("viewer"), login("operator")

    def actions(client: TestClient) -> list[str]:
        return [a.name for a in client.get(f"/task-runs/{run_id}").context["view"].actions]

    assert actions(viewer) == []
    assert actions(operator) == ["kill"]
    _move(web_engine, run_id, RunStatus.TRIGGER, RunStatus.RUNNING, agent="a1")
    assert actions(operator) == ["pause", "kill"]
    _move(web_engine, run_id, RunStatus.PAUSED)
    assert actions(operator) == ["resume", "kill"]
    _move(web_engine, run_id, RunStatus.FAILED)
    assert actions(operator)[0] == "mark-success"
    assert "Mark success" in operator.get(f"/task-runs/{run_id}").text
    assert "Mark success" not in viewer.get(f"/task-runs/{run_id}").text


def test_kill_goes_through_the_api_and_redraws_the_status(login: Login, api: TestClient) -> None:
    run_id = _run(api)
    operator = login("operator")
    refused = operator.post(f"/task-runs/{run_id}/kill", headers={"X-CSRF-Token": "nope"})
    assert refused.status_code == 403
    response = operator.post(f"/task-runs/{run_id}/kill")
    assert response.template.name == "run_detail/_status.html"
    assert response.context["view"].run.status == "TERMINATED"
    assert json.loads(response.headers["HX-Trigger"]) == {"toast": "Stop requested"}
    again = operator.post(f"/task-runs/{run_id}/kill")  # the API's refusal becomes the toast
    assert "already ended" in json.loads(again.headers["HX-Trigger"])["toast"]


def test_a_viewer_cannot_act(login: Login, api: TestClient) -> None:
    run_id = _run(api)
    viewer = login("viewer")
    response = viewer.post(f"/task-runs/{run_id}/kill")
    assert "operator" in json.loads(response.headers["HX-Trigger"])["toast"]
    assert response.context["view"].run.status == "ACTIVE"


def test_log_pages_tabs_search_and_download(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    run_id = _run(api)
    _move(web_engine, run_id, RunStatus.TRIGGER, RunStatus.RUNNING, agent="a1")
    _move(web_engine, run_id, RunStatus.SUCCESS)
    _log(
        web_engine,
        run_id,
        "".join(f"row {i}{' ERROR' if i % 250 == 0 else ''}\n" for i in range(1, 1201)),
    )
    page = web.get(f"/task-runs/{run_id}/log?stream=stdout&page=3")
    assert page.template.name == "run_detail/_log.html"
    log = page.context["log"]
    assert log.page.first_line == 1001 and log.page.lines[-1] == "row 1200" and log.pages == 3
    stderr = web.get(f"/task-runs/{run_id}/log?stream=stderr").context["log"]
    assert stderr.stream == "stderr" and stderr.page.total_lines == 0
    found = web.get(f"/task-runs/{run_id}/log/search?stream=stdout&q=error").json()
    assert found == {"lines": [250, 500, 750, 1000], "total": 4, "scanned": 1200}
    download = web.get(f"/task-runs/{run_id}/log/download?stream=stdout")
    assert download.text.startswith("row 1\nrow 2\n") and download.text.endswith("row 1200\n")
    assert "attachment" in download.headers["content-disposition"]


def test_running_run_shows_its_last_page_live(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    run_id = _run(api)
    _move(web_engine, run_id, RunStatus.TRIGGER, RunStatus.RUNNING, agent="a1")
    _log(web_engine, run_id, "".join(f"n{i}\n" for i in range(1, 601)) + "partial")
    log = web.get(f"/task-runs/{run_id}").context["log"]
    assert log.live and log.page.page == 2 and log.page.lines[-1] == "partial"
    assert log.open_end == {"stdout": True, "stderr": False}
    assert log.sizes["stdout"] == len("".join(f"n{i}\n" for i in range(1, 601))) + 7


def test_stream_sends_new_output_and_status(
    web: TestClient, api: TestClient, web_app: FastAPI, web_engine: Engine
) -> None:
    web_app.state.sse_lifetime = 1.5
    run_id = _run(api)
    _move(web_engine, run_id, RunStatus.TRIGGER, RunStatus.RUNNING, agent="a1")
    _log(web_engine, run_id, "before\n")
    page = web.get(f"/task-runs/{run_id}")
    version, size = page.context["view"].version, page.context["log"].sizes["stdout"]
    body: list[str] = []
    url = f"/task-runs/{run_id}/events?attempt=1&out={size}&err=0&v={version}"
    reader = threading.Thread(target=lambda: body.append(web.get(url).text))
    reader.start()
    wait_for(lambda: web_app.state.events.listening, timeout=5)
    _log(web_engine, run_id, "héllo ")
    _log(web_engine, run_id, "world\n")
    _move(web_engine, run_id, RunStatus.SUCCESS, exit_code=0)
    reader.join(timeout=10)
    events = [block for block in body[0].split("\n\n") if block.startswith("event:")]
    logs = [json.loads(b.split("data: ", 1)[1]) for b in events if b.startswith("event: log")]
    assert "".join(item["text"] for item in logs) == "héllo world\n"
    assert any(
        b.startswith("event: status") and 'hx-swap-oob="outerHTML"' in b and "SUCCESS" in b
        for b in events
    )
    assert "before" not in body[0]  # the page had it already


def test_stream_resumes_from_last_event_id(
    web: TestClient, api: TestClient, web_app: FastAPI, web_engine: Engine
) -> None:
    web_app.state.sse_lifetime = 8.0  # room for a loaded machine: the backlog comes first
    run_id = _run(api)
    _log(web_engine, run_id, "abc\ndef\n")
    text = web.get(f"/task-runs/{run_id}/events?v=99", headers={"Last-Event-ID": "1:4:0"}).text
    assert '"text": "def\\n"' in text
    assert "event: status" in text  # v=99 is not what the run has: the status is redrawn


def test_timeline_marks_done_current_failed_and_future() -> None:
    at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def event(status: str, seconds: int, attempt: int = 1) -> RunEventPublic:
        return RunEventPublic(
            status=status, at=at + timedelta(seconds=seconds), detail="", attempt=attempt
        )

    going = timeline(
        [event("ACTIVE", 0), event("TRIGGER", 2), event("RUNNING", 5)],
        "RUNNING",
        1,
        at + timedelta(seconds=65),
    )
    assert [(s.status, s.state, s.spent) for s in going] == [
        ("ACTIVE", "done", 2.0),
        ("TRIGGER", "done", 3.0),
        ("RUNNING", "current", 60.0),
        ("END", "future", None),
    ]
    waiting = timeline([event("ACTIVE", 0)], "ACTIVE", 1, at)
    assert [s.status for s in waiting if s.state == "future"] == [
        "TRIGGER",
        "STARTED",
        "RUNNING",
        "END",
    ]
    failed = timeline(
        [
            event("ACTIVE", 0),
            event("FAILED", 1),
            event("ACTIVE", 3, 2),
            event("TRIGGER", 4, 2),
            event("FAILED", 9, 2),
        ],
        "FAILED",
        2,
        at,
    )
    assert [(s.status, s.state) for s in failed] == [
        ("ACTIVE", "done"),
        ("TRIGGER", "done"),
        ("FAILED", "failed"),
    ]


def test_earlier_attempts_have_their_own_timeline_and_log(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    run_id = _run(api)
    _move(web_engine, run_id, RunStatus.TRIGGER, RunStatus.RUNNING, agent="a1")
    _log(web_engine, run_id, "first try\n")
    _move(web_engine, run_id, RunStatus.FAILED, reason="exit code 1")
    with session_scope(web_engine) as session:
        run = get_run(session, run_id, lock=True)
        move(session, run, RunStatus.ACTIVE, at=datetime.now(UTC))  # attempt 2
    latest = web.get(f"/task-runs/{run_id}")
    assert latest.context["view"].attempt == 2 and latest.context["view"].current
    assert latest.context["view"].attempts == [(1, "FAILED"), (2, "ACTIVE")]
    assert "sse-connect" in latest.text
    first = web.get(f"/task-runs/{run_id}?attempt=1")
    view = first.context["view"]
    assert view.attempt == 1 and not view.current
    assert [(s.status, s.state) for s in view.steps][-1] == ("FAILED", "failed")
    assert first.context["log"].page.lines == ["first try"]
    assert "sse-connect" not in first.text and "an earlier try" in first.text
