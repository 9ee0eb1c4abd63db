"""The agent's on-disk spool: what it writes survives a restart, a torn write does not poison it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.agents.protocol import StateChange
from app.agents.spool import Spool

T0 = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)
SPEC = {"run_id": 7, "attempt": 2, "command": "echo hi", "env": {"A": "1"}}


def state(seq: int, status: str, **extra: object) -> StateChange:
    return StateChange(run_id=7, attempt=2, seq=seq, status=status,
                       at=T0 + timedelta(seconds=seq), **extra)  # type: ignore[arg-type]


def test_a_new_spool_has_its_folder_spec_and_outputs(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool").create(7, 2, SPEC)
    assert spool.path == tmp_path / "spool" / "7-2"
    assert spool.output_dir == spool.path / "outputs"
    assert spool.output_dir.is_dir()
    assert spool.spec() == SPEC
    assert spool.states == [] and spool.next_seq == 1
    assert spool.last_status is None and not spool.finished
    assert spool.size("stdout") == 0 and spool.read_output("stderr", 0, 100) == b""


def test_states_and_output_round_trip_through_load(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root).create(7, 2, SPEC)
    recorded = [
        state(1, "STARTED", detail="accepted by a1"),
        state(2, "RUNNING", detail="pid 42"),
        state(3, "FAILED", exit_code=3, reason="exit code 3"),
    ]
    for change in recorded:
        spool.record_state(change)
    spool.append_output("stdout", b"out 1\n")
    spool.append_output("stderr", b"err \xff binary\n")
    spool.append_output("stdout", b"out 2\n")

    (loaded,) = Spool(root).load_all()  # a new life of the agent
    assert (loaded.path, loaded.run_id, loaded.attempt) == (spool.path, 7, 2)
    assert loaded.states == recorded
    assert loaded.states[0].at == T0 + timedelta(seconds=1)  # microseconds and zone kept
    assert loaded.next_seq == 4
    assert loaded.last_status == "FAILED" and loaded.finished
    assert loaded.spec() == SPEC
    assert loaded.read_output("stdout", 0, 1000) == b"out 1\nout 2\n"
    assert loaded.read_output("stderr", 0, 1000) == b"err \xff binary\n"


def test_load_all_finds_every_attempt_and_ignores_stray_folders(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root)
    spool.create(3, 1, SPEC).record_state(state(1, "RUNNING"))
    spool.create(3, 2, SPEC)
    spool.create(12, 1, SPEC)
    (root / "half-made").mkdir()  # no spec.json: never a run
    loaded = Spool(root).load_all()
    assert sorted((s.run_id, s.attempt) for s in loaded) == [(3, 1), (3, 2), (12, 1)]
    by_key = {(s.run_id, s.attempt): s for s in loaded}
    assert by_key[(3, 1)].last_status == "RUNNING"
    assert by_key[(3, 2)].states == [] and by_key[(12, 1)].states == []


def test_a_torn_last_state_line_is_dropped_on_load(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root).create(7, 2, SPEC)
    spool.record_state(state(1, "STARTED"))
    spool.record_state(state(2, "RUNNING"))
    whole = state(3, "SUCCESS", exit_code=0).model_dump_json()
    with open(spool.path / "states.jsonl", "a", encoding="utf-8") as handle:
        handle.write(whole[: len(whole) // 2])  # the crash came in the middle of the write

    (loaded,) = Spool(root).load_all()
    assert [s.status for s in loaded.states] == ["STARTED", "RUNNING"]
    assert loaded.next_seq == 3
    assert not loaded.finished


def test_a_state_recorded_after_a_torn_line_survives_the_next_load(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root).create(7, 2, SPEC)
    spool.record_state(state(1, "RUNNING"))
    with open(spool.path / "states.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"run_id": 7, "attempt": 2, "se')  # torn by a crash
    (recovered,) = Spool(root).load_all()
    # What the agent does after such a crash: the lost process is recorded as failed.
    recovered.record_state(state(2, "FAILED", reason="agent restarted: process lost"))

    (again,) = Spool(root).load_all()
    assert [(s.seq, s.status) for s in again.states] == [(1, "RUNNING"), (2, "FAILED")]
    assert again.finished


def test_sizes_and_reads_at_offsets(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool").create(1, 1, SPEC)
    first, second = b"0123456789", b"abcdefghij\n"
    spool.append_output("stdout", first)
    assert spool.size("stdout") == 10
    spool.append_output("stdout", second)
    assert spool.size("stdout") == 21
    assert spool.size("stderr") == 0
    assert spool.read_output("stdout", 0, 4) == b"0123"
    assert spool.read_output("stdout", 8, 5) == b"89abc"
    assert spool.read_output("stdout", 10, 100) == second
    assert spool.read_output("stdout", 21, 100) == b""
    assert spool.read_output("stdout", 500, 100) == b""
    reads, offset = [], 0
    while chunk := spool.read_output("stdout", offset, 4):
        reads.append(chunk)
        offset += len(chunk)
    assert b"".join(reads) == first + second


def test_remove_deletes_the_attempts_folder(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    keep = Spool(root).create(1, 1, SPEC)
    gone = Spool(root).create(1, 2, SPEC)
    gone.append_output("stdout", b"x")
    (gone.output_dir / "artifact.bin").write_bytes(b"data")
    gone.remove()
    assert not gone.path.exists()
    assert keep.path.exists()
    assert [(s.run_id, s.attempt) for s in Spool(root).load_all()] == [(1, 1)]
