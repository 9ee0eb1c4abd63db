"""Agent identity: a token is bound to one agent name, one live connection per name, an
agent reports only on what it was dispatched, and a revoked token's connection closes.

A real server; the legitimate agents are real `almanac agent` processes, the attacker (and
the agents whose timing the test must decide) speak the protocol by hand over a real
WebSocket.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from sqlmodel import Session
from support import LiveServer, start_live_server, wait_for
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from app.db.tables import AgentToken
from app.hub.hub import AgentHub
from app.protocol import frames as p

REPO = Path(__file__).resolve().parents[2]


class AgentProc:
    """`almanac agent` as a subprocess, its output in a file."""

    def __init__(self, url: str, token: str, name: str, data_dir: Path, log: Path) -> None:
        self.log = log
        self._out: IO[bytes] = open(log, "ab")  # closed in stop()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "agent",
                "--server",
                url,
                "--token",
                token,
                "--name",
                name,
                "--data-dir",
                str(data_dir),
            ],
            cwd=REPO,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGCONT)  # a stopped one cannot die otherwise
            self.popen.kill()
            self.popen.wait(timeout=10)
        self._out.close()


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.live: LiveServer = start_live_server(tmp_path / "server", local_agent=False)
        self.agents: list[AgentProc] = []

    @property
    def hub(self) -> AgentHub:
        hub = self.live.server.config.app.state.context.hub
        assert isinstance(hub, AgentHub)
        return hub

    def http(self) -> httpx.Client:
        return self.live.client()

    def token(self, name: str, **body: Any) -> tuple[int, str]:
        with self.http() as http:
            created = http.post("/agents/tokens", json={"name": name, **body})
        assert created.status_code == 201, created.text
        return int(created.json()["id"]), str(created.json()["token"])

    def start_agent(
        self, name: str, token: str, data_dir: str | None = None, wait: bool = True
    ) -> AgentProc:
        folder = data_dir or f"agent-{name}-{len(self.agents)}"
        agent = AgentProc(
            self.live.url, token, name, self.tmp_path / folder, self.tmp_path / f"{folder}.log"
        )
        self.agents.append(agent)
        if wait:
            wait_for(lambda: name in self.hub.connections, timeout=30)
        return agent

    def run_on(self, name: str, command: str) -> int:
        with self.http() as http:
            task = http.post(
                "/tasks",
                json={"name": f"t-{time.monotonic_ns()}", "command": command, "target": name},
            )
            assert task.status_code == 201, task.text
            return int(http.post(f"/tasks/{task.json()['tid']}/run").json()["id"])

    def run(self, run_id: int) -> dict[str, Any]:
        with self.http() as http:
            return dict(http.get(f"/runs/{run_id}").json())

    def wait_status(self, run_id: int, status: str) -> dict[str, Any]:
        return dict(wait_for(lambda: (r := self.run(run_id))["status"] == status and r, timeout=30))

    def lines(self, run_id: int) -> list[str]:
        with self.http() as http:
            return list(http.get(f"/runs/{run_id}/logs").json()["lines"])

    def outputs(self, run_id: int) -> list[str]:
        with self.http() as http:
            return [f["name"] for f in http.get(f"/runs/{run_id}/outputs").json()["outputs"]]

    def audit(self, action: str) -> list[dict[str, Any]]:
        with self.http() as http:
            return list(http.get("/audit", params={"action": action}).json()["items"])

    def refused(self, kind: str) -> float:
        text = httpx.get(
            self.live.url + "/metrics",
            timeout=30,
            headers={"Authorization": f"Bearer {self.live.token}"},
        ).text
        found = re.search(
            rf'^almanac_agent_frames_refused_total{{kind="{kind}"}} (\S+)$', text, re.MULTILINE
        )
        return float(found.group(1)) if found else 0.0

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        self.live.stop()
        self.live.engine.dispose()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = World(tmp_path)
    try:
        yield built
    finally:
        built.close()


def hello(name: str, *, session: str = "", runs: list[p.HeldRun] | None = None) -> str:
    return p.Hello(
        name=name, version="test", resources={"docker": False}, runs=runs or [], session=session
    ).model_dump_json()


@contextmanager
def dial(live: LiveServer, token: str) -> Iterator[ClientConnection]:
    url = live.url.replace("http://", "ws://") + "/api/v1/agents/connect"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None) as ws:
        yield ws


def welcome_of(ws: ClientConnection) -> p.Welcome:
    message = p.parse_server_message(str(ws.recv(timeout=10)))
    assert isinstance(message, p.Welcome)
    return message


def refusal_of(ws: ClientConnection) -> tuple[int, str]:
    """The close code and reason of a connection the server refuses after the hello."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frame = ws.recv(timeout=10)
            assert not (isinstance(frame, str) and '"welcome"' in frame), "it was let in"
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def log_frame(run_id: int, offset: int, data: bytes, attempt: int = 1) -> bytes:
    return p.encode_frame(
        p.LogHeader(run_id=run_id, attempt=attempt, stream="stdout", offset=offset), data
    )


