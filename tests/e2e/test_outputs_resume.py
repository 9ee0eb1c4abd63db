"""An output file cut off by a dropped connection is completed from where the server stopped.

A real server; the agent side is spoken by hand over a real WebSocket, so the test decides
exactly where the connection drops (between two chunks of one file).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support import LiveServer, start_live_server, wait_for
from websockets.sync.client import ClientConnection, connect

from app.protocol import frames as p

NAME = "by-hand"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path / "data", local_agent=False)
    try:
        yield server
    finally:
        server.stop()
        server.engine.dispose()


@contextmanager
def dial(
    live: LiveServer, token: str, runs: list[p.HeldRun]
) -> Iterator[tuple[ClientConnection, p.Welcome]]:
    url = live.url.replace("http://", "ws://") + "/api/v1/agents/connect"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None) as ws:
        ws.send(
            p.Hello(
                name=NAME, version="test", resources={"docker": False}, runs=runs
            ).model_dump_json()
        )
        welcome = p.parse_server_message(str(ws.recv(timeout=10)))
        assert isinstance(welcome, p.Welcome)
        yield ws, welcome


def receive(ws: ClientConnection, kind: type[Any]) -> Any:
    while True:
        frame = ws.recv(timeout=20)
        if isinstance(frame, str):
            message = p.parse_server_message(frame)
            if isinstance(message, kind):
                return message


def state(run_id: int, seq: int, status: str, **extra: Any) -> str:
    return p.StateChange(
        run_id=run_id, attempt=1, seq=seq, status=status, at=datetime.now(UTC), **extra
    ).model_dump_json()


def chunk(run_id: int, offset: int, data: bytes) -> bytes:
    return p.encode_frame(
        p.OutputHeader(run_id=run_id, attempt=1, name="deep/data.bin", offset=offset), data
    )


def test_a_file_cut_off_by_a_dropped_connection_is_resumed_not_restarted(
    live: LiveServer,
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    half = len(data) // 2
    with live.client() as http:
        token = http.post("/agents/tokens", json={"name": NAME}).json()["token"]
        with dial(live, token, []) as (ws, _):
            task = http.post("/tasks", json={"name": "t", "command": "true", "target": NAME})
            run_id = int(http.post(f"/tasks/{task.json()['tid']}/run").json()["id"])
            start = receive(ws, p.StartRun)
            assert start.run_id == run_id
            ws.send(state(run_id, 1, "STARTED"))
            ws.send(state(run_id, 2, "RUNNING"))
            ws.send(chunk(run_id, 0, data[:half]))
        # Dropped: the server stores what arrived before it lets the connection go.

        held = [p.HeldRun(run_id=run_id, attempt=1, status="RUNNING", seq=2)]
        with dial(live, token, held) as (ws, welcome):
            (resume,) = welcome.resume
            assert (resume.seq, resume.outputs) == (2, {"deep/data.bin": half})
            ws.send(chunk(run_id, half - 100, data[half - 100 :]))  # overlapping: trimmed
            files = [
                p.OutputFile(
                    name="deep/data.bin", size=len(data), sha256=hashlib.sha256(data).hexdigest()
                )
            ]
            ws.send(p.OutputManifest(run_id=run_id, attempt=1, files=files).model_dump_json())
            ws.send(state(run_id, 3, "SUCCESS", exit_code=0))
            ack = receive(ws, p.Ack)
            assert (ack.done, ack.outputs, ack.seq) == (True, 1, 3)

        wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] == "SUCCESS")
        listing = http.get(f"/runs/{run_id}/outputs").json()["outputs"]
        assert [(f["name"], f["size"]) for f in listing] == [("deep/data.bin", len(data))]
        assert http.get(f"/runs/{run_id}/outputs/deep/data.bin").content == data
