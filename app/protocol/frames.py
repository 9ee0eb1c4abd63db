"""The agent wire protocol (WebSocket at /api/v1/agents/connect).

Text frames carry JSON control messages; log output and output files travel in binary frames
made of a 4-byte big-endian header length, a JSON header and the raw bytes, so no byte is
re-encoded. Every state change carries a per-attempt sequence number and every log or file
chunk its byte offset, so a replay after a reconnect is applied exactly once.

After a run ends the agent sends its output files, then their manifest (`outputs`: name,
size, sha256 of each), then the final state: the server's `ack` of the final state counts
the files it has stored, and the agent keeps its spool until every one of them is counted.
"""

from __future__ import annotations

import json
import struct
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The server closes an agent's connection with this code when the agent was removed from the
# fleet: the agent stops instead of dialling again.
CLOSE_REMOVED = 4001
# Refusals of identity (token bound to another name, name already connected, token revoked).
CLOSE_POLICY = 1008


class _Msg(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RunRef(_Msg):
    run_id: int
    attempt: int


class HeldRun(RunRef):
    """A run the agent still holds (running, or finished but not yet acknowledged)."""

    status: str
    seq: int


class Hello(_Msg):
    type: Literal["hello"] = "hello"
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    version: str
    max_runs: int | None = None
    resources: dict[str, Any] = Field(default_factory=dict)
    runs: list[HeldRun] = Field(default_factory=list)
    # Random per agent process: a reconnect of the same process may replace its own
    # half-dead connection; another holder of the name may not.
    session: str = Field(default="", max_length=100)


class Heartbeat(_Msg):
    type: Literal["heartbeat"] = "heartbeat"
    resources: dict[str, Any] = Field(default_factory=dict)
    runs: list[HeldRun] = Field(default_factory=list)


class AgentState(StrEnum):
    """What an agent reports of an attempt: the run statuses from the moment it has it."""

    STARTED = "STARTED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"


# How an attempt ends: after one of these the agent reports nothing more of it.
ENDINGS: frozenset[AgentState] = frozenset(
    {AgentState.SUCCESS, AgentState.FAILED, AgentState.TERMINATED}
)


class StateChange(RunRef):
    type: Literal["state"] = "state"
    seq: int
    status: AgentState
    at: datetime
    detail: str = ""
    exit_code: int | None = None
    reason: str | None = None
    # Only with an ending: what the command wrote to $ALMANAC_RESULTS (app/domain/results.py),
    # and what the agent dropped of it. Older servers ignore both; older agents send neither.
    results: dict[str, Any] | None = None
    results_note: str | None = None


class StateBatch(_Msg):
    """State changes of any attempts, in order, in one frame (a burst is a few frames)."""

    type: Literal["states"] = "states"
    states: list[StateChange]


def state_batch_frame(states: list[str]) -> str:
    """A StateBatch frame from states already serialised (each one only once)."""
    return '{"type":"states","states":[' + ",".join(states) + "]}"


class Resume(RunRef):
    """What the server already has of a run: the agent resends everything after it."""

    stdout: int = 0
    stderr: int = 0
    seq: int = 0
    # Bytes stored so far of each output file (complete or not) of this attempt.
    outputs: dict[str, int] = Field(default_factory=dict)
    # The server no longer expects this run from this agent (declared lost, killed): stop it.
    abandon: bool = False


class Welcome(_Msg):
    type: Literal["welcome"] = "welcome"
    heartbeat_interval: float
    resume: list[Resume] = Field(default_factory=list)


class Ack(RunRef):
    """Everything up to these positions is stored; a finished run's spool can go."""

    type: Literal["ack"] = "ack"
    seq: int
    stdout: int
    stderr: int
    done: bool = False
    # Output files of this attempt stored complete (size and sha256 checked).
    outputs: int = 0


class InputFile(_Msg):
    """An upstream's output file the run may read: its agent fetches it before the start
    (GET /api/v1/agents/inputs/{run}/{attempt}/{run_id}/{name}, with the agent's token)."""

    task: str
    run_id: int
    attempt: int
    name: str
    size: int
    sha256: str


class StartRun(RunRef):
    type: Literal["start"] = "start"
    command: str
    image: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    workdir: str | None = None
    run_as_user: str | None = None
    cpus: float | None = None
    memory: str | None = None
    gpus: list[int] = Field(default_factory=list)
    # Bind cores and memory to this NUMA node (cpuset); a no-op on a one-node host.
    numa_node: int | None = None
    mounts: list[str] = Field(default_factory=list)
    max_run_seconds: float | None = None
    # Output files of the run's upstreams in its group run (older agents ignore them).
    inputs: list[InputFile] = Field(default_factory=list)


class StartBatch(_Msg):
    """Several starts in one frame: a burst costs the agent one message, not a thousand."""

    type: Literal["starts"] = "starts"
    runs: list[StartRun]


class Control(RunRef):
    type: Literal["kill", "pause", "resume"]
    grace_seconds: float = 10.0


class OutputFile(_Msg):
    name: str  # relative POSIX path inside the run's output directory
    size: int
    sha256: str


class OutputManifest(RunRef):
    """Every file the attempt left in its output directory; sent after the files' bytes."""

    type: Literal["outputs"] = "outputs"
    files: list[OutputFile] = Field(default_factory=list)


class LogHeader(RunRef):
    kind: Literal["log"] = "log"
    stream: Literal["stdout", "stderr"]
    offset: int


class OutputHeader(RunRef):
    """A chunk of one output file, at its byte offset."""

    kind: Literal["output"] = "output"
    name: str
    offset: int


FrameHeader = LogHeader | OutputHeader


def encode_frame(header: FrameHeader, data: bytes) -> bytes:
    head = header.model_dump_json().encode()
    return struct.pack(">I", len(head)) + head + data


def decode_frame(frame: bytes) -> tuple[FrameHeader, bytes]:
    (length,) = struct.unpack(">I", frame[:4])
    raw = json.loads(frame[4 : 4 + length])
    kind = raw.get("kind", "log") if isinstance(raw, dict) else None
    header: FrameHeader
    if kind == "output":
        header = OutputHeader.model_validate(raw)
    elif kind == "log":
        header = LogHeader.model_validate(raw)
    else:
        raise ValueError(f"unknown binary frame kind {kind!r}")
    return header, frame[4 + length :]


class Leaving(_Msg):
    """The agent is shutting down: send it no new work (its running work goes on)."""

    type: Literal["leaving"] = "leaving"


class AckBatch(_Msg):
    """The acks of one stored batch, in one frame."""

    type: Literal["acks"] = "acks"
    acks: list[Ack]


AgentMessage = Hello | Heartbeat | StateChange | StateBatch | OutputManifest | Leaving
ServerMessage = Welcome | Ack | AckBatch | StartRun | StartBatch | Control

_AGENT_TYPES: dict[str, type[_Msg]] = {
    "hello": Hello,
    "heartbeat": Heartbeat,
    "state": StateChange,
    "states": StateBatch,
    "outputs": OutputManifest,
    "leaving": Leaving,
}
_SERVER_TYPES: dict[str, type[_Msg]] = {
    "welcome": Welcome,
    "ack": Ack,
    "acks": AckBatch,
    "start": StartRun,
    "starts": StartBatch,
    "kill": Control,
    "pause": Control,
    "resume": Control,
}


def parse_agent_message(text: str) -> _Msg:
    return _parse(text, _AGENT_TYPES)


def parse_server_message(text: str) -> _Msg:
    return _parse(text, _SERVER_TYPES)


def _parse(text: str, types: dict[str, type[_Msg]]) -> _Msg:
    data = json.loads(text)
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in types:
        raise ValueError(f"unknown message type {kind!r}")
    return types[kind].model_validate(data)
