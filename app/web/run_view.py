"""What the run detail page shows, gathered through the services: the run with its timeline,
the operator actions its status and the viewer's role allow, and one page of its log."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from math import ceil
from typing import Any, Literal

from app.context import AppContext
from app.domain.states import ON_AGENT, RunStatus, is_terminal
from app.models.schemas import LogPagePublic, RunDetail, RunPublic
from app.services import outputs, run_reads, runs, versions
from app.web.calls import ApiError, Calls
from app.web.deps import PageError
from app.web.features import api_has
from app.web.timeline import Step, timeline

LOG_PAGE = 500
Stream = Literal["stdout", "stderr"]


@dataclass(frozen=True, kw_only=True)
class Action:
    name: str  # the URL's last part: /task-runs/{id}/{name}
    label: str
    icon: str
    style: str = ""  # "danger", "primary"
    confirm: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunView:
    run: RunDetail
    steps: list[Step]
    actions: list[Action]
    task_group: str | None = None
    outputs: list[dict[str, Any]] | None = None  # None: no outputs endpoint, or still going
    version: int = 0  # events seen: the live stream resends the status when it moved on
    attempt: int = 1  # the attempt shown (a retry is a new attempt with its own timeline)
    attempts: list[tuple[int, str]] = field(default_factory=list)  # (attempt, its last status)
    task_version_now: int | None = None  # the task's latest definition version

    @property
    def terminal(self) -> bool:
        return is_terminal(RunStatus(self.run.status))

    @property
    def current(self) -> bool:
        """The latest attempt: the one that can still change (and is followed live)."""
        return self.attempt == self.run.attempt


@dataclass(frozen=True, kw_only=True)
class LogView:
    run_id: int
    attempt: int
    stream: Stream
    page: LogPagePublic
    counts: dict[str, int]
    live: bool  # the last page of a run still going: new output is appended
    open_end: dict[str, bool] = field(default_factory=dict)  # last line without newline yet
    sizes: dict[str, int] = field(default_factory=dict)  # bytes stored per stream

    @property
    def pages(self) -> int:
        return max(1, ceil(self.page.total_lines / LOG_PAGE))


async def load_run(
    api: Calls, context: AppContext, run_id: int, attempt: int | None = None
) -> RunView:
    run = await api.read(runs.read_run, run_id=run_id, hub=context.hub, now=context.clock.now())
    chosen = attempt if attempt is not None and 1 <= attempt <= run.attempt else run.attempt
    last: dict[int, str] = {e.attempt: e.status for e in run.events}
    status = run.status if chosen == run.attempt else last.get(chosen, run.status)
    steps = timeline(run.events, status, chosen, context.clock.now())
    names = await api.read(run_reads.group_names, task_ids=[run.task] if run.task else [])
    group = names.get(run.task) if run.task is not None else None
    done = chosen < run.attempt or is_terminal(RunStatus(run.status))
    outputs = await _outputs(api, run, chosen) if done else None
    head = await api.read(versions.task_head, tid=run.task) if run.task is not None else None
    return RunView(
        run=run,
        steps=steps,
        actions=actions_for(api, run),
        task_group=group,
        outputs=outputs,
        version=len(run.events),
        attempt=chosen,
        attempts=sorted(last.items()),
        task_version_now=head,
    )


async def _outputs(api: Calls, run: RunDetail, attempt: int) -> list[dict[str, Any]] | None:
    """The attempt's output files; None while the API has no outputs endpoint."""
    if not api_has(api.request, "GET", "/runs/{run_id}/outputs"):
        return None
    listing = await api.read(outputs.list_outputs, run_id=run.id, attempt=attempt)
    return [item.model_dump(mode="json") for item in listing.outputs]


async def visible_run(calls: Calls, context: AppContext, run_id: int) -> RunPublic:
    """The run as lists show it (the log viewer needs no timeline): NotFound, as the API
    answers, when the viewer may not see its instance."""
    try:
        return await calls.read(run_reads.public_run, run_id=run_id)
    except ApiError as exc:
        raise PageError(exc.status_code, exc.detail) from None


def actions_for(api: Calls, run: RunDetail) -> list[Action]:
    """Buttons for this status and role; each only where the API has its endpoint."""
    if not api.session.can_operate:
        return []
    status = RunStatus(run.status)
    wanted: list[Action] = []
    if status is RunStatus.PENDING_APPROVAL:
        wanted += [
            Action(name="approve", label="Approve", icon="check", style="primary"),
            Action(
                name="reject",
                label="Reject",
                icon="ban",
                style="danger",
                confirm="Reject this run?",
            ),
        ]
    if status is RunStatus.RUNNING:
        wanted.append(Action(name="pause", label="Pause", icon="pause"))
    if status is RunStatus.PAUSED:
        wanted.append(Action(name="resume", label="Resume", icon="play", style="primary"))
    if status in (RunStatus.IDLE, RunStatus.ACTIVE) and run.group_run is not None:
        wanted.append(
            Action(
                name="force",
                label="Start now",
                icon="bolt",
                confirm="Start this run now, ignoring its upstream tasks?",
            )
        )
    if not is_terminal(status) and status is not RunStatus.PENDING_APPROVAL:
        wanted.append(
            Action(
                name="kill",
                label="Kill" if status in ON_AGENT else "Cancel",
                icon="stop",
                style="danger",
                confirm="Stop this run?",
            )
        )
    if status is RunStatus.FAILED:
        wanted.append(
            Action(
                name="mark-success",
                label="Mark success",
                icon="check",
                confirm="Mark this failed run SUCCESS and release its downstream?",
            )
        )
    if is_terminal(status) and status is not RunStatus.REJECTED:
        wanted.append(
            Action(
                name="rerun",
                label="Re-run",
                icon="reload",
                confirm="Run it again (with its downstream tasks in the group)?",
            )
        )
    return [a for a in wanted if api_has(api.request, "POST", f"/runs/{{run_id}}/{a.name}")]


async def load_log(
    api: Calls,
    context: AppContext,
    run: RunPublic,
    *,
    stream: Stream,
    page: int | None,
    attempt: int | None = None,
) -> LogView:
    """`page` None: the first page of a finished run, the last page of one still going."""
    chosen = attempt or run.attempt
    going = not is_terminal(RunStatus(run.status)) and chosen == run.attempt
    other: Stream = "stderr" if stream == "stdout" else "stdout"
    logs = partial(api.read, runs.read_logs, run_id=run.id, attempt=chosen)
    probe = await logs(stream=other, page=1, page_size=1)
    wanted = page or 1
    shown = await logs(stream=stream, page=wanted, page_size=LOG_PAGE)
    last = max(1, ceil(shown.total_lines / LOG_PAGE))
    if page is None and going and last > 1:
        shown = await logs(stream=stream, page=last, page_size=LOG_PAGE)
    live = going and (page is None or page >= last)
    sizes: dict[str, int] = {stream: shown.total_bytes, other: probe.total_bytes}
    open_end = await api.read(run_reads.open_ends, run_id=run.id, attempt=chosen, sizes=sizes)
    return LogView(
        run_id=run.id,
        attempt=chosen,
        stream=stream,
        page=shown,
        counts={stream: shown.total_lines, other: probe.total_lines},
        live=live,
        open_end=open_end,
        sizes=sizes,
    )
