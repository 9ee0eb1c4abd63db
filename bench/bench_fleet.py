"""Fleet: 1,000 connected agents on one real `almanac server` (SQLite, no built-in agent).

The agents are protocol-speaking clients in this process (real WebSockets to the real agent
route, the real frames: hello, heartbeats every 5 s, STARTED and RUNNING for each start), so
the server's cost is what is measured, not 1,000 agent processes'.

1. Connect them all; then `--idle` seconds of heartbeats: the server's CPU share.
2. A burst of 10,000 ACTIVE runs (committed in one transaction, dispatch woken): the time
   until every start has reached its agent, and until every run is RUNNING in the database.

    .venv/bin/python bench/bench_fleet.py [--agents 1000] [--burst 10000] [--idle 60]
        [--profile]

Goals (issue 21): the server spends under 20 % of a core on 1,000 agents' heartbeats; the
10,000-run burst reaches the 1,000 agents in under 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
from benchlib import (
    Sampler,
    free_port,
    goal,
    load,
    login,
    machine,
    print_profile,
    start_server,
    stop,
)
from sqlalchemy import insert, text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from app.bootstrap import upgrade_database
from app.db.engine import make_engine, session_scope
from app.db.tables import AgentToken, Run
from app.hub.fake_agent import CONNECT_PATH
from app.protocol import frames as p
from app.security import hash_token, new_token

HEARTBEAT = 5.0


class Client:
    """One agent as the server sees it: hello, heartbeats, STARTED+RUNNING for each start."""

    def __init__(self, name: str, token: str) -> None:
        self.name, self.token = name, token
        self.starts = 0
        self.last_start = 0.0
        self.socket: ClientConnection | None = None
        self.failures = 0
        self.error = ""

    async def run(self, uri: str, ready: asyncio.Event, everyone: list[Client]) -> None:
        """Stay connected, dialling again after a failed attempt (a busy server may let a
        handshake time out while a thousand arrive at once)."""
        while True:
            try:
                await self._connected(uri, ready, everyone)
                return
            except (OSError, TimeoutError, WebSocketException) as exc:
                self.failures += 1
                self.error = repr(exc)
                self.socket = None
                await asyncio.sleep(1 + (hash(self.name) % 100) / 50)

    async def _connected(self, uri: str, ready: asyncio.Event, everyone: list[Client]) -> None:
        async with connect(
            uri,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            max_size=None,
            open_timeout=120,
            ping_timeout=None,
        ) as socket:
            self.socket = socket
            hello = p.Hello(name=self.name, version="fleet", resources={"docker": False})
            await socket.send(hello.model_dump_json())
            welcome = json.loads(await socket.recv())
            assert welcome["type"] == "welcome", welcome
            if sum(1 for c in everyone if c.socket is not None) == len(everyone):
                ready.set()
            beats = asyncio.create_task(self._beat(socket))
            try:
                async for message in socket:
                    if isinstance(message, str):
                        await self._handle(socket, json.loads(message))
            finally:
                beats.cancel()

    async def _beat(self, socket: ClientConnection) -> None:
        await asyncio.sleep(HEARTBEAT * (hash(self.name) % 1000) / 1000)  # spread them out
        while True:
            await socket.send(p.Heartbeat().model_dump_json())
            await asyncio.sleep(HEARTBEAT)

    async def _handle(self, socket: ClientConnection, frame: dict[str, object]) -> None:
        if frame.get("type") not in ("start", "starts"):
            return
        runs = frame["runs"] if frame["type"] == "starts" else [frame]
        now = datetime.now(UTC)
        states = []
        for start in runs:  # type: ignore[attr-defined]
            for seq, status in ((1, "STARTED"), (2, "RUNNING")):
                change = p.StateChange(
                    run_id=start["run_id"],
                    attempt=start["attempt"],
                    seq=seq,
                    status=p.AgentState(status),
                    at=now,
                )
                states.append(change.model_dump_json())
        self.starts += len(runs)  # type: ignore[arg-type]
        self.last_start = time.monotonic()
        await socket.send(p.state_batch_frame(states))


async def _wake(base: str, token: str, agent: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(base_url=base, timeout=300) as http:
            await http.post(
                "/api/v1/adhoc",
                json={"command": "true", "agents": [agent]},
                headers={"Authorization": f"Bearer {token}"},
            )


def tokens(url: str, count: int) -> list[tuple[str, str]]:
    engine = make_engine(url)
    made = [(f"fleet-{n:04d}", new_token("alm_agent")) for n in range(count)]
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.execute(
            insert(AgentToken),
            [
                {"name": n, "agent_name": n, "token_hash": hash_token(t), "created_at": now}
                for n, t in made
            ],
        )
    engine.dispose()
    return made


def burst(url: str, count: int) -> float:
    """`count` ACTIVE runs of `true` in one transaction; returns when it committed."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    spec = {"command": "true", "target": None, "labels": {}, "env": {}, "task_name": None}
    rows = [
        {
            "status": "ACTIVE",
            "trigger_kind": "manual",
            "trigger_time": now,
            "spec": spec,
            "attempt": 1,
            "agent_seq": 0,
            "dispatches": 0,
            "ignore_upstreams": False,
            "params": {},
            "results": {},
            "instance": "default",
            "created_at": now,
            "updated_at": now,
        }
        for _ in range(count)
    ]
    with session_scope(engine) as session:
        session.execute(insert(Run), rows)
    committed = time.monotonic()
    engine.dispose()
    return committed


