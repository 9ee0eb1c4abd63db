"""The group run lifecycle: its statuses, the moves between them, and how it settles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.db.group_run_moves import move_group_run
from app.db.tables import GroupRun
from app.domain.group_run_states import (
    GROUP_ENDED,
    INITIAL,
    GroupRunStatus,
    can_move,
    settled,
)
from app.domain.states import RunStatus, is_terminal
from app.errors import Conflict

G = GroupRunStatus
AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_a_group_run_starts_planned_or_running() -> None:
    assert INITIAL == {G.IDLE, G.RUNNING}
    assert INITIAL.isdisjoint(GROUP_ENDED)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (G.IDLE, G.RUNNING),
        (G.IDLE, G.SKIPPED),
        (G.IDLE, G.MISSED),
        (G.IDLE, G.TERMINATED),
        (G.RUNNING, G.SUCCESS),
        (G.RUNNING, G.FAILED),
        (G.RUNNING, G.TERMINATED),
        (G.SUCCESS, G.RUNNING),
        (G.FAILED, G.RUNNING),
        (G.FAILED, G.SUCCESS),
        (G.SUCCESS, G.FAILED),
        (G.TERMINATED, G.RUNNING),
        (G.RUNNING, G.RUNNING),
    ],
)
def test_allowed_moves(current: GroupRunStatus, target: GroupRunStatus) -> None:
    assert can_move(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (G.SUCCESS, G.TERMINATED),
        (G.SKIPPED, G.RUNNING),
        (G.MISSED, G.RUNNING),
        (G.RUNNING, G.IDLE),
        (G.SUCCESS, G.IDLE),
        (G.IDLE, G.SUCCESS),
        (G.FAILED, G.TERMINATED),
    ],
)
def test_refused_moves(current: GroupRunStatus, target: GroupRunStatus) -> None:
    assert not can_move(current, target)


def test_settling_follows_the_task_runs() -> None:
    assert settled(G.RUNNING, [RunStatus.SUCCESS, RunStatus.RUNNING]) is G.RUNNING
    assert settled(G.RUNNING, [RunStatus.SUCCESS, RunStatus.SKIPPED]) is G.SUCCESS
    assert settled(G.RUNNING, [RunStatus.SUCCESS, RunStatus.FAILED]) is G.FAILED
    assert settled(G.RUNNING, [RunStatus.REJECTED]) is G.FAILED
    assert settled(G.SUCCESS, [RunStatus.ACTIVE]) is G.RUNNING  # a re-run opened it
    assert settled(G.TERMINATED, [RunStatus.RUNNING]) is G.TERMINATED
    assert settled(G.RUNNING, []) is G.SUCCESS


@given(
    st.sampled_from([G.RUNNING, G.SUCCESS, G.FAILED, G.TERMINATED]),
    st.lists(st.sampled_from(list(RunStatus)), max_size=6),
)
def test_settling_is_always_an_allowed_move(
    current: GroupRunStatus, members: list[RunStatus]
) -> None:
    target = settled(current, members)
    assert can_move(current, target)
    assert (target in GROUP_ENDED) == (
        all(is_terminal(s) for s in members) or current is G.TERMINATED
    )


def test_the_one_writer_checks_the_edge_and_stamps_the_end() -> None:
    row = GroupRun(id=7, group_id=1, status=G.RUNNING.value, trigger_kind="manual")
    move_group_run(row, G.FAILED, at=AT)
    assert (row.status, row.finished_at) == ("FAILED", AT)
    move_group_run(row, G.RUNNING, at=AT)
    assert (row.status, row.finished_at) == ("RUNNING", None)
    move_group_run(row, G.TERMINATED, at=AT, finished=False)  # killed runs still on agents
    assert (row.status, row.finished_at) == ("TERMINATED", None)
    row.status = G.SKIPPED.value
    with pytest.raises(Conflict, match="cannot go from SKIPPED to RUNNING"):
        move_group_run(row, G.RUNNING, at=AT)
    assert row.status == "SKIPPED"
