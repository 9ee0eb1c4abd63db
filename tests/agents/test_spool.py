"""The agent's on-disk spool: what it writes survives a restart, a torn write does not poison it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.agents.spool import Spool
from app.protocol.frames import StateChange

T0 = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)
SPEC = {"run_id": 7, "attempt": 2, "command": "echo hi", "env": {"A": "1"}}


def state(seq: int, status: str, **extra: object) -> StateChange:
    return StateChange(
        run_id=7, attempt=2, seq=seq, status=status, at=T0 + timedelta(seconds=seq), **extra
    )  # type: ignore[arg-type]


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
    (root / "half-made").mkdir()  # not RUN-ATTEMPT: never a run
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
    with open(spool.path / "journal.jsonl", "a", encoding="utf-8") as handle:
        handle.write(whole[: len(whole) // 2])  # the crash came in the middle of the write

    (loaded,) = Spool(root).load_all()
    assert [s.status for s in loaded.states] == ["STARTED", "RUNNING"]
    assert loaded.next_seq == 3
    assert not loaded.finished


def test_a_state_recorded_after_a_torn_line_survives_the_next_load(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root).create(7, 2, SPEC)
    spool.record_state(state(1, "RUNNING"))
    with open(spool.path / "journal.jsonl", "a", encoding="utf-8") as handle:
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


def test_a_released_folder_is_emptied_and_reused_by_the_next_attempt(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root)
    keep = spool.create(1, 1, SPEC)
    gone = spool.create(1, 2, SPEC)
    gone.record_state(state(1, "SUCCESS"))
    gone.append_output("stdout", b"x")
    (gone.output_dir / "artifact.bin").write_bytes(b"data")
    (gone.output_dir / "nested").mkdir()
    gone.seal()
    spool.release(gone)
    assert not gone.path.exists() and keep.path.exists()
    assert [(s.run_id, s.attempt) for s in Spool(root).load_all()] == [(1, 1)]

    (free,) = root.glob("free-*")
    again = Spool(root).create(5, 1, {"command": "true"})  # a new life finds the free folder
    assert not free.exists() and again.path == root / "5-1"
    assert list(again.output_dir.iterdir()) == []
    assert again.size("stdout") == 0 and again.read_output("stdout", 0, 10) == b""
    (loaded,) = [s for s in Spool(root).load_all() if s.run_id == 5]
    assert loaded.states == [] and loaded.manifest is None
    assert loaded.spec() == {"command": "true"}


def test_release_deletes_once_enough_folders_are_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", keep_free=1)
    first, second = spool.create(1, 1, SPEC), spool.create(2, 1, SPEC)
    spool.release(first)
    spool.release(second)
    assert not first.path.exists() and not second.path.exists()
    assert len(list((tmp_path / "spool").glob("free-*"))) == 1


def test_a_folder_a_crash_left_without_its_spec_is_not_an_attempt(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root).create(4, 1, SPEC)
    spool.record_state(state(1, "STARTED"))
    (spool.path / "journal.jsonl").write_text("")  # emptied when the crash came
    assert Spool(root).load_all() == []
    assert not spool.path.exists()
    assert len(list(root.glob("free-*"))) == 1


def test_the_manifest_survives_a_restart_and_the_last_one_counts(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root).create(7, 2, SPEC)
    (spool.output_dir / "a.txt").write_text("a")
    (spool.output_dir / "b.txt").write_text("bb")
    sealed = spool.seal()
    assert sorted(f.name for f in sealed) == ["a.txt", "b.txt"]
    spool.drop_output("a.txt")
    spool.record_state(state(1, "SUCCESS", exit_code=0))
    (loaded,) = Spool(root).load_all()
    assert [f.name for f in loaded.manifest or []] == ["b.txt"]
    assert [s.status for s in loaded.states] == ["SUCCESS"]


def test_prepare_makes_folders_ahead_and_create_takes_them(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root)
    assert spool.prepare(3) == 3
    assert spool.prepare(2) == 3  # never fewer than are ready
    made = spool.create(9, 1, SPEC, state(1, "STARTED"))
    assert len(list(root.glob("free-*"))) == 2
    assert made.output_dir.is_dir() and made.spec() == SPEC
    assert Spool(root).prepare(4) == 4  # a new life counts what is there and adds to it
    assert len(list(root.glob("free-*"))) == 4
    (loaded,) = Spool(root).load_all()
    assert (loaded.run_id, [s.status for s in loaded.states]) == (9, ["STARTED"])
