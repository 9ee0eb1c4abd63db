"""What the agent sends of one spooled attempt: everything past what the server has.

Per attempt and connection, in this order: log bytes of both streams, then (once the attempt
has ended) the bytes of each output file, the manifest of those files, and the states. The
final state goes out only after the files and their manifest, so the server's `ack` of it
can say whether the files are all stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from app.agents.spool import STREAMS, RunSpool
from app.protocol import frames as p
from app.protocol.output_names import read_chunk

log = logging.getLogger("almanac.agent")

SEND_SIZE = 256 * 1024


class Channel(Protocol):
    async def send(self, message: str | bytes) -> None: ...


@dataclass
class Sent:
    """How far the server has (or has been sent) one attempt on this connection."""

    stdout: int = 0
    stderr: int = 0
    seq: int = 0
    outputs: dict[str, int] = field(default_factory=dict)
    manifest: bool = False

    @classmethod
    def resumed(cls, resume: p.Resume) -> Sent:
        return cls(resume.stdout, resume.stderr, resume.seq, dict(resume.outputs))


async def flush(
    channel: Channel, spool: RunSpool, sent: Sent, states_out: list[str] | None = None
) -> None:
    """Send what the server lacks of `spool`. With `states_out`, the states are appended
    there (serialised) for the caller to send in one frame after everything else it
    flushes, which keeps them behind this attempt's logs and files."""
    # The states are taken first: a final one among them means the manifest already exists.
    states = list(spool.states)
    for stream in STREAMS:
        while (position := getattr(sent, stream)) < spool.size(stream):
            data = spool.read_output(stream, position, SEND_SIZE)
            header = p.LogHeader(
                run_id=spool.run_id, attempt=spool.attempt, stream=stream, offset=position
            )
            await channel.send(p.encode_frame(header, data))
            setattr(sent, stream, position + len(data))
    if spool.manifest is not None and not sent.manifest:
        await _send_outputs(channel, spool, sent)
        files = spool.manifest or []
        await channel.send(
            p.OutputManifest(
                run_id=spool.run_id, attempt=spool.attempt, files=files
            ).model_dump_json()
        )
        sent.manifest = True
    for state in states:
        if state.seq > sent.seq:
            if states_out is None:
                await channel.send(state.model_dump_json())
            else:
                states_out.append(state.model_dump_json())
            sent.seq = state.seq


async def _send_outputs(channel: Channel, spool: RunSpool, sent: Sent) -> None:
    for file in list(spool.manifest or []):
        while (position := sent.outputs.get(file.name, 0)) < file.size:
            try:
                data = read_chunk(
                    spool.output_dir, file.name, position, min(SEND_SIZE, file.size - position)
                )
            except OSError as exc:
                data, problem = b"", str(exc)
            else:
                problem = "it shrank after the run ended"
            if not data:
                # Changed under us after the run ended (a stray process): it cannot be
                # delivered as recorded, so it is left out rather than held forever.
                log.warning(
                    "run %s attempt %s: output %r left out: %s",
                    spool.run_id,
                    spool.attempt,
                    file.name,
                    problem,
                )
                spool.drop_output(file.name)
                break
            header = p.OutputHeader(
                run_id=spool.run_id, attempt=spool.attempt, name=file.name, offset=position
            )
            await channel.send(p.encode_frame(header, data))
            sent.outputs[file.name] = position + len(data)


def released(spool: RunSpool, ack: p.Ack) -> bool:
    """Whether the server now has everything of this finished attempt."""
    return (
        ack.done
        and spool.finished
        and ack.stdout >= spool.size("stdout")
        and ack.stderr >= spool.size("stderr")
        and ack.outputs >= len(spool.manifest or [])
    )
