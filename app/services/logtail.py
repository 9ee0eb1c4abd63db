"""Log access the viewer needs beyond pages: bytes after an offset (live tail, decoded
across chunk borders), and a search over the whole stream that returns line numbers."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db.logs import iter_bytes, total_lines
from app.db.tables import LogChunk

MAX_MATCHES = 1000
MAX_TAIL_BYTES = 256 * 1024  # per event: a burst is sent over several events


def bytes_after(
    session: Session,
    *,
    run_id: int,
    attempt: int,
    stream: str,
    offset: int,
    limit: int = MAX_TAIL_BYTES,
) -> bytes:
    """Stored bytes of a stream from `offset` on (at most about `limit`)."""
    return b"".join(
        data
        for data, _ in chunks_after(
            session, run_id=run_id, attempt=attempt, stream=stream, offset=offset, limit=limit
        )
    )


def chunks_after(
    session: Session,
    *,
    run_id: int,
    attempt: int,
    stream: str,
    offset: int,
    limit: int = MAX_TAIL_BYTES,
) -> list[tuple[bytes, datetime | None]]:
    """`bytes_after` chunk by chunk, each with the time it was received."""
    stmt = (
        select(LogChunk.offset, LogChunk.data, LogChunk.received_at)
        .where(
            LogChunk.run_id == run_id,
            LogChunk.attempt == attempt,
            LogChunk.stream == stream,
            col(LogChunk.offset) + func.length(LogChunk.data) > offset,
        )
        .order_by(col(LogChunk.offset))
        .limit(64)
    )
    out: list[tuple[bytes, datetime | None]] = []
    size = 0
    for start, data, received in session.exec(stmt).all():
        piece = bytes(data)[max(0, offset - int(start)) :]
        out.append((piece, received))
        size += len(piece)
        if size >= limit:
            break
    return out


@dataclass
class StreamTail:
    """Where a live viewer stands in one stream, and a decoder that keeps split characters."""

    offset: int
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def read(self, session: Session, run_id: int, attempt: int, stream: str) -> str:
        return self.read_marked(session, run_id, attempt, stream)[0]

    def read_marked(
        self, session: Session, run_id: int, attempt: int, stream: str
    ) -> tuple[str, list[tuple[int, datetime | None]]]:
        """The new text, and where in it each chunk begins with the time the chunk was
        received. The index counts UTF-16 code units, as the browser's strings do (a
        character outside the BMP is two)."""
        text, marks, units = "", [], 0
        for data, received in chunks_after(
            session, run_id=run_id, attempt=attempt, stream=stream, offset=self.offset
        ):
            marks.append((units, received))
            self.offset += len(data)
            piece = self.decoder.decode(data)
            text += piece
            units += len(piece.encode("utf-16-le")) // 2
        return text, marks


@dataclass(frozen=True)
class SearchResult:
    lines: list[int]  # 1-based numbers of the matching lines, at most MAX_MATCHES
    total: int  # every matching line
    scanned: int  # lines in the stream


def search(session: Session, *, run_id: int, attempt: int, stream: str, text: str) -> SearchResult:
    """Lines containing `text` (case-insensitive) in the whole stream, in order."""
    needle = text.lower().encode()
    found: list[int] = []
    total = 0
    number = 0
    carry = b""
    for data in iter_bytes(session, run_id=run_id, attempt=attempt, stream=stream):
        pieces = (carry + data).split(b"\n")
        carry = pieces.pop()
        for line in pieces:
            number += 1
            if needle in line.lower():
                total += 1
                if len(found) < MAX_MATCHES:
                    found.append(number)
    if carry:
        number += 1
        if needle in carry.lower():
            total += 1
            if len(found) < MAX_MATCHES:
                found.append(number)
    return SearchResult(lines=found, total=total, scanned=number)


def line_counts(session: Session, run_id: int, attempt: int) -> dict[str, tuple[int, int]]:
    """(lines, bytes) of stdout and stderr."""
    return {s: total_lines(session, run_id, attempt, s) for s in ("stdout", "stderr")}
