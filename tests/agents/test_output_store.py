"""The server's copy of output files: chunks stored once whatever the resends, a row only for a
file whose bytes match the manifest, no name that leaves the run's folder, and the zip."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.runs import create_run
from app.domain.states import RunStatus, TriggerKind
from app.hub.output_store import OutputStore, stored_count, stored_outputs
from app.hub.output_zip import zip_stream
from app.protocol.frames import OutputFile, OutputHeader, OutputManifest
from app.protocol.output_names import UnsafeName

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _run(engine: Engine) -> int:
    with session_scope(engine) as session:
        run = create_run(
            session,
            at=NOW,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.ADHOC,
            spec={"command": "true"},
        )
        return run.id or 0


def _chunk(run_id: int, name: str, offset: int) -> OutputHeader:
    return OutputHeader(run_id=run_id, attempt=1, name=name, offset=offset)


def _file(name: str, data: bytes) -> OutputFile:
    return OutputFile(name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def _complete(engine: Engine, store: OutputStore, run_id: int, *files: OutputFile) -> int:
    with session_scope(engine) as session:
        return store.complete(
            session, OutputManifest(run_id=run_id, attempt=1, files=list(files)), now=NOW
        )


def test_chunks_are_stored_once_resends_trimmed_gaps_refused(tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "outputs")
    assert store.write(_chunk(9, "d/f.bin", 0), b"0123456789") == 10
    assert store.write(_chunk(9, "d/f.bin", 0), b"0123456789") == 10  # a resend
    assert store.write(_chunk(9, "d/f.bin", 5), b"56789abc") == 13  # overlaps the tail
    assert store.write(_chunk(9, "d/f.bin", 20), b"gap") == 13  # refused: resend from 13
    assert (tmp_path / "outputs" / "9" / "1" / "d" / "f.bin").read_bytes() == b"0123456789abc"
    assert store.sizes(9, 1) == {"d/f.bin": 13}
    assert store.sizes(9, 2) == {}


@pytest.mark.parametrize("name", ["../../escape", "/etc/passwd", "a/../../b", ""])
def test_a_name_that_leaves_the_folder_is_refused(tmp_path: Path, name: str) -> None:
    store = OutputStore(tmp_path / "outputs")
    with pytest.raises(UnsafeName):
        store.write(_chunk(9, name, 0), b"x")
    with pytest.raises(UnsafeName):
        store.path(9, 1, name)
    assert not (tmp_path / "escape").exists()


def test_a_file_gets_its_row_once_its_bytes_match_the_manifest(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = _run(engine)
    store = OutputStore(tmp_path / "outputs")
    data = b"result line\n" * 1000
    store.write(_chunk(run_id, "r.txt", 0), data[:5000])
    assert _complete(engine, store, run_id, _file("r.txt", data)) == 0  # still arriving
    store.write(_chunk(run_id, "r.txt", 5000), data[5000:])
    empty = _file("empty.txt", b"")
    assert _complete(engine, store, run_id, _file("r.txt", data), empty) == 2
    assert _complete(engine, store, run_id, _file("r.txt", data), empty) == 2  # a replay
    with session_scope(engine) as session:
        rows = stored_outputs(session, run_id, 1)
        assert [(r.name, r.size, r.sha256) for r in rows] == [
            ("empty.txt", 0, empty.sha256),
            ("r.txt", len(data), _file("r.txt", data).sha256),
        ]
        assert stored_count(session, run_id, 2) == 0
    assert store.path(run_id, 1, "empty.txt").read_bytes() == b""


def test_bytes_that_do_not_match_are_discarded_to_be_sent_again(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = _run(engine)
    store = OutputStore(tmp_path / "outputs")
    store.write(_chunk(run_id, "r.txt", 0), b"corrupted!")
    assert _complete(engine, store, run_id, _file("r.txt", b"the truth!")) == 0
    assert store.sizes(run_id, 1) == {}  # the agent resends from 0 on its next connection
    store.write(_chunk(run_id, "r.txt", 0), b"the truth!")
    assert _complete(engine, store, run_id, _file("r.txt", b"the truth!")) == 1


def test_a_manifest_for_an_unknown_run_stores_nothing(engine: Engine, tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "outputs")
    assert _complete(engine, store, 424242, _file("x", b"")) == 0


def test_the_zip_stream_holds_every_file(tmp_path: Path) -> None:
    big = bytes(range(256)) * 4096 * 3  # 3 MiB, several read chunks
    (tmp_path / "a").write_bytes(b"alpha\n")
    (tmp_path / "b").write_bytes(big)
    (tmp_path / "c").write_bytes(b"")
    pieces = list(
        zip_stream(
            [
                ("a.txt", tmp_path / "a", 6, NOW),
                ("sub/big.bin", tmp_path / "b", len(big), None),
                ("empty", tmp_path / "c", 0, NOW),
            ]
        )
    )
    assert len(pieces) > 3  # streamed, not built whole
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["a.txt", "sub/big.bin", "empty"]
        assert archive.read("a.txt") == b"alpha\n"
        assert archive.read("sub/big.bin") == big
        assert archive.read("empty") == b""
        assert archive.getinfo("a.txt").date_time == (2026, 3, 2, 8, 0, 0)