def forge(ws: ClientConnection, run_id: int, status: str) -> None:
    """Everything an agent can say about a run: log bytes overlapping what is stored and
    going past it, a planted output file with its manifest, and a final state."""
    planted = b"planted by an impostor\n"
    ws.send(log_frame(run_id, 0, b"started\n" + b"FORGED\n" * 4))
    ws.send(
        p.encode_frame(p.OutputHeader(run_id=run_id, attempt=1, name="evil.txt", offset=0), planted)
    )
    files = [
        p.OutputFile(name="evil.txt", size=len(planted), sha256=hashlib.sha256(planted).hexdigest())
    ]
    ws.send(p.OutputManifest(run_id=run_id, attempt=1, files=files).model_dump_json())
    ws.send(
        p.StateChange(
            run_id=run_id, attempt=1, seq=50, status=status, at=datetime.now(UTC), exit_code=0
        ).model_dump_json()
    )


def refusals_counted(world: World, before: dict[str, float]) -> bool:
    return all(world.refused(kind) > before[kind] for kind in before)


KINDS = ("log", "output", "manifest", "state")


def waits_for_its_agent(world: World, run_id: int, name: str) -> None:
    """The run stays ACTIVE, waiting for an agent that is no longer connected."""

    def waiting() -> bool:
        run = world.run(run_id)
        assert run["status"] == "ACTIVE", run
        return f"waiting for agent {name} to be online" in str(run["waiting_for"])

    try:
        wait_for(waiting, timeout=20)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {world.run(run_id)}") from exc


# ---- 1: a token is bound to one agent name -------------------------------------------------
def test_an_impostor_token_cannot_take_another_agents_name(world: World) -> None:
    _, vm_token = world.token("vm")
    world.start_agent("vm", vm_token)
    real = world.hub.connections["vm"]
    _, attacker_token = world.token("attacker-host")

    with dial(world.live, attacker_token) as ws:
        ws.send(hello("vm"))
        code, reason = refusal_of(ws)
    assert code == 1008
    assert "bound to agent 'attacker-host'" in reason

    assert world.hub.connections["vm"] is real  # the real agent keeps its connection
    (row,) = [r for r in world.audit("agent.connection_refused") if r["target_id"] == "vm"]
    assert row["after"]["token_name"] == "attacker-host"
    assert "bound to agent 'attacker-host', not 'vm'" in row["detail"]
    with world.http() as http:
        listed = {t["name"]: t["agent"] for t in http.get("/agents/tokens").json()}
    assert listed == {"vm": "vm", "attacker-host": "attacker-host"}

    run_id = world.run_on("vm", "echo from-the-real-vm")  # and its work
    assert world.wait_status(run_id, "SUCCESS")["agent"] == "vm"
    assert world.lines(run_id) == ["from-the-real-vm"]
    assert world.hub.connections["vm"] is real


def test_a_token_may_be_named_apart_from_the_agent_it_is_for(world: World) -> None:
    _, token = world.token("rack 4 token", agent="rack4")
    with world.http() as http:
        (row,) = http.get("/agents/tokens").json()
        refused = http.post("/agents/tokens", json={"name": "x", "agent": ""})
    assert (row["name"], row["agent"]) == ("rack 4 token", "rack4")
    assert refused.status_code == 422 and "agent" in refused.text
    with dial(world.live, token) as ws:
        ws.send(hello("rack4"))
        assert welcome_of(ws).heartbeat_interval > 0


# ---- 1: one live connection per name, no flapping, reconnects get in ----------------------
def test_a_second_live_connection_under_a_name_is_refused_without_flapping(
    world: World,
) -> None:
    _, token = world.token("w1")
    world.start_agent("w1", token)
    first = world.hub.connections["w1"]
    second = world.start_agent("w1", token, wait=False)  # same name and token, other host

    wait_for(
        lambda: any(r["target_id"] == "w1" for r in world.audit("agent.connection_refused")),
        timeout=30,
    )
    deadline = time.monotonic() + 6  # the newcomer redials meanwhile: it never gets in
    while time.monotonic() < deadline:
        assert world.hub.connections.get("w1") is first
        time.sleep(0.05)
    assert second.popen.poll() is None  # still trying, but refused each time
    refused = [r for r in world.audit("agent.connection_refused") if r["target_id"] == "w1"]
    assert len(refused) == 1  # the same refusal is audited once a minute, not per redial
    assert "'w1' is already connected" in refused[0]["detail"]
    assert world.audit("agent.connection_replaced") == []

    run_id = world.run_on("w1", "echo still-served")
    world.wait_status(run_id, "SUCCESS")
    assert world.hub.connections.get("w1") is first


