"""Run output as chunks keyed by byte offset: each byte stored once, pages by line, no scan."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from app.db.tables import LogChunk
from app.db.unit_of_work import record
from app.domain.events import LogAppended

STREAMS = ("stdout", "stderr")


@dataclass(frozen=True)
class Tail:
    """The end of a stored stream: `end` in stored bytes, `source_end` in the agent's bytes
    (they differ once a secret was masked: app/hub/log_masking.py)."""

    end: int
    next_line: int
    source_end: int


def stream_tail(session: Session, run_id: int, attempt: int, stream: str) -> Tail:
    stmt = (
        select(
            LogChunk.offset + func.length(LogChunk.data),
            LogChunk.line_start + LogChunk.line_count,
            LogChunk.source_end,
        )
        .where(LogChunk.run_id == run_id, LogChunk.attempt == attempt, LogChunk.stream == stream)
        .order_by(col(LogChunk.offset).desc())
        .limit(1)
    )
    row = session.exec(stmt).first()
    if row is None:
        return Tail(end=0, next_line=0, source_end=0)
    end, next_line, source_end = int(row[0]), int(row[1]), row[2]
    return Tail(
        end=end, next_line=next_line, source_end=end if source_end is None else int(source_end)
    )


def stored_size(session: Session, run_id: int, attempt: int, stream: str) -> int:
    """How far the agent's stream is stored (what a resume starts from)."""
    return stream_tail(session, run_id, attempt, stream).source_end


# What `stored_sizes` runs, built once (every acknowledged end reads it, and building it
# cost more than running it): each attempt's and stream's last chunk of the runs of
# `:run_ids`, and where it ends.
_LAST_CHUNKS = (
    select(
        LogChunk.run_id,
        LogChunk.attempt,
        LogChunk.stream,
        func.max(LogChunk.offset).label("offset"),
    )
    .where(col(LogChunk.run_id).in_(bindparam("run_ids", expanding=True)))
    .group_by(col(LogChunk.run_id), col(LogChunk.attempt), col(LogChunk.stream))
    .subquery()
)
_STORED_SIZES = select(
    LogChunk.run_id,
    LogChunk.attempt,
    LogChunk.stream,
    func.coalesce(LogChunk.source_end, LogChunk.offset + func.length(LogChunk.data)),
).join(
    _LAST_CHUNKS,
    (col(LogChunk.run_id) == _LAST_CHUNKS.c.run_id)
    & (col(LogChunk.attempt) == _LAST_CHUNKS.c.attempt)
    & (col(LogChunk.stream) == _LAST_CHUNKS.c.stream)
    & (col(LogChunk.offset) == _LAST_CHUNKS.c.offset),
)


def stored_sizes(session: Session, run_ids: Collection[int]) -> dict[tuple[int, int, str], int]:
    """`stored_size` of every attempt and stream of `run_ids`, in one query: (run id,
    attempt, stream) -> the agent's bytes stored (absent when nothing is)."""
    if not run_ids:
        return {}
    rows = session.exec(_STORED_SIZES, params={"run_ids": list(run_ids)}).all()
    return {(run_id, attempt, stream): int(end) for run_id, attempt, stream, end in rows}


def append_chunk(
    session: Session,
    *,
    run_id: int,
    attempt: int,
    stream: str,
    offset: int,
    data: bytes,
    received_at: datetime | None = None,
) -> int:
    """Store the part of `data` (at the agent's `offset`) not stored yet, as is; returns the
    agent's stored size afterwards.

    A chunk that overlaps what is stored (a resend after a reconnect) is trimmed; one that
    starts past the end (a gap) is refused by returning the size to resend from.
    """
    if stream not in STREAMS:
        raise ValueError(f"stream: must be one of {STREAMS}")
    tail = stream_tail(session, run_id, attempt, stream)
    if offset > tail.source_end or offset + len(data) <= tail.source_end:
        return tail.source_end
    data = data[tail.source_end - offset :]
    return add_chunk(
        session,
        tail,
        run_id=run_id,
        attempt=attempt,
        stream=stream,
        data=data,
        source_end=tail.source_end + len(data),
        received_at=received_at,
    )


