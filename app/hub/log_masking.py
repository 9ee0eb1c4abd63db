"""Run output is masked before it is stored: every secret value the run was given (its
task's secrets, its variable sets' secrets) is stored and streamed as `***`, including one
that an output chunk boundary splits.

Positions: the agent numbers its bytes; masking changes lengths, so a stored chunk keeps
the agent's position it reaches (`log_chunk.source_end`) and resumes and acks speak the
agent's positions. Bytes that may begin a secret are held here, in memory, per (run,
attempt, stream), and not counted as stored: after a restart of the server the agent
resends them (it resends from the stored position), so nothing is lost or doubled and
nothing unmasked is ever written. When the attempt ends (its final state) what is held is
stored as it is.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from app.db.logs import STREAMS, Tail, add_chunk, stream_tail
from app.db.run_secrets import run_secrets
from app.db.tables import Run
from app.domain.secret_mask import Secrets, mask_chunk
from app.protocol.frames import LogHeader

_Key = tuple[int, int, str]
_SECRETS_KEPT = 4096


@dataclass
class _Held:
    start: int  # the agent's position of data[0] (= the stored source_end)
    data: bytes


class LogMasker:
    """One per server process (the hub's report store); thread-safe."""

    def __init__(self) -> None:
        self._held: dict[_Key, _Held] = {}
        self._secrets: OrderedDict[tuple[int, int], Secrets] = OrderedDict()
        self._lock = threading.Lock()

    def _secrets_of(self, session: Session, run: Run) -> Secrets:
        key = (run.id or 0, run.attempt)
        with self._lock:
            found = self._secrets.get(key)
            if found is not None:
                self._secrets.move_to_end(key)
                return found
        found = run_secrets(session, run)
        with self._lock:
            self._secrets[key] = found
            while len(self._secrets) > _SECRETS_KEPT:
                self._secrets.popitem(last=False)
        return found

    def store(
        self,
        session: Session,
        run: Run,
        header: LogHeader,
        data: bytes,
        now: datetime | None = None,
    ) -> None:
        """Mask and store what is new of `data` (at the agent's `header.offset`), received
        at `now`."""
        if header.stream not in STREAMS:
            raise ValueError(f"stream: must be one of {STREAMS}")
        key = (header.run_id, header.attempt, header.stream)
        tail = stream_tail(session, header.run_id, header.attempt, header.stream)
        with self._lock:
            held = self._held.get(key)
        if held is None or held.start != tail.source_end:
            held = _Held(tail.source_end, b"")
        known = held.start + len(held.data)
        if header.offset > known or header.offset + len(data) <= known:
            return  # a gap (the agent resends from the stored position) or a resend
        buffer = held.data + data[known - header.offset :]
        masked = mask_chunk(self._secrets_of(session, run), buffer)
        self._write(session, key, tail, held.start, masked.data, masked.consumed, masked.held, now)

    def flush(
        self, session: Session, run_id: int, attempt: int, now: datetime | None = None
    ) -> None:
        """The attempt ended: what was held is stored as it is (no secret can follow)."""
        for stream in STREAMS:
            key = (run_id, attempt, stream)
            with self._lock:
                held = self._held.pop(key, None)
            if held is None or not held.data:
                continue
            tail = stream_tail(session, run_id, attempt, stream)
            if tail.source_end == held.start:
                self._write(session, key, tail, held.start, held.data, len(held.data), b"", now)

    def _write(
        self,
        session: Session,
        key: _Key,
        tail: Tail,
        start: int,
        data: bytes,
        consumed: int,
        rest: bytes,
        now: datetime | None,
    ) -> None:
        if consumed:
            add_chunk(
                session,
                tail,
                run_id=key[0],
                attempt=key[1],
                stream=key[2],
                data=data,
                source_end=start + consumed,
                received_at=now,
            )
        with self._lock:
            if rest:
                self._held[key] = _Held(start + consumed, rest)
            else:
                self._held.pop(key, None)
