"""A dispatch the agent never acknowledges goes back to ACTIVE after the accept deadline, and the
run fails after three dispatches. The agent is a WebSocket client written here that says hello
and then ignores every `start` it is sent; the server is real."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import LiveServer, start_live_server, wait_for
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.protocol import frames as p

NAME = "deaf"


class DeafAgent:
    """Says hello, then reads and ignores everything; keeps the starts it was sent."""

    def __init__(self, live: LiveServer, token: str) -> None:
        self.starts: list[p.StartRun] = []
        self._url = live.url.replace("http://", "ws://") + "/api/v1/agents/connect"
        self._token = token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        with connect(
            self._url, additional_headers={"Authorization": f"Bearer {self._token}"}
        ) as ws:
            ws.send(
                p.Hello(name=NAME, version="test", resources={"docker": False}).model_dump_json()
            )
            while not self._stop.is_set():
                try:
                    frame = ws.recv(timeout=0.1)
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return
                message = p.parse_server_message(str(frame))
                if isinstance(message, p.StartRun):
                    self.starts.append(message)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path / "data", local_agent=False, accept_deadline_seconds=1)
    try:
        yield server
    finally:
        server.stop()
        server.engine.dispose()


def test_an_unacknowledged_start_is_dispatched_again_then_fails(live: LiveServer) -> None:
    with live.client() as http:
        token = http.post("/agents/tokens", json={"name": NAME}).json()["token"]
        agent = DeafAgent(live, token)
        try:
            wait_for(
                lambda: any(
                    a["name"] == NAME and a["connected"] for a in http.get("/agents").json()
                ),
                timeout=30,
            )
            task = http.post(
                "/tasks", json={"name": "never", "command": "true", "target": NAME}
            ).json()
            run_id = int(http.post(f"/tasks/{task['tid']}/run").json()["id"])
            run = wait_for(
                lambda: (r := http.get(f"/runs/{run_id}").json())["status"] == "FAILED" and r,
                timeout=30,
            )
        finally:
            agent.stop()
    assert run["reason"] == "not accepted by an agent after 3 dispatches"
    assert run["attempt"] == 1 and run["agent"] == NAME
    statuses = [e["status"] for e in run["events"]]
    assert statuses == ["ACTIVE", "TRIGGER", "ACTIVE", "TRIGGER", "ACTIVE", "TRIGGER", "FAILED"]
    back = [e["detail"] for e in run["events"] if e["status"] == "ACTIVE"][1:]
    assert back == [f"agent {NAME} did not acknowledge within 1s; dispatching again"] * 2
    assert [(s.run_id, s.attempt) for s in agent.starts] == [(run_id, 1)] * 3
