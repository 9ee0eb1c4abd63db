"""The spool and its disk guard on a real, tiny file system (a tmpfs mounted for the test).

A write that finds the disk full leaves no half line and no uncounted bytes; journal lines
that could not be written are held in order and written once there is room, and a later
load reads every state. The guard turns unhealthy when space runs out and recovers by itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import mounted_tmpfs

from app.agents.disk_guard import DiskGuard
from app.agents.spool import RunSpool, Spool
from app.protocol.frames import StateChange


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "tiny", "1m") as mount:
        yield mount


def _fill(path: Path) -> None:
    with open(path, "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 4096)


def _state(seq: int, status: str, detail: str = "") -> StateChange:
    return StateChange(
        run_id=7,
        attempt=1,
        seq=seq,
        status=status,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        detail=detail,
    )


def _spool(root: Path) -> tuple[Spool, RunSpool]:
    spool = Spool(root / "spool")
    return spool, spool.create(7, 1, {"command": "true"}, _state(1, "STARTED"))


def test_a_state_that_does_not_fit_is_held_and_leaves_no_half_line(tiny: Path) -> None:
    spool, run = _spool(tiny)
    assert run.record_state(_state(2, "RUNNING")) is None
    journal = run.path / "journal.jsonl"
    before = journal.read_bytes()
    _fill(tiny / "filler")

    # Larger than what is left of the journal's last page: the write is cut short.
    error = run.record_state(_state(3, "FAILED", detail="x" * 9000))
    assert error is not None and run.pending
    assert journal.read_bytes() == before  # the part that was written is undone
    assert [s.status for s in run.states] == ["STARTED", "RUNNING", "FAILED"]  # still sent
    assert run.record_state(_state(4, "FAILED")) is not None  # waits behind, in order

    (tiny / "filler").unlink()
    run.write_pending()
    assert not run.pending
    run.close()
    (loaded,) = spool.load_all()
    assert [(s.seq, s.status) for s in loaded.states] == [
        (1, "STARTED"),
        (2, "RUNNING"),
        (3, "FAILED"),
        (4, "FAILED"),
    ]


def test_output_that_does_not_fit_is_refused_whole(tiny: Path) -> None:
    _, run = _spool(tiny)
    run.append_output("stdout", b"kept\n")
    _fill(tiny / "filler")
    with pytest.raises(OSError):
        run.append_output("stdout", b"y" * 200_000)
    assert run.size("stdout") == 5
    assert (run.path / "stdout").read_bytes() == b"kept\n"


def test_no_room_for_a_start_gives_the_folder_back(tiny: Path) -> None:
    spool = Spool(tiny / "spool")
    spool.prepare(1)
    _fill(tiny / "filler")
    with pytest.raises(OSError):
        spool.create(8, 1, {"command": "x" * 10_000}, _state(1, "STARTED"))
    assert not (spool.root / "8-1").exists()
    (tiny / "filler").unlink()
    assert spool.create(8, 1, {"command": "true"}, _state(1, "STARTED")).is_attempt


def test_the_guard_turns_unhealthy_without_room_and_recovers(tiny: Path) -> None:
    root = tiny / "spool"
    root.mkdir()
    guard = DiskGuard(root, min_free_bytes=256 * 1024, reserve_bytes=128 * 1024)
    assert guard.probe() is False and guard.healthy
    assert (root / ".reserve").stat().st_size == 128 * 1024
    assert guard.report() == {"spool_full": False}

    _fill(tiny / "filler")
    assert guard.probe() is True and not guard.healthy
    assert guard.report()["spool_full"] is True
    assert "spool full" in str(guard.report()["problem"])

    guard.failed(OSError(28, "No space left on device"))  # a write found the disk full
    assert not (root / ".reserve").exists()  # its room goes to the last states
    assert guard.probe() is False and not guard.healthy  # still not enough room

    (tiny / "filler").unlink()
    assert guard.probe() is True and guard.healthy
    assert (root / ".reserve").stat().st_size == 128 * 1024
