"""`almanac integration ...` and `almanac alert ...` against a server and a local receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import Result
from support import LiveServer, wait_for

from app.alerts.senders import SIGNATURE_HEADER, signature

Cli = Callable[..., Result]


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The server this test process shares (tests/conftest.py): this test keeps to its own
    names."""
    return shared_agent_ready


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", got
    server.shutdown()
    server.server_close()


def test_set_up_an_alert_and_read_its_deliveries(
    almanac: Cli, agent_ready: LiveServer, receiver: Any
) -> None:
    url, got = receiver
    made = almanac(
        "integration",
        "create",
        "ops-hook",
        "--kind",
        "webhook",
        "--url",
        url,
        "--secret",
        "--json",
        input="cli-secret\n",
    )
    assert made.exit_code == 0, made.output
    integration = json.loads(made.stdout[made.stdout.index("{") :])
    assert integration["has_secret"] is True and "cli-secret" not in made.stdout
    assert almanac("integration", "test", str(integration["id"])).stdout.strip() == "sent"
    wait_for(lambda: len(got) == 1)
    task = json.loads(
        almanac("task", "create", "--name", "broken", "--command", "exit 2", "--json").stdout
    )
    rule = almanac(
        "alert",
        "create",
        "--events",
        "failed",
        "--integration",
        str(integration["id"]),
        "--task",
        str(task["tid"]),
    )
    assert rule.exit_code == 0 and "broken" in rule.stdout
    assert "ops-hook" in almanac("alert", "list").stdout
    with agent_ready.client() as http:
        run_id = http.post(f"/tasks/{task['tid']}/run").json()["id"]
    wait_for(lambda: len(got) == 2, timeout=60)
    headers, body = got[1]
    assert headers[SIGNATURE_HEADER] == signature("cli-secret", body)
    assert json.loads(body)["event"] == "failed"
    shown = wait_for(
        lambda: json.loads(almanac("alert", "deliveries", str(run_id), "--json").stdout) or None
    )
    assert shown[0]["event"] == "failed"
    used = almanac("integration", "delete", str(integration["id"]), "-y")
    assert used.exit_code == 1 and "used by alert rules" in used.output
