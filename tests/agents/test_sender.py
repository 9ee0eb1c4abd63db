"""What the agent sends of a spooled attempt, in which order, and from which positions.

The channel here only keeps the frames it is given (the real WebSocket is exercised by the
end-to-end tests); the spool is a real one on disk.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from app.agents.sender import SEND_SIZE, Sent, flush, released
from app.agents.spool import RunSpool, Spool
from app.protocol import frames as p

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Frames:
    def __init__(self) -> None:
        self.sent: list[str | bytes] = []

    async def send(self, message: str | bytes) -> None:
        self.sent.append(message)

    def kinds(self) -> list[str]:
        out = []
        for frame in self.sent:
            if isinstance(frame, bytes):
                header, _ = p.decode_frame(frame)
                where = header.stream if isinstance(header, p.LogHeader) else header.name
                out.append(f"{header.kind}:{where}")
            else:
                data = json.loads(frame)
                out.append(f"{data['type']}:{data.get('status', '')}")
        return out


def _state(spool: RunSpool, status: str) -> None:
    spool.record_state(
        p.StateChange(
            run_id=spool.run_id, attempt=spool.attempt, seq=spool.next_seq, status=status, at=T0
        )
    )


def _spool(tmp_path: Path) -> RunSpool:
    spool = Spool(tmp_path / "spool").create(3, 1, {"command": "true"})
    _state(spool, "STARTED")
    _state(spool, "RUNNING")
    spool.append_output("stdout", b"hello\n")
    spool.append_output("stderr", b"oops\n")
    return spool


async def test_a_running_attempt_sends_logs_then_states_and_no_files(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    (spool.output_dir / "partial.txt").write_text("not yet")
    frames = Frames()
    sent = Sent()
    await flush(frames, spool, sent)
    assert frames.kinds() == ["log:stdout", "log:stderr", "state:STARTED", "state:RUNNING"]
    await flush(frames, spool, sent)  # nothing new: nothing sent
    assert len(frames.sent) == 4


async def test_an_ended_attempt_sends_files_and_manifest_before_the_final_state(
    tmp_path: Path,
) -> None:
    spool = _spool(tmp_path)
    big = b"x" * (SEND_SIZE + 10)
    (spool.output_dir / "big.bin").write_bytes(big)
    (spool.output_dir / "small.txt").write_text("s")
    spool.seal()
    _state(spool, "SUCCESS")
    frames = Frames()
    await flush(frames, spool, Sent())
    assert frames.kinds() == [
        "log:stdout",
        "log:stderr",
        "output:big.bin",
        "output:big.bin",
        "output:small.txt",
        "outputs:",
        "state:STARTED",
        "state:RUNNING",
        "state:SUCCESS",
    ]
    chunks = [p.decode_frame(f) for f in frames.sent[2:5] if isinstance(f, bytes)]
    assert [(h.offset, len(d)) for h, d in chunks] == [(0, SEND_SIZE), (SEND_SIZE, 10), (0, 1)]
    manifest = p.parse_agent_message(str(frames.sent[5]))
    assert isinstance(manifest, p.OutputManifest)
    assert [(f.name, f.size) for f in manifest.files] == [("big.bin", len(big)), ("small.txt", 1)]


async def test_after_a_reconnect_only_what_the_server_lacks_is_sent(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    (spool.output_dir / "big.bin").write_bytes(b"0123456789")
    spool.seal()
    _state(spool, "FAILED")
    resume = p.Resume(run_id=3, attempt=1, stdout=6, stderr=2, seq=2, outputs={"big.bin": 4})
    frames = Frames()
    await flush(frames, spool, Sent.resumed(resume))
    assert frames.kinds() == ["log:stderr", "output:big.bin", "outputs:", "state:FAILED"]
    header, data = p.decode_frame(frames.sent[0])  # type: ignore[arg-type]
    assert (header.offset, data) == (2, b"ps\n")
    header, data = p.decode_frame(frames.sent[1])  # type: ignore[arg-type]
    assert (header.offset, data) == (4, b"456789")


async def test_a_file_that_vanished_after_the_end_is_left_out(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    (spool.output_dir / "gone.txt").write_text("here at the end")
    (spool.output_dir / "kept.txt").write_text("kept")
    spool.seal()
    (spool.output_dir / "gone.txt").unlink()  # a stray process after the run ended
    _state(spool, "SUCCESS")
    frames = Frames()
    await flush(frames, spool, Sent())
    assert "output:gone.txt" not in frames.kinds()
    assert [f.name for f in spool.manifest or []] == ["kept.txt"]
    manifest = p.parse_agent_message(str(frames.sent[-4]))
    assert isinstance(manifest, p.OutputManifest)
    assert [f.name for f in manifest.files] == ["kept.txt"]


def test_the_spool_is_released_only_when_logs_files_and_end_are_stored(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    (spool.output_dir / "a").write_text("a")
    (spool.output_dir / "b").write_text("b")
    spool.seal()

    def ack(**fields: object) -> p.Ack:
        values: dict[str, object] = {
            "run_id": 3,
            "attempt": 1,
            "seq": 3,
            "stdout": 6,
            "stderr": 5,
            "done": True,
            "outputs": 2,
            **fields,
        }
        return p.Ack.model_validate(values)

    assert not released(spool, ack())  # not finished on the agent yet
    _state(spool, "SUCCESS")
    assert released(spool, ack())
    assert not released(spool, ack(outputs=1))
    assert not released(spool, ack(stdout=5))
    assert not released(spool, ack(done=False))


async def test_states_gathered_for_one_frame_stay_behind_their_logs(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    frames = Frames()
    sent = Sent()
    gathered: list[str] = []
    await flush(frames, spool, sent, gathered)
    assert frames.kinds() == ["log:stdout", "log:stderr"]  # the caller sends the states
    assert [json.loads(s)["status"] for s in gathered] == ["STARTED", "RUNNING"]
    assert sent.seq == 2
    _state(spool, "SUCCESS")
    spool.seal()
    again: list[str] = []
    await flush(frames, spool, sent, again)
    assert [json.loads(s)["status"] for s in again] == ["SUCCESS"]
    batch = p.parse_agent_message(p.state_batch_frame(gathered + again))
    assert isinstance(batch, p.StateBatch)
    assert [s.seq for s in batch.states] == [1, 2, 3]
