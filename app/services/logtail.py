"""Log access the viewer needs beyond pages: bytes after an offset (live tail, decoded
across chunk borders), and a search over the whole stream that returns line numbers."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

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
    stmt = (
        select(LogChunk.offset, LogChunk.data)
        .where(
            LogChunk.run_id == run_id,
            LogChunk.attempt == attempt,
            LogChunk.stream == stream,
            col(LogChunk.offset) + func.length(LogChunk.data) > offset,
        )
        .order_by(col(LogChunk.offset))
        .limit(64)
    )
    out = bytearray()
    for start, data in session.exec(stmt).all():
        piece = bytes(data)[max(0, offset - int(start)) :]
        out += piece
        if len(out) >= limit:
            break
    return bytes(out)


@dataclass
class StreamTail:
    """Where a live viewer stands in one stream, and a decoder that keeps split characters."""

    offset: int
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def read(self, session: Session, run_id: int, attempt: int, stream: str) -> str:
        data = bytes_after(
            session, run_id=run_id, attempt=attempt, stream=stream, offset=self.offset
        )
        self.offset += len(data)
        return self.decoder.decode(data)


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
