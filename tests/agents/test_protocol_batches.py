"""Batch frames: a burst's starts, states and acks travel a few to a frame, in order."""

from __future__ import annotations

from datetime import UTC, datetime

from app.protocol import frames as p

T0 = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)


def test_a_starts_frame_carries_each_start_whole() -> None:
    starts = [
        p.StartRun(run_id=i, attempt=1, command=f"echo {i}", env={"N": str(i)}) for i in range(3)
    ]
    parsed = p.parse_server_message(p.StartBatch(runs=starts).model_dump_json())
    assert isinstance(parsed, p.StartBatch) and parsed.runs == starts


def test_a_states_frame_built_from_serialised_states_parses_in_order() -> None:
    states = [
        p.StateChange(run_id=9, attempt=2, seq=seq, status=status, at=T0, detail="d")
        for seq, status in enumerate(("STARTED", "RUNNING", "SUCCESS"), start=1)
    ]
    frame = p.state_batch_frame([state.model_dump_json() for state in states])
    parsed = p.parse_agent_message(frame)
    assert isinstance(parsed, p.StateBatch) and parsed.states == states
    assert parsed.states[0].at == T0  # microseconds and zone kept


def test_an_acks_frame_carries_each_ack() -> None:
    acks = [
        p.Ack(run_id=i, attempt=1, seq=3, stdout=i * 10, stderr=0, done=True, outputs=i)
        for i in range(2)
    ]
    parsed = p.parse_server_message(p.AckBatch(acks=acks).model_dump_json())
    assert isinstance(parsed, p.AckBatch) and parsed.acks == acks