def add_chunk(
    session: Session,
    tail: Tail,
    *,
    run_id: int,
    attempt: int,
    stream: str,
    data: bytes,
    source_end: int,
    received_at: datetime | None = None,
) -> int:
    """Store `data` after `tail`, standing for the agent's bytes up to `source_end`;
    `received_at`: when the server got it (the time the log viewer gives its lines)."""
    session.add(
        LogChunk(
            run_id=run_id,
            attempt=attempt,
            stream=stream,
            offset=tail.end,
            data=data,
            line_start=tail.next_line,
            line_count=data.count(b"\n"),
            source_end=None if source_end == tail.end + len(data) else source_end,
            received_at=received_at,
        )
    )
    session.flush()
    record(session, LogAppended(run_id))
    return source_end


@dataclass(frozen=True)
class LogPage:
    lines: list[str]
    first_line: int  # 1-based number of lines[0]
    total_lines: int
    total_bytes: int
    # Each line's time: when the chunk its first byte came in was received (None: stored
    # before those times were kept).
    times: list[datetime | None] = field(default_factory=list)


def total_lines(session: Session, run_id: int, attempt: int, stream: str) -> tuple[int, int]:
    """(lines, bytes) of a stream; a trailing line without a newline counts as a line."""
    tail = stream_tail(session, run_id, attempt, stream)
    if tail.end == 0:
        return 0, 0
    last = session.exec(
        select(LogChunk.data)
        .where(LogChunk.run_id == run_id, LogChunk.attempt == attempt, LogChunk.stream == stream)
        .order_by(col(LogChunk.offset).desc())
        .limit(1)
    ).one()
    partial = 0 if bytes(last).endswith(b"\n") else 1
    return tail.next_line + partial, tail.end


def read_lines(
    session: Session, *, run_id: int, attempt: int, stream: str, page: int, page_size: int
) -> LogPage:
    """Lines of page `page` (1-based), fetching only the chunks that hold them."""
    lines_total, bytes_total = total_lines(session, run_id, attempt, stream)
    start = (page - 1) * page_size
    end = start + page_size
    stmt = (
        select(LogChunk.data, LogChunk.line_start, LogChunk.received_at)
        .where(
            LogChunk.run_id == run_id,
            LogChunk.attempt == attempt,
            LogChunk.stream == stream,
            col(LogChunk.line_start) <= end,
            col(LogChunk.line_start) + col(LogChunk.line_count) >= start,
        )
        .order_by(col(LogChunk.offset))
    )
    rows = session.exec(stmt).all()
    if not rows or start >= lines_total:
        return LogPage(
            lines=[], first_line=start + 1, total_lines=lines_total, total_bytes=bytes_total
        )
    datas = [bytes(data) for data, _, _ in rows]
    blob = b"".join(datas)
    pieces = blob.split(b"\n")
    first = int(rows[0][1])
    # The piece after the very last newline is empty when the log ends with one: not a line.
    last_index = min(end, lines_total) - start
    wanted = pieces[start - first : end - first][:last_index]
    lines = [p.decode("utf-8", errors="replace") for p in wanted]
    return LogPage(
        lines=lines,
        first_line=start + 1,
        total_lines=lines_total,
        total_bytes=bytes_total,
        times=_line_times(pieces, start - first, len(wanted), datas, [r[2] for r in rows]),
    )


def _line_times(
    pieces: list[bytes],
    skip: int,
    count: int,
    datas: list[bytes],
    received: list[datetime | None],
) -> list[datetime | None]:
    """The receive time of the chunk each of `count` pieces (from index `skip`) starts in."""
    starts, at = [], 0
    for data in datas:
        starts.append(at)
        at += len(data)
    position = sum(len(p) + 1 for p in pieces[:skip])
    times = []
    for piece in pieces[skip : skip + count]:
        times.append(received[bisect_right(starts, position) - 1])
        position += len(piece) + 1
    return times


def iter_bytes(
    session: Session, *, run_id: int, attempt: int, stream: str, batch: int = 64
) -> Iterator[bytes]:
    """The whole stream in order, a few chunks at a time (for downloads and search)."""
    after = -1
    while True:
        stmt = (
            select(LogChunk.offset, LogChunk.data)
            .where(
                LogChunk.run_id == run_id,
                LogChunk.attempt == attempt,
                LogChunk.stream == stream,
                col(LogChunk.offset) > after,
            )
            .order_by(col(LogChunk.offset))
            .limit(batch)
        )
        rows = session.exec(stmt).all()
        if not rows:
            return
        for offset, data in rows:
            yield bytes(data)
            after = int(offset)
