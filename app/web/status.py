"""How run statuses look: label, icon, colour class, and the lifecycle chain they sit on."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.states import RunStatus, is_terminal


@dataclass(frozen=True)
class StatusMeta:
    name: str
    label: str
    icon: str  # an icon name of templates/_icons.html
    css: str  # s-<name>: colour class in app.css
    meaning: str

    @property
    def terminal(self) -> bool:
        return is_terminal(RunStatus(self.name))

    @property
    def live(self) -> bool:  # executing now: drawn with a pulse
        return self.name in ("TRIGGER", "STARTED", "RUNNING")


_META = [
    StatusMeta("IDLE", "Idle", "clock", "s-idle", "planned: waiting for its trigger time"),
    StatusMeta(
        "ACTIVE", "Active", "bolt", "s-active", "due: waiting for upstreams, a slot or an agent"
    ),
    StatusMeta(
        "TRIGGER", "Triggered", "send", "s-trigger", "sent to an agent, not yet acknowledged"
    ),
    StatusMeta("STARTED", "Started", "flag", "s-started", "acknowledged: the agent is preparing"),
    StatusMeta("RUNNING", "Running", "play", "s-running", "the command is executing"),
    StatusMeta("PAUSED", "Paused", "pause", "s-paused", "execution suspended"),
    StatusMeta("SUCCESS", "Success", "check", "s-success", "exit code 0"),
    StatusMeta(
        "FAILED",
        "Failed",
        "cross",
        "s-failed",
        "non-zero exit, launch error, timeout or agent lost",
    ),
    StatusMeta("TERMINATED", "Terminated", "stop", "s-terminated", "stopped by an operator"),
    StatusMeta("SKIPPED", "Skipped", "skip", "s-skipped", "not run: upstream failed or frozen"),
    StatusMeta(
        "PENDING_APPROVAL", "Pending approval", "hourglass", "s-pending", "waiting for an operator"
    ),
    StatusMeta("REJECTED", "Rejected", "ban", "s-rejected", "refused by an operator"),
]
STATUSES: dict[str, StatusMeta] = {m.name: m for m in _META}

# The normal path, drawn as a chain on every run row and as the detail page's timeline.
CHAIN = ("IDLE", "ACTIVE", "TRIGGER", "STARTED", "RUNNING")
ENDINGS = ("SUCCESS", "FAILED", "TERMINATED")


def status_meta(name: str) -> StatusMeta:
    return STATUSES.get(name) or StatusMeta(name, name.title(), "dot", "s-idle", "")


def chain_position(status: str) -> int:
    """Index of `status` on CHAIN (+ the ending slot), -1 when it is off the chain."""
    if status in CHAIN:
        return CHAIN.index(status)
    if status == "PAUSED":
        return CHAIN.index("RUNNING")
    if status in ENDINGS or status in STATUSES:
        return len(CHAIN)
    return -1


def chain_steps(status: str) -> list[tuple[str, str]]:
    """The lifecycle chain of a run row: (label, css) per step; the current one is "now"."""
    position = chain_position(status)
    meta = status_meta(status)
    off_path = status in ("SKIPPED", "REJECTED", "PENDING_APPROVAL")
    steps: list[tuple[str, str]] = []
    for index, name in enumerate(CHAIN):
        label = "PAUSED" if name == "RUNNING" and status == "PAUSED" else name
        if off_path or index > position:
            css = ""
        elif index < position:
            css = "done"
        else:
            css = f"now {meta.css}" + (" pulse" if meta.live else "")
        steps.append((label, css))
    if position == len(CHAIN):
        steps.append((status, f"now {meta.css}"))
    else:
        steps.append(("END", ""))
    return steps
