"""Who may speak as an agent, and about which runs. Pure rules, no I/O.

- An agent token is bound to one agent name: a hello under another name is refused.
- One live connection per name. A newcomer replaces the live one only when it is the same
  agent process reconnecting (same session id) or the live one has gone silent (a half-dead
  socket after a dropped connection); otherwise the newcomer is refused, so two holders of a
  name never kick each other off.
- Log, output and state frames are taken only for the attempt dispatched to that agent
  (`run.agent`, `run.attempt`) while it runs, and, for logs and files, after it ended by the
  agent's own final state (it may still owe what it spooled). Nothing for any other run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from app.domain.states import ON_AGENT, RunStatus

# A live connection silent for this many heartbeat intervals counts as half-dead.
SILENT_INTERVALS = 3.0


def identity_refusal(bound_to: str | None, claimed: str) -> str | None:
    """Why a hello naming `claimed` is refused for a token bound to `bound_to` (None: fine)."""
    if bound_to is None:
        return "agent token is not bound to an agent name: create a new token for this agent"
    if bound_to != claimed:
        return f"agent token is bound to agent {bound_to!r}, not {claimed!r}"
    return None


@dataclass(frozen=True)
class LiveConnection:
    session: str  # the agent process's id for itself ("" when it sent none)
    last_seen: datetime  # when its last frame arrived
    peer: str


@dataclass(frozen=True)
class Admission:
    verdict: Literal["accept", "replace", "refuse"]
    reason: str = ""


def admit(
    name: str,
    live: LiveConnection | None,
    *,
    session: str,
    now: datetime,
    heartbeat_interval: float,
) -> Admission:
    """Whether a new connection under `name` gets in while `live` holds the name."""
    if live is None:
        return Admission("accept")
    if session and session == live.session:
        return Admission("replace", "the same agent process reconnected")
    silent = now - live.last_seen
    if silent > timedelta(seconds=heartbeat_interval * SILENT_INTERVALS):
        return Admission(
            "replace", f"the previous connection was silent for {silent.total_seconds():.0f}s"
        )
    return Admission(
        "refuse",
        f"agent {name!r} is already connected (from {live.peer}, "
        f"last heard {max(silent.total_seconds(), 0):.0f}s ago)",
    )


FrameKind = Literal["log", "output", "manifest", "state"]


@dataclass(frozen=True)
class RunFacts:
    """What the frame rule needs of a run row."""

    run_id: int
    agent: str | None
    attempt: int
    status: RunStatus
    agent_ended_attempt: int | None  # the attempt whose end its own agent reported


def frame_refusal(run: RunFacts | None, *, agent: str, attempt: int, kind: FrameKind) -> str | None:
    """Why a frame from `agent` about `attempt` of `run` is not taken (None: take it).

    A state of the agent's own current attempt is always handed on: the lifecycle applies it
    once, or keeps a late one on the timeline only."""
    if run is None:
        return "no such run"
    if run.agent != agent:
        return f"run {run.run_id} is not dispatched to agent {agent!r}"
    if run.attempt != attempt:
        return f"attempt {attempt} of run {run.run_id} is not its current attempt"
    if kind == "state" or run.status in ON_AGENT:
        return None
    if run.agent_ended_attempt == attempt:
        return None  # ended by its own final state: what it still spooled may follow
    return f"run {run.run_id} attempt {attempt} is settled ({run.status.value})"