def test_the_same_agent_process_reconnecting_replaces_its_half_dead_connection(
    world: World,
) -> None:
    _, token = world.token("rc")
    with dial(world.live, token) as old:
        old.send(hello("rc", session="life-1"))
        welcome_of(old)
        # The agent lost this socket (it never closed on our side) and dials again at once.
        with dial(world.live, token) as new:
            new.send(hello("rc", session="life-1"))
            welcome_of(new)
            with pytest.raises(ConnectionClosed):
                old.recv(timeout=10)  # the half-dead one is let go
            assert world.hub.connections["rc"].hello.session == "life-1"

            # A new process (another session) waits until the live one has gone silent.
            with dial(world.live, token) as other:
                other.send(hello("rc", session="life-2"))
                code, reason = refusal_of(other)
            assert code == 1008 and "already connected" in reason

            def gets_in() -> bool:
                with dial(world.live, token) as later:
                    later.send(hello("rc", session="life-2"))
                    try:
                        welcome_of(later)
                    except ConnectionClosed:
                        return False
                    return True

            wait_for(gets_in, timeout=20, interval=0.5)  # `new` sent nothing for 3 beats
    replaced = world.audit("agent.connection_replaced")
    assert [r["target_id"] for r in replaced] == ["rc", "rc"]
    assert any("silent" in r["detail"] for r in replaced)


def test_a_restarted_agent_gets_in_past_its_half_dead_connection(world: World) -> None:
    _, token = world.token("phoenix")
    old = world.start_agent("phoenix", token, data_dir="phoenix")
    first = world.hub.connections["phoenix"]
    old.popen.send_signal(signal.SIGSTOP)  # its socket stays open, it says nothing more
    world.start_agent("phoenix", token, data_dir="phoenix", wait=False)
    wait_for(lambda: world.hub.connections.get("phoenix") not in (None, first), timeout=30)
    run_id = world.run_on("phoenix", "echo reborn")
    world.wait_status(run_id, "SUCCESS")
    assert world.lines(run_id) == ["reborn"]


# ---- 5: an agent reports only on what it was dispatched ------------------------------------
def test_a_foreign_run_in_hello_gets_no_offsets_and_its_frames_are_refused(
    world: World,
) -> None:
    _, vm_token = world.token("vm")
    world.start_agent("vm", vm_token)
    run_id = world.run_on("vm", 'printf "line1\\nline2\\n"')
    world.wait_status(run_id, "SUCCESS")
    assert (world.lines(run_id), world.outputs(run_id)) == (["line1", "line2"], [])

    _, token = world.token("fresh-host")
    before = {kind: world.refused(kind) for kind in KINDS}
    held = [p.HeldRun(run_id=run_id, attempt=1, status="RUNNING", seq=2)]
    with dial(world.live, token) as ws:
        ws.send(hello("fresh-host", runs=held))
        (resume,) = welcome_of(ws).resume
        assert resume.abandon is True
        assert (resume.stdout, resume.stderr, resume.seq, resume.outputs) == (0, 0, 0, {})
        forge(ws, run_id, "FAILED")
        wait_for(lambda: refusals_counted(world, before), timeout=20)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1)  # and no ack telling what is stored

    run = world.run(run_id)
    assert (run["status"], run["agent"]) == ("SUCCESS", "vm")
    assert world.lines(run_id) == ["line1", "line2"]
    assert world.outputs(run_id) == []
    assert not (world.live.settings.data_dir / "outputs" / str(run_id)).exists()


