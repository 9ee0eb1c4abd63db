"""Masking before storing: whole and split secrets, resends after a reconnect, and a
server restart between the two halves of a secret (no loss, no duplicate, no leak)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from run_moves import create_run_in
from sqlalchemy import Engine
from sqlmodel import col, select

from app.db.engine import session_scope
from app.db.logs import iter_bytes, stored_size
from app.db.sealing import bind_box
from app.db.tables import LogChunk, Run
from app.domain.secret_mask import Secrets, mask_chunk, mask_json
from app.domain.states import RunStatus, TriggerKind
from app.env_secrets import EnvBox, EnvValues
from app.hub.log_masking import LogMasker
from app.protocol.frames import LogHeader
from app.secrets import key_ring

SECRET = "p4ss-W0rd-xyz"
AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_mask_chunk_holds_what_may_begin_a_secret() -> None:
    secrets = Secrets.of([SECRET, "abcdef", "cd"])
    whole = mask_chunk(secrets, b"x " + SECRET.encode() + b" y")
    assert (whole.data, whole.held) == (b"x *** y", b"")
    split = mask_chunk(secrets, b"a p4ss-W")
    assert (split.data, split.consumed, split.held) == (b"a ", 2, b"p4ss-W")
    rest = mask_chunk(secrets, split.held + b"0rd-xyz!")
    assert rest.data == b"***!"
    # The longer secret is waited for rather than a shorter one inside it masked.
    assert mask_chunk(secrets, b"..abcd").held == b"abcd"
    assert mask_chunk(secrets, b"abcdxy").data == b"ab***xy"
    assert mask_chunk(secrets, b"p4ss", final=True).data == b"p4ss"
    assert mask_chunk(Secrets.of([]), b"anything").data == b"anything"


def _run(engine: Engine, tmp_path: Path) -> int:
    box = EnvBox(key_ring(tmp_path))
    bind_box(engine, lambda: box)
    with session_scope(engine) as session:
        spec = {"command": "true", "env_sealed": box.seal(EnvValues(secrets={"K": SECRET}))}
        run = create_run_in(
            session, RunStatus.RUNNING, at=AT, trigger_kind=TriggerKind.ADHOC, spec=spec
        )
        return run.id or 0


def _send(
    engine: Engine,
    masker: LogMasker,
    run_id: int,
    offset: int,
    data: bytes,
    now: datetime | None = None,
) -> None:
    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        assert run is not None
        header = LogHeader(run_id=run_id, attempt=1, stream="stdout", offset=offset)
        masker.store(session, run, header, data, now)


def _stored(engine: Engine, run_id: int) -> tuple[bytes, int]:
    with session_scope(engine) as session:
        data = b"".join(iter_bytes(session, run_id=run_id, attempt=1, stream="stdout"))
        return data, stored_size(session, run_id, 1, "stdout")


def test_mask_json_masks_texts_keys_and_numbers_at_any_depth() -> None:
    secrets = Secrets.of(["s3cr", "2718", "naïve-pw"])
    value = {"a": "x s3cr y s3cr", "b": [1, 27182, {"s3cr": True, "c": "naïve-pw!"}], "d": None}
    assert mask_json(secrets, value) == {
        "a": "x *** y ***",
        "b": [1, "***2", {"***": True, "c": "***!"}],
        "d": None,
    }
    assert mask_json(Secrets.of([]), value) is value  # nothing to mask: nothing copied
    assert mask_json(secrets, "\ud800 s3cr") == "\ud800 ***"  # a lone surrogate stays


def test_split_secret_resend_and_restart(engine: Engine, tmp_path: Path) -> None:
    run_id = _run(engine, tmp_path)
    raw = b"one " + SECRET.encode() + b" two p4ss-" + b"W0rd-xyz three\n"
    cut = len(b"one " + SECRET.encode() + b" two p4ss-")
    first, second = raw[:cut], raw[cut:]  # the second secret straddles the boundary
    masker = LogMasker()
    _send(engine, masker, run_id, 0, first)
    data, agent_position = _stored(engine, run_id)
    assert data == b"one *** two "
    assert agent_position == len(b"one " + SECRET.encode() + b" two ")
    _send(engine, masker, run_id, 0, first)  # a resend after a reconnect: nothing doubles
    assert _stored(engine, run_id)[0] == b"one *** two "
    # The server restarts: what it held is gone, the agent resends from the stored position.
    restarted = LogMasker()
    _send(engine, restarted, run_id, len(first), second)  # a gap: refused, not stored
    assert _stored(engine, run_id)[0] == b"one *** two "
    _send(engine, restarted, run_id, agent_position, raw[agent_position:])
    data, agent_position = _stored(engine, run_id)
    assert data == b"one *** two *** three\n"
    assert agent_position == len(raw)  # acks and resumes speak the agent's bytes
    with session_scope(engine) as session:
        chunks = session.exec(select(LogChunk.data).where(col(LogChunk.run_id) == run_id)).all()
    assert all(SECRET.encode() not in bytes(c) and b"p4ss-" not in bytes(c) for c in chunks)


def test_what_is_held_at_the_end_is_stored(engine: Engine, tmp_path: Path) -> None:
    run_id = _run(engine, tmp_path)
    masker = LogMasker()
    _send(engine, masker, run_id, 0, b"last p4ss", now=AT)
    assert _stored(engine, run_id) == (b"last ", 5)
    with session_scope(engine) as session:
        masker.flush(session, run_id, 1, AT + timedelta(seconds=5))
    assert _stored(engine, run_id) == (b"last p4ss", 9)
    # Each chunk keeps when it was stored: the log viewer's time of the lines it starts.
    with session_scope(engine) as session:
        stored = session.exec(
            select(LogChunk.received_at)
            .where(col(LogChunk.run_id) == run_id)
            .order_by(col(LogChunk.offset))
        ).all()
    assert stored == [AT, AT + timedelta(seconds=5)]


def test_long_secrets_stay_cheap() -> None:
    long_secret = "k" * 100_000
    secrets = Secrets.of([long_secret, "short-one"])
    split = mask_chunk(secrets, b"x " + long_secret[:5000].encode())
    assert split.data == b"x " and len(split.held) == 5000
    assert mask_chunk(secrets, split.held + long_secret[5000:].encode() + b"!").data == b"***!"
