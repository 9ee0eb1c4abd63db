"""Ending a recorded process group: the whole group goes, SIGKILL after the grace when SIGTERM
is ignored, and a pid whose start time differs from the record (reused) is never signalled."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from app.agents.process_groups import (
    ProcessRecord,
    end_group,
    live_members,
    record_of,
    unfinished,
)


@pytest.fixture
def group() -> Iterator[subprocess.Popen[bytes]]:
    popen = subprocess.Popen(["/bin/sh", "-c", "sleep 300 & sleep 300"], start_new_session=True)
    try:
        yield popen
    finally:
        popen.kill()
        popen.wait()


def _wait_members(pgid: int, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(live_members(pgid)) < count:
        assert time.monotonic() < deadline, "the group did not start"
        time.sleep(0.02)


def test_the_whole_group_is_ended(group: subprocess.Popen[bytes]) -> None:
    record = record_of(group.pid, "life")
    assert record is not None and record.pgid == group.pid
    _wait_members(group.pid, 3)
    said = end_group(record, grace_seconds=5)
    assert said == f"its process group {group.pid} was still running: ended (SIGTERM)"
    group.wait(timeout=5)
    assert live_members(group.pid) == []


def test_a_group_ignoring_sigterm_gets_sigkill() -> None:
    popen = subprocess.Popen(
        ["/bin/sh", "-c", "trap '' TERM; sleep 300 & trap '' TERM; wait"], start_new_session=True
    )
    try:
        record = record_of(popen.pid, "life")
        assert record is not None
        _wait_members(popen.pid, 2)
        said = end_group(record, grace_seconds=0.3)
        assert "ended (SIGKILL after 0.3 s)" in said
        popen.wait(timeout=5)
    finally:
        popen.kill()
        popen.wait()


def test_a_pid_with_another_start_time_is_left_alone(group: subprocess.Popen[bytes]) -> None:
    record = record_of(group.pid, "life")
    assert record is not None
    reused = ProcessRecord(record.pid, record.pgid, record.start_time + 1, "life")
    assert end_group(reused) == f"its process group {group.pid} was already gone"
    assert group.poll() is None  # not signalled


def test_the_watchdog_reads_only_unfinished_attempts() -> None:
    process = '{"process": {"pid": 5, "pgid": 5, "start_time": 9, "life": "x"}}'
    running = f'{{"spec": {{}}}}\n{process}\n{{"seq": 2, "status": "RUNNING"}}\n'.encode()
    assert unfinished(running) == ProcessRecord(5, 5, 9, "x")
    ended = running + b'{"seq": 3, "status": "FAILED"}\n'
    assert unfinished(ended) is None
    assert unfinished(running + b'{"seq": 3, "sta') == ProcessRecord(5, 5, 9, "x")  # torn