@pytest.fixture
def gate() -> Iterator[Path]:
    """A file a run waits for, where a run as any user can see it."""
    folder = Path(tempfile.mkdtemp(prefix="almanac-gate-"))
    folder.chmod(0o755)
    try:
        yield folder / "gate"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_frames_about_a_run_dispatched_to_another_agent_are_refused(
    world: World, gate: Path
) -> None:
    _, vm_token = world.token("vm")
    world.start_agent("vm", vm_token)
    run_id = world.run_on(
        "vm", f"echo started; while [ ! -e {gate} ]; do sleep 0.02; done; echo finished"
    )
    world.wait_status(run_id, "RUNNING")
    wait_for(lambda: world.lines(run_id) == ["started"], timeout=20)

    _, token = world.token("attacker-host")
    before = {kind: world.refused(kind) for kind in KINDS}
    with dial(world.live, token) as ws:
        ws.send(hello("attacker-host"))
        welcome_of(ws)
        forge(ws, run_id, "SUCCESS")
        wait_for(lambda: refusals_counted(world, before), timeout=20)
    assert world.run(run_id)["status"] == "RUNNING"
    assert world.lines(run_id) == ["started"]

    gate.touch()
    run = world.wait_status(run_id, "SUCCESS")
    assert (run["agent"], run["exit_code"]) == ("vm", 0)
    assert world.lines(run_id) == ["started", "finished"]
    assert world.outputs(run_id) == []


# ---- 11: revoking a token closes its connection --------------------------------------------
def test_revoking_a_token_closes_its_live_connection_and_no_work_arrives(world: World) -> None:
    token_id, token = world.token("rv")
    with dial(world.live, token) as ws:
        ws.send(hello("rv"))
        welcome_of(ws)
        assert world.hub.connections["rv"].token_id == token_id
        with world.http() as http:
            assert http.delete(f"/agents/tokens/{token_id}").status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frame = ws.recv(timeout=5)  # far less than any heartbeat timeout
                assert '"start' not in str(frame)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "agent token revoked")
    assert "rv" not in world.hub.connections

    run_id = world.run_on("rv", "echo never")
    waits_for_its_agent(world, run_id, "rv")
    with pytest.raises(InvalidStatus), dial(world.live, token) as ws:
        ws.send(hello("rv"))


def test_a_token_revoked_elsewhere_or_expired_is_dropped_at_a_heartbeat(world: World) -> None:
    token_id, token = world.token("ex", expires_in_days=1)
    agent = world.start_agent("ex", token)
    # As when its expiry comes, or another server revoked it: only the row says so.
    with Session(world.live.engine) as session:
        row = session.get(AgentToken, token_id)
        assert row is not None
        row.revoked_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    wait_for(lambda: "ex" not in world.hub.connections, timeout=10)  # heartbeats are 1 s
    run_id = world.run_on("ex", "echo never")
    waits_for_its_agent(world, run_id, "ex")
    assert agent.popen.poll() is None and "ex" not in world.hub.connections


def test_a_tokens_new_scope_binds_the_agent_holding_it(world: World) -> None:
    """An admin re-binds a token to another agent name: the connection under the old name
    closes at once and may not come back; the new name gets in with the same token."""
    token_id, token = world.token("shift", agent="old-host")
    with dial(world.live, token) as ws:
        ws.send(hello("old-host"))
        welcome_of(ws)
        with world.http() as http:
            changed = http.patch(f"/agents/tokens/{token_id}", json={"agent": "new-host"})
        assert changed.status_code == 200 and changed.json()["agent"] == "new-host"
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frame = ws.recv(timeout=5)  # far less than any heartbeat timeout
                assert '"start' not in str(frame)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1008,
            "agent token bound to another agent",
        )
    assert "old-host" not in world.hub.connections
    with dial(world.live, token) as ws:
        ws.send(hello("old-host"))
        code, reason = refusal_of(ws)
    assert code == 1008 and "bound to agent 'new-host', not 'old-host'" in reason
    run_id = world.run_on("old-host", "echo never")
    waits_for_its_agent(world, run_id, "old-host")
    with dial(world.live, token) as ws:
        ws.send(hello("new-host"))
        assert welcome_of(ws).heartbeat_interval > 0
    (row,) = world.audit("agent_token.scope")
    assert (row["before"]["agent"], row["after"]["agent"]) == ("old-host", "new-host")


def test_a_token_rebound_elsewhere_drops_its_agent_at_a_heartbeat(world: World) -> None:
    """As when another replica changed the scope: only the row says so."""
    token_id, token = world.token("moved", agent="moved")
    agent = world.start_agent("moved", token)
    with Session(world.live.engine) as session:
        row = session.get(AgentToken, token_id)
        assert row is not None
        row.agent_name = "elsewhere"
        session.add(row)
        session.commit()
    wait_for(lambda: "moved" not in world.hub.connections, timeout=10)  # heartbeats are 1 s
    run_id = world.run_on("moved", "echo never")
    waits_for_its_agent(world, run_id, "moved")
    assert agent.popen.poll() is None and "moved" not in world.hub.connections
