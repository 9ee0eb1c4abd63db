"""Storing an agent's batch of reports, one transaction per batch: log chunks, output files
and manifests, and state changes through the injected report sink (heartbeats are written
for the whole fleet at once, app/hub/heartbeats.py; one that changes the agent's health
comes here too, to be stored in order with the reports around it). Frames that
are not this agent's to send (another agent's run, a settled attempt) are refused and
counted, never stored. Returns the acks of the attempts the batch ended."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.clock import Clock
from app.db.engine import session_scope
from app.db.logs import stored_sizes
from app.db.tables import Agent, Run, RunOutput
from app.domain.agent_identity import FrameKind, RunFacts, frame_refusal
from app.domain.states import ON_AGENT
from app.hub.connection import AgentConnection, Inbound
from app.hub.fleet import connected_status, reported_resources
from app.hub.heartbeats import HeartbeatBook
from app.hub.log_masking import LogMasker
from app.hub.output_store import OutputStore, stored_counts
from app.protocol import frames as p
from app.protocol.frames import ENDINGS
from app.protocol.output_names import UnsafeName

log = logging.getLogger("almanac.hub")

_Item = p.StateChange | p.Heartbeat | p.OutputManifest | tuple[p.FrameHeader, bytes]


class ReportSink(Protocol):
    """Applies one state change an agent reported; True when it ended the run."""

    def __call__(
        self, session: Session, change: p.StateChange, *, agent: str, now: datetime
    ) -> bool: ...


class ReportStore:
    """Runs in a worker thread; batches of several agents are stored at once."""

    def __init__(
        self, engine: Engine, clock: Clock, reports: ReportSink, beats: HeartbeatBook
    ) -> None:
        self.engine = engine
        self.beats = beats
        self.clock = clock
        self.reports = reports
        # Frames not taken (another agent's run, a settled attempt), by kind: never stored.
        self.refused_frames: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self.masker = LogMasker()  # secrets are masked before any byte is stored

    def store(self, connection: AgentConnection, batch: list[Inbound]) -> tuple[list[p.Ack], bool]:
        """Store a batch; returns the acks and whether a run ended."""
        agent = connection.name
        now = self.clock.now()
        finals: list[p.StateChange] = []  # the agent keeps their spools until our ack
        ended = False
        items = [self._decoded(connection, item) for item in batch]
        with session_scope(self.engine) as session:
            runs = _preload_runs(session, items)
            for item in items:
                if item is None:
                    continue
                if isinstance(item, p.Heartbeat):
                    _heartbeat(session, agent, item, now)
                    continue
                if not self._taken(session, connection, runs.get(_ref(item)[0]), item):
                    continue
                if isinstance(item, tuple):
                    self._store_frame(session, connection.outputs, runs, *item, now=now)
                elif isinstance(item, p.OutputManifest):
                    connection.outputs.complete(session, item, now=now)
                else:
                    ended = self.reports(session, item, agent=agent, now=now) or ended
                    if item.status in ENDINGS:
                        self.masker.flush(session, item.run_id, item.attempt, now)
                        finals.append(item)
            session.flush()
            acks = _acks(session, finals)
        for item in items:
            if isinstance(item, p.Heartbeat):
                self.beats.written(connection, item)
        return acks, ended

    def _store_frame(
        self,
        session: Session,
        outputs: OutputStore,
        runs: dict[int, Run],
        header: p.FrameHeader,
        data: bytes,
        *,
        now: datetime,
    ) -> None:
        if isinstance(header, p.LogHeader):
            run = runs.get(header.run_id)
            if run is not None:  # taken frames are of known runs (received at `now`)
                self.masker.store(session, run, header, data, now)
            return
        try:
            outputs.write(header, data)
        except (UnsafeName, OSError) as exc:
            # Never stored, so never counted: the agent keeps the file and tells again later.
            log.warning("run %s: output chunk of %r refused: %s", header.run_id, header.name, exc)

    def _decoded(self, connection: AgentConnection, item: Inbound) -> _Item | None:
        if not isinstance(item, bytes):
            return item
        try:
            return p.decode_frame(item)
        except ValueError as exc:
            self._count_refusal(connection, 0, 0, "frame", f"malformed binary frame: {exc}")
            return None

    def _taken(
        self, session: Session, connection: AgentConnection, run: Run | None, item: _Item
    ) -> bool:
        """Whether a frame is this agent's to send (see agent_identity.frame_refusal); a
        refusal is logged once per attempt and kind, counted, and never stored."""
        kind = _kind(item)
        run_id, attempt = _ref(item)
        refusal = frame_refusal(run_facts(run), agent=connection.name, attempt=attempt, kind=kind)
        if (
            refusal is None
            and run is not None
            and isinstance(item, tuple)
            and isinstance(item[0], p.OutputHeader)
            and run.status not in ON_AGENT
            and _output_stored(session, item[0])
        ):
            refusal = f"output {item[0].name!r} of run {run.id} is stored already"
        if refusal is None:
            return True
        self._count_refusal(connection, run_id, attempt, kind, refusal)
        return False

    def _count_refusal(
        self, connection: AgentConnection, run_id: int, attempt: int, kind: str, reason: str
    ) -> None:
        with self._count_lock:
            self.refused_frames[kind] += 1
            first = (run_id, attempt, kind) not in connection.refused
            connection.refused.add((run_id, attempt, kind))
        if first:
            log.warning("agent %s: %s frame refused: %s", connection.name, kind, reason)


def run_facts(run: Run | None) -> RunFacts | None:
    """What the identity rules (agent_identity) need to know of a run row."""
    if run is None:
        return None
    return RunFacts(
        run_id=run.id or 0,
        agent=run.agent,
        attempt=run.attempt,
        status=run.status,
        agent_ended_attempt=run.agent_ended_attempt,
    )


def _ref(item: _Item) -> tuple[int, int]:
    """(run id, attempt) an item is about ((0, 0) for a heartbeat)."""
    if isinstance(item, tuple):
        return item[0].run_id, item[0].attempt
    if isinstance(item, p.Heartbeat):
        return 0, 0
    return item.run_id, item.attempt


def _kind(item: _Item) -> FrameKind:
    if isinstance(item, tuple):
        return "log" if isinstance(item[0], p.LogHeader) else "output"
    return "manifest" if isinstance(item, p.OutputManifest) else "state"


def _output_stored(session: Session, header: p.OutputHeader) -> bool:
    """A file with its row is complete and checked: no byte may be added to it."""
    return (
        session.exec(
            select(RunOutput.id).where(
                RunOutput.run_id == header.run_id,
                RunOutput.attempt == header.attempt,
                RunOutput.name == header.name,
            )
        ).first()
        is not None
    )


def _preload_runs(session: Session, items: list[_Item | None]) -> dict[int, Run]:
    """One query (and row lock) for every run the batch reports a state of, one more for
    the runs it has only bytes or manifests for, instead of one each. The caller holds on
    to the rows until it is done: unchanged rows would otherwise leave the session's
    identity map, and each would be loaded again by its own query."""
    states = {item.run_id for item in items if isinstance(item, p.StateChange)}
    others = {
        _ref(item)[0]
        for item in items
        if item is not None and not isinstance(item, p.StateChange | p.Heartbeat)
    }
    others -= states
    runs: dict[int, Run] = {}
    if states:
        stmt = select(Run).where(col(Run.id).in_(states)).with_for_update()
        runs.update((run.id or 0, run) for run in session.exec(stmt).all())
    if others:
        runs.update(
            (run.id or 0, run)
            for run in session.exec(select(Run).where(col(Run.id).in_(others))).all()
        )
    return runs


def _heartbeat(session: Session, name: str, beat: p.Heartbeat, now: datetime) -> None:
    """A beat that changed the agent's health, stored with its reports (heartbeats.py)."""
    agent = session.exec(select(Agent).where(Agent.name == name)).first()
    if agent is None:
        return
    agent.last_heartbeat = now
    if agent.status == "offline":
        agent.status = connected_status(agent)
    if beat.resources:
        agent.resources = reported_resources(agent, beat.resources)


def _acks(session: Session, finals: list[p.StateChange]) -> list[p.Ack]:
    """What is stored of each ended attempt (logs, files), for all of them in two queries."""
    run_ids = {change.run_id for change in finals}
    sizes = stored_sizes(session, run_ids)
    counts = stored_counts(session, run_ids)
    return [
        p.Ack(
            run_id=change.run_id,
            attempt=change.attempt,
            seq=change.seq,
            stdout=sizes.get((change.run_id, change.attempt, "stdout"), 0),
            stderr=sizes.get((change.run_id, change.attempt, "stderr"), 0),
            done=True,
            outputs=counts.get((change.run_id, change.attempt), 0),
        )
        for change in finals
    ]
