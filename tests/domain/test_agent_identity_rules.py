"""The pure rules of agent identity: token binding, one live connection per name, and which
frames an agent may send about which run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.agent_identity import (
    FrameKind,
    LiveConnection,
    RunFacts,
    admit,
    frame_refusal,
    identity_refusal,
)
from app.domain.states import RunStatus

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_token_speaks_for_its_own_agent_only() -> None:
    assert identity_refusal("vm", "vm") is None
    assert identity_refusal("attacker", "vm") == (
        "agent token is bound to agent 'attacker', not 'vm'"
    )
    assert "not bound" in (identity_refusal(None, "vm") or "")


def live(seconds_ago: float, session: str = "s1") -> LiveConnection:
    return LiveConnection(
        session=session, last_seen=NOW - timedelta(seconds=seconds_ago), peer="10.0.0.1:5000"
    )


@pytest.mark.parametrize(
    ("current", "session", "verdict"),
    [
        (None, "", "accept"),
        (live(0.5), "s1", "replace"),  # the same process dialled again: its old socket is dead
        (live(0.5), "s2", "refuse"),  # another process while the first one is alive
        (live(0.5), "", "refuse"),  # no session is never "the same"
        (live(0.5, session=""), "", "refuse"),
        (live(2.9), "s2", "refuse"),  # within three heartbeats of 1 s
        (live(3.5), "s2", "replace"),  # silent for longer: half-dead
    ],
)
def test_one_live_connection_per_name(
    current: LiveConnection | None, session: str, verdict: str
) -> None:
    assert admit("w1", current, session=session, now=NOW, heartbeat_interval=1.0).verdict == verdict


def test_a_refusal_says_who_holds_the_name() -> None:
    reason = admit("w1", live(0.5), session="s2", now=NOW, heartbeat_interval=1.0).reason
    assert reason == "agent 'w1' is already connected (from 10.0.0.1:5000, last heard 0s ago)"


def facts(
    status: RunStatus, *, agent: str | None = "vm", attempt: int = 2, ended: int | None = None
) -> RunFacts:
    return RunFacts(
        run_id=7, agent=agent, attempt=attempt, status=status, agent_ended_attempt=ended
    )


@pytest.mark.parametrize("kind", ["log", "output", "manifest", "state"])
def test_frames_of_the_attempt_dispatched_to_the_agent_are_taken_while_it_runs(
    kind: FrameKind,
) -> None:
    for status in (RunStatus.TRIGGER, RunStatus.STARTED, RunStatus.RUNNING, RunStatus.PAUSED):
        assert frame_refusal(facts(status), agent="vm", attempt=2, kind=kind) is None


@pytest.mark.parametrize("kind", ["log", "output", "manifest", "state"])
def test_nothing_about_another_agents_run_or_another_attempt(kind: FrameKind) -> None:
    running = facts(RunStatus.RUNNING)
    assert frame_refusal(None, agent="vm", attempt=2, kind=kind) == "no such run"
    assert frame_refusal(running, agent="x", attempt=2, kind=kind) == (
        "run 7 is not dispatched to agent 'x'"
    )
    assert frame_refusal(running, agent="vm", attempt=1, kind=kind) == (
        "attempt 1 of run 7 is not its current attempt"
    )
    assert (
        frame_refusal(facts(RunStatus.ACTIVE, agent=None), agent="vm", attempt=2, kind=kind)
        is not None
    )
    done = facts(RunStatus.SUCCESS, agent="vm", ended=2)
    assert frame_refusal(done, agent="x", attempt=2, kind=kind) is not None


def test_bytes_after_the_end_only_when_the_agent_itself_reported_it() -> None:
    own_end = facts(RunStatus.FAILED, ended=2)
    lost = facts(RunStatus.FAILED, ended=None)  # declared lost by the server
    earlier = facts(RunStatus.FAILED, ended=1)  # a previous attempt's end
    kinds: tuple[FrameKind, ...] = ("log", "output", "manifest")
    for kind in kinds:
        assert frame_refusal(own_end, agent="vm", attempt=2, kind=kind) is None
        assert frame_refusal(lost, agent="vm", attempt=2, kind=kind) == (
            "run 7 attempt 2 is settled (FAILED)"
        )
        assert frame_refusal(earlier, agent="vm", attempt=2, kind=kind) is not None
    # Its own state is handed on: the lifecycle keeps a late one on the timeline only.
    assert frame_refusal(lost, agent="vm", attempt=2, kind="state") is None
