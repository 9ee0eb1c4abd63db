"""What a hello stores: the agent's row (labels, resources, last heartbeat), and for each
run it says it holds, where to resume it from, or that it must let go of it."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from app.db.engine import session_scope
from app.db.logs import stored_size
from app.db.tables import Agent, Run, RunEvent
from app.domain.agent_identity import frame_refusal
from app.domain.states import ON_AGENT
from app.hub.fleet import connected_status, reported_resources
from app.hub.output_store import OutputStore
from app.hub.report_store import run_facts
from app.protocol import frames as p
from app.protocol.frames import ENDINGS

log = logging.getLogger("almanac.hub")


def register(
    engine: Engine, hello: p.Hello, outputs: OutputStore, *, now: datetime
) -> tuple[list[p.Resume], list[tuple[int, int]]]:
    """The resume (or abandon) of each held run, and the (run id, attempt) still running on
    the agent that the server has ended: the hub tells it to kill those."""
    resume: list[p.Resume] = []
    stale: list[tuple[int, int]] = []
    with session_scope(engine) as session:
        agent = session.exec(select(Agent).where(Agent.name == hello.name)).first()
        if agent is None:
            agent = Agent(name=hello.name, created_at=now)
            session.add(agent)
        _apply_hello(agent, hello, now)
        for held in hello.runs:
            run = session.get(Run, held.run_id)
            refusal = frame_refusal(
                run_facts(run), agent=hello.name, attempt=held.attempt, kind="log"
            )
            if run is None or refusal is not None:
                # Not this agent's to report on (or ended without it): it stops the run
                # and lets go of it, and learns nothing of what is stored.
                if run is not None:
                    log.warning(
                        "agent %s holds run %s attempt %s: abandoned: %s",
                        hello.name,
                        held.run_id,
                        held.attempt,
                        refusal,
                    )
                    _note_late(session, run, held, hello.name, now)
                resume.append(p.Resume(run_id=held.run_id, attempt=held.attempt, abandon=True))
                continue
            resume.append(
                p.Resume(
                    run_id=held.run_id,
                    attempt=held.attempt,
                    stdout=stored_size(session, held.run_id, held.attempt, "stdout"),
                    stderr=stored_size(session, held.run_id, held.attempt, "stderr"),
                    seq=run.agent_seq,
                    outputs=outputs.sizes(held.run_id, held.attempt),
                )
            )
            if run.status not in ON_AGENT and held.status not in ENDINGS:
                stale.append((held.run_id, held.attempt))
    return resume, stale


def _note_late(session: Session, run: Run, held: p.HeldRun, agent: str, now: datetime) -> None:
    """The agent's own attempt, ended without it (declared lost, say): what it reports of
    the end is kept on the timeline only, once."""
    if run.agent != agent or run.attempt != held.attempt:
        return
    if held.status in ENDINGS and held.seq > run.agent_seq:
        run.agent_seq = held.seq
        session.add(
            RunEvent(
                run_id=run.id or 0,
                attempt=run.attempt,
                status=run.status,
                at=now,
                detail=f"agent reported {held.status} late; its output was not "
                "taken, the run had ended",
            )
        )


def _apply_hello(agent: Agent, hello: p.Hello, now: datetime) -> None:
    agent.status = connected_status(agent)
    agent.labels = hello.labels
    agent.version = hello.version
    agent.max_runs = hello.max_runs
    agent.resources = reported_resources(agent, hello.resources)
    agent.cpus = _int(hello.resources.get("cpus"))
    agent.memory = _int(hello.resources.get("memory_total"))
    gpus = hello.resources.get("gpus")
    agent.gpus = gpus if isinstance(gpus, list) else []
    agent.docker = bool(hello.resources.get("docker"))
    agent.last_heartbeat = now


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None
