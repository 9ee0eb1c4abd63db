"""Group run lifecycle: its statuses, where one starts, the moves allowed between them, and
the status a group run takes from the statuses of its task runs. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from app.domain.states import RunStatus, is_terminal


class GroupRunStatus(StrEnum):
    IDLE = "IDLE"  # planned: waits for its trigger time
    RUNNING = "RUNNING"  # its task runs exist; some have not ended
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"  # a task run failed, was terminated or rejected
    TERMINATED = "TERMINATED"  # ended by an operator
    SKIPPED = "SKIPPED"  # its business day was frozen when it fell due
    MISSED = "MISSED"  # it fell due later than the misfire grace (the server was down)


# A scheduled group run is planned IDLE; a forced one starts RUNNING.
INITIAL: frozenset[GroupRunStatus] = frozenset({GroupRunStatus.IDLE, GroupRunStatus.RUNNING})

GROUP_ENDED: frozenset[GroupRunStatus] = frozenset(
    {
        GroupRunStatus.SUCCESS,
        GroupRunStatus.FAILED,
        GroupRunStatus.TERMINATED,
        GroupRunStatus.SKIPPED,
        GroupRunStatus.MISSED,
    }
)

# Task run endings that make the group run FAILED.
_BAD = frozenset({RunStatus.FAILED, RunStatus.TERMINATED, RunStatus.REJECTED})

_ALLOWED: dict[GroupRunStatus, frozenset[GroupRunStatus]] = {
    # A planned group run may be ended by an operator before it falls due.
    GroupRunStatus.IDLE: frozenset(
        {
            GroupRunStatus.RUNNING,
            GroupRunStatus.SKIPPED,
            GroupRunStatus.MISSED,
            GroupRunStatus.TERMINATED,
        }
    ),
    GroupRunStatus.RUNNING: frozenset(
        {GroupRunStatus.SUCCESS, GroupRunStatus.FAILED, GroupRunStatus.TERMINATED}
    ),
    # An ended group run follows its task runs when one of them goes again (a re-run, a
    # retry, a run marked SUCCESS by hand): settling must never be refused.
    GroupRunStatus.SUCCESS: frozenset({GroupRunStatus.RUNNING, GroupRunStatus.FAILED}),
    GroupRunStatus.FAILED: frozenset({GroupRunStatus.RUNNING, GroupRunStatus.SUCCESS}),
    GroupRunStatus.TERMINATED: frozenset({GroupRunStatus.RUNNING}),
}


def can_move(current: GroupRunStatus, target: GroupRunStatus) -> bool:
    """Staying put is always allowed (settling repeats itself)."""
    return target is current or target in _ALLOWED.get(current, frozenset())


def settled(current: GroupRunStatus, members: Iterable[RunStatus]) -> GroupRunStatus:
    """The status a started group run takes from its task runs: RUNNING while one has not
    ended, then FAILED or SUCCESS. A TERMINATED one stays TERMINATED."""
    if current is GroupRunStatus.TERMINATED:
        return current
    statuses = list(members)
    if not all(is_terminal(s) for s in statuses):
        return GroupRunStatus.RUNNING
    return GroupRunStatus.FAILED if any(s in _BAD for s in statuses) else GroupRunStatus.SUCCESS