def running(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT count(*) FROM run WHERE status='RUNNING'"))
        value = int(found.scalar_one())
    engine.dispose()
    return value


async def scenario(args: argparse.Namespace, url: str, base: str, server_pid: int) -> bool:
    token = login(base)  # signing in (argon2) on a busy server is slow: once, up front
    made = tokens(url, args.agents)
    clients = [Client(name, token) for name, token in made]
    ready = asyncio.Event()
    uri = base.replace("http", "ws") + CONNECT_PATH
    began = time.monotonic()
    tasks = []
    for n, client in enumerate(clients):
        tasks.append(asyncio.create_task(client.run(uri, ready, clients)))
        if n % 50 == 49:
            await asyncio.sleep(0.05)  # dial in waves, as a fleet coming up does
    try:
        await asyncio.wait_for(ready.wait(), timeout=300)
    except TimeoutError:
        connected = sum(1 for c in clients if c.socket is not None)
        errors = {c.error for c in clients if c.error}
        print(
            f"NOT MET: only {connected} of {args.agents} agents connected in 300 s; "
            f"{sum(c.failures for c in clients)} failed attempts, e.g. {sorted(errors)[:3]}"
        )
        return False
    print(
        f"{args.agents:,} agents connected in {time.monotonic() - began:.1f} s "
        f"({sum(c.failures for c in clients)} attempts failed and were retried; {load()})"
    )
    await asyncio.sleep(HEARTBEAT)  # the welcome's burst of writes settles
    server = psutil.Process(server_pid)
    cpu_before, wall_before = sum(server.cpu_times()[:2]), time.monotonic()
    with Sampler(server_pid) as sampler:
        await asyncio.sleep(args.idle)
    cpu_used = sum(server.cpu_times()[:2]) - cpu_before
    wall = time.monotonic() - wall_before
    mean = sum(sampler.cpu) / max(1, len(sampler.cpu))
    print(
        f"  {args.idle:g} s of heartbeats: server {sampler.summary()}; "
        f"CPU time {cpu_used:.1f} s in {wall:.1f} s ({load()})"
    )
    met = goal("server CPU on the fleet's heartbeats", mean, 20, "% of a core", "see the profile")

    committed = await asyncio.to_thread(burst, url, args.burst)
    # Wake dispatch now (else its loop looks within a second): in the background, as a
    # server busy with the burst may answer late.
    waking = asyncio.create_task(_wake(base, token, clients[0].name))
    deadline = time.monotonic() + args.burst_timeout
    while time.monotonic() < deadline and sum(c.starts for c in clients) < args.burst:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    got = sum(c.starts for c in clients)
    reached = max(c.last_start for c in clients) - committed
    holders = sum(1 for c in clients if c.starts)
    print(
        f"burst of {args.burst:,}: {got:,} starts reached {holders:,} agents, the last "
        f"{reached:.2f} s after the commit ({load()})"
    )
    met &= got >= args.burst
    met &= goal("burst dispatched to the fleet", reached, 2, "s", "see the profile")
    while time.monotonic() < deadline and await asyncio.to_thread(running, url) < args.burst:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    print(f"  all RUNNING in the database {time.monotonic() - committed:.2f} s after the commit")
    waking.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--burst-timeout", type=float, default=120.0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; {load()}")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        url = f"sqlite:///{data / 'almanac.db'}"
        upgrade_database(url)
        port = free_port()
        profile = data / "server.prof" if args.profile else None
        server = start_server(
            data, port, local_agent=False, profile=profile, log=data / "server.log"
        )
        base = f"http://127.0.0.1:{port}"
        try:
            login(base, timeout=300)
            met = asyncio.run(scenario(args, url, base, server.pid))
        finally:
            stop(server)
        print("every goal met" if met else "a goal is NOT MET (above)")
        if profile is not None:
            print_profile(profile)


if __name__ == "__main__":
    main()
