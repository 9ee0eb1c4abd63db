"""What a transaction changed, as plain values: recorded while it works, handed to the
subscribers once it has committed (`app/db/unit_of_work.py`; who listens: `app/wiring.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

DefinitionKind = Literal["task", "group", "calendar"]
DefinitionChange = Literal["created", "updated", "deleted"]


@dataclass(frozen=True, slots=True)
class RunTransitioned:
    """A run's status changed (or the run was created), with its timeline event."""

    run_id: int
    attempt: int
    status: str
    at: datetime
    # The run's public fields as this attempt ended SUCCESS or FAILED (what an alert shows:
    # a retry may change the row later in the same transaction); None for other changes.
    ended: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DefinitionChanged:
    """A task, group or calendar was created, edited or deleted: its timers may move."""

    kind: DefinitionKind
    key: int | str  # the id of a task or group, the name of a calendar
    change: DefinitionChange = "updated"


@dataclass(frozen=True, slots=True)
class DispatchWanted:
    """Runs may be ready for an agent (forced, approved, re-run) or an agent may take work
    again: dispatch looks at once instead of at its next round."""


@dataclass(frozen=True, slots=True)
class LogAppended:
    """New output bytes of a run were stored."""

    run_id: int


@dataclass(frozen=True, slots=True)
class AgentChanged:
    """An agent's row was written (connected, heartbeat, drained, offline)."""

    name: str


Event = RunTransitioned | DefinitionChanged | DispatchWanted | LogAppended | AgentChanged
