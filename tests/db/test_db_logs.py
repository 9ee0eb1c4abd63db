"""Log chunks: each byte stored once whatever the resends, pages by line, download in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.logs import (
    append_chunk,
    iter_bytes,
    read_lines,
    stored_size,
    stored_sizes,
    total_lines,
)
from app.db.runs import create_run
from app.domain.states import RunStatus, TriggerKind
from app.services.logtail import StreamTail

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


def _append(engine: Engine, run_id: int, offset: int, data: bytes, stream: str = "stdout") -> int:
    with session_scope(engine) as session:
        return append_chunk(
            session, run_id=run_id, attempt=1, stream=stream, offset=offset, data=data
        )


def _download(engine: Engine, run_id: int, stream: str = "stdout") -> bytes:
    with session_scope(engine) as session:
        return b"".join(iter_bytes(session, run_id=run_id, attempt=1, stream=stream, batch=2))


def test_resent_and_overlapping_chunks_are_stored_once(engine: Engine) -> None:
    run_id = _run(engine)
    assert _append(engine, run_id, 0, b"line 1\nline") == 11
    assert _append(engine, run_id, 0, b"line 1\nline") == 11  # exact resend
    assert _append(engine, run_id, 7, b"line 2\nline 3\n") == 21  # overlaps the stored tail
    assert _append(engine, run_id, 40, b"gap") == 21  # past the end: refused, resend from 21
    assert _download(engine, run_id) == b"line 1\nline 2\nline 3\n"


def test_streams_are_kept_apart(engine: Engine) -> None:
    run_id = _run(engine)
    _append(engine, run_id, 0, b"out\n", "stdout")
    _append(engine, run_id, 0, b"err\n", "stderr")
    assert _download(engine, run_id, "stdout") == b"out\n"
    assert _download(engine, run_id, "stderr") == b"err\n"
    with session_scope(engine) as session:
        assert stored_size(session, run_id, 1, "stderr") == 4


def test_pages_by_line_across_chunk_boundaries(engine: Engine) -> None:
    run_id = _run(engine)
    text = b"".join(f"line {i}\n".encode() for i in range(1, 1201))
    offset = 0
    for size in (5, 700, 3, 4000, 1, 9000):  # chunks that cut lines anywhere
        piece = text[offset : offset + size]
        offset = _append(engine, run_id, offset, piece)
    offset = _append(engine, run_id, offset, text[offset:])
    with session_scope(engine) as session:
        assert total_lines(session, run_id, 1, "stdout") == (1200, len(text))
        first = read_lines(
            session, run_id=run_id, attempt=1, stream="stdout", page=1, page_size=500
        )
        third = read_lines(
            session, run_id=run_id, attempt=1, stream="stdout", page=3, page_size=500
        )
        beyond = read_lines(
            session, run_id=run_id, attempt=1, stream="stdout", page=4, page_size=500
        )
    assert first.lines[0] == "line 1" and first.lines[-1] == "line 500"
    assert len(first.lines) == 500
    assert third.first_line == 1001
    assert third.lines == [f"line {i}" for i in range(1001, 1201)]
    assert beyond.lines == []


def test_a_last_line_without_newline_is_a_line(engine: Engine) -> None:
    run_id = _run(engine)
    _append(engine, run_id, 0, b"a\nb\nno newline")
    with session_scope(engine) as session:
        page = read_lines(session, run_id=run_id, attempt=1, stream="stdout", page=1, page_size=10)
    assert page.lines == ["a", "b", "no newline"]
    assert page.total_lines == 3


def test_stored_sizes_of_many_attempts_agree_with_stored_size(engine: Engine) -> None:
    first, second, silent = _run(engine), _run(engine), _run(engine)
    _append(engine, first, 0, b"a" * 10)
    _append(engine, first, 10, b"b" * 5)
    _append(engine, first, 0, b"err\n", stream="stderr")
    _append(engine, second, 0, b"x" * 7)
    with session_scope(engine) as session:
        sizes = stored_sizes(session, [first, second, silent])
        for run_id in (first, second, silent):
            for stream in ("stdout", "stderr"):
                expected = stored_size(session, run_id, 1, stream)
                assert sizes.get((run_id, 1, stream), 0) == expected
        assert stored_sizes(session, []) == {}
    assert sizes == {(first, 1, "stdout"): 15, (first, 1, "stderr"): 4, (second, 1, "stdout"): 7}


def test_each_line_gets_the_receive_time_of_the_chunk_it_starts_in(engine: Engine) -> None:
    run_id = _run(engine)
    times = [NOW + timedelta(seconds=s) for s in (0, 1.5, 3, 4)]
    parts = [b"a1\na2\npar", b"tial\nb1\n", b"\nc1\nc2", b"\nd1\n"]  # "" is line 6
    offset = 0
    with session_scope(engine) as session:
        for data, at in zip(parts, times, strict=True):
            offset = append_chunk(
                session,
                run_id=run_id,
                attempt=1,
                stream="stdout",
                offset=offset,
                data=data,
                received_at=at,
            )
        append_chunk(
            session, run_id=run_id, attempt=1, stream="stdout", offset=offset, data=b"old\n"
        )
    expected = {
        "a1": times[0],
        "a2": times[0],
        "partial": times[0],  # started in the first chunk, ended in the second
        "b1": times[1],
        "": times[2],  # the empty line starts where the third chunk begins
        "c1": times[2],
        "c2": times[2],
        "d1": times[3],
        "old": None,  # stored without a time
    }
    with session_scope(engine) as session:
        for size in (1, 2, 3, 4, 9):
            got: list[tuple[str, datetime | None]] = []
            for page in range(1, 10 // size + 2):
                shown = read_lines(
                    session, run_id=run_id, attempt=1, stream="stdout", page=page, page_size=size
                )
                assert len(shown.times) == len(shown.lines)
                got += list(zip(shown.lines, shown.times, strict=True))
            assert got == list(expected.items()), size


def test_a_live_tail_marks_where_each_chunk_begins_in_the_browsers_units(engine: Engine) -> None:
    """Indices count UTF-16 code units (an emoji is two), as the viewer's script splits."""
    run_id = _run(engine)
    t0, t1, t2 = (NOW + timedelta(seconds=s) for s in (0, 1, 2))
    parts = [("a😀\nb".encode(), t0), (b"c\nx\xf0\x9f", t1), (b"\x98\x80y\n", t2)]
    offset = 0
    with session_scope(engine) as session:
        for data, at in parts:
            offset = append_chunk(
                session,
                run_id=run_id,
                attempt=1,
                stream="stdout",
                offset=offset,
                data=data,
                received_at=at,
            )
    tail = StreamTail(0)
    with session_scope(engine) as session:
        text, marks = tail.read_marked(session, run_id, 1, "stdout")
        assert tail.read_marked(session, run_id, 1, "stdout") == ("", [])
    assert text == "a😀\nbc\nx😀y\n"
    # "a😀\nb" is 5 units; "c\nx" 3 more; the split emoji is decoded with the third chunk.
    assert marks == [(0, t0), (5, t1), (8, t2)]
