"""Host process groups the agent started, told apart from whatever reuses their ids later.

Each host run is a process group led by its shell (`start_new_session`). The agent records
the leader's pid, the group id and the leader's start time (field 22 of /proc/<pid>/stat,
clock ticks since boot) in the run's journal as soon as it is spawned. A later life of the
agent, or the agent's watchdog when the agent dies, ends the groups still alive with
`end_group`: a pid that now belongs to another process is never signalled, as its start
time differs. Linux only (/proc).
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from app.protocol.frames import ENDINGS

_PROC = "/proc"


@dataclass(frozen=True)
class ProcessRecord:
    """A spawned run's process group, as the journal keeps it. `life` names the agent's
    life that started it (its watchdog ends only its own life's groups)."""

    pid: int
    pgid: int
    start_time: int
    life: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "pgid": self.pgid,
            "start_time": self.start_time,
            "life": self.life,
        }

    @classmethod
    def from_json(cls, raw: object) -> ProcessRecord | None:
        if not isinstance(raw, dict):
            return None
        try:
            return cls(
                pid=int(raw["pid"]),
                pgid=int(raw["pgid"]),
                start_time=int(raw["start_time"]),
                life=str(raw.get("life", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, start time) of a live or zombie process, None when gone."""
    try:  # os.open, not open(): this runs on the launch path, once per spawned run
        descriptor = os.open(f"{_PROC}/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            raw = os.read(descriptor, 4096)
        finally:
            os.close(descriptor)
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode(), int(fields[2]), int(fields[19])
    except (IndexError, ValueError):
        return None


def start_time(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else stat[2]


def record_of(pid: int, life: str) -> ProcessRecord | None:
    """The record of a child just spawned in its own session (its pid is its group id)."""
    started = start_time(pid)
    return None if started is None else ProcessRecord(pid, pid, started, life)


def live_members(pgid: int) -> list[int]:
    """Processes of group `pgid` that are still running (zombies have nothing left to end:
    where nobody reaps orphans, they would otherwise look alive forever)."""
    members = []
    for name in os.listdir(_PROC):
        if not name.isdigit():
            continue
        stat = _stat(int(name))
        if stat is not None and stat[1] == pgid and stat[0] not in ("Z", "X"):
            members.append(int(name))
    return members


def is_ours(record: ProcessRecord) -> bool:
    """Whether the group recorded still holds processes the agent started: the leader with
    the recorded start time, or (leader gone) members started after it. A group id is not
    handed out again while any member lives, so such members are the leader's children."""
    leader = _stat(record.pid)
    if leader is not None and leader[0] not in ("Z", "X"):
        return leader[1] == record.pgid and leader[2] == record.start_time
    return any(
        (stat := _stat(pid)) is not None and stat[2] >= record.start_time
        for pid in live_members(record.pgid)
    )


def end_group(record: ProcessRecord, grace_seconds: float = 5.0) -> str:
    return end_groups([record], grace_seconds)[0]


def end_groups(records: list[ProcessRecord], grace_seconds: float = 5.0) -> list[str]:
    """End what is left of each group: SIGTERM to all, then SIGKILL to those still running
    after the grace. Says what happened to each, for the runs' timelines."""
    said = [f"its process group {r.pgid} was already gone" for r in records]
    alive = [i for i, record in enumerate(records) if is_ours(record)]
    for i in alive:
        _signal(records[i].pgid, signal.SIGCONT)  # a paused group must wake to see SIGTERM
        _signal(records[i].pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while alive:
        for i in [i for i in alive if not live_members(records[i].pgid)]:
            said[i] = f"its process group {records[i].pgid} was still running: ended (SIGTERM)"
            alive.remove(i)
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    for i in alive:
        _signal(records[i].pgid, signal.SIGKILL)
        said[i] = (
            f"its process group {records[i].pgid} was still running: ended (SIGKILL "
            f"after {grace_seconds:g} s)"
        )
    return said


def unfinished(journal: bytes) -> ProcessRecord | None:
    """The process recorded in an attempt's journal (spool.py's format) when the attempt has
    no final state yet; read without the protocol's models, for the watchdog."""
    record = None
    for line in journal.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn line
        if not isinstance(entry, dict):
            continue
        if "process" in entry:
            record = ProcessRecord.from_json(entry["process"])
        elif entry.get("status") in ENDINGS:
            return None
    return record


def _signal(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
