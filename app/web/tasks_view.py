"""What the Tasks & Groups page shows, read through the services: the list (tasks or groups, with
search, active filter and pages) and the choices a task or group form offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal
from urllib.parse import urlencode

from app.domain._walltime import zone_names
from app.services import catalog, groups, tasks
from app.services.last_runs import LastRun, last_runs
from app.web.calls import Calls, dump
from app.web.features import api_has

LIST_PAGE = 25
Tab = Literal["tasks", "groups"]
ActiveFilter = Literal["", "true", "false"]


@dataclass(frozen=True, kw_only=True)
class ListFilters:
    tab: Tab = "tasks"
    q: str = ""
    active: ActiveFilter = ""
    page: int = 1

    def query(self, **override: str | int) -> str:
        values: dict[str, str | int] = {
            "tab": self.tab,
            "q": self.q,
            "active": self.active,
            "page": self.page,
        }
        values.update(override)
        shown = {
            k: v
            for k, v in values.items()
            if v and not (k == "page" and v == 1) and not (k == "tab" and v == "tasks")
        }
        return urlencode(shown)


@dataclass(frozen=True, kw_only=True)
class ListView:
    filters: ListFilters
    rows: list[dict[str, Any]]
    has_more: bool
    group_names: dict[int, str] = field(default_factory=dict)
    # Groups frozen (inactive): their tasks are not scheduled, whatever their own flag says.
    frozen_groups: frozenset[int] = frozenset()
    selected: int | None = None
    last_runs: dict[int, LastRun] = field(default_factory=dict)

    def task_state(self, task: dict[str, Any]) -> str:
        """ "active", "inactive", or "frozen" (its group is)."""
        if task.get("group") in self.frozen_groups:
            return "frozen"
        return "active" if task.get("active") else "inactive"


@dataclass(frozen=True, kw_only=True)
class Choices:
    """What the task and group forms offer to pick from."""

    groups: list[dict[str, Any]]
    calendars: list[str]
    agents: list[str]
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def timezones(self) -> list[str]:
        return timezones()

    @property
    def calendar_options(self) -> list[tuple[str, str]]:
        return [("", "None"), *((name, name) for name in self.calendars)]

    @property
    def group_options(self) -> list[tuple[str, str]]:
        return [("", "No group"), *((str(g["gid"]), g["name"]) for g in self.groups)]


@cache
def timezones() -> list[str]:
    return zone_names()  # IANA names a schedule accepts (no `localtime`)


async def load_list(calls: Calls, filters: ListFilters, selected: int | None = None) -> ListView:
    active = {"": None, "true": True, "false": False}[filters.active]
    page = {"q": filters.q or None, "active": active, "page": filters.page}
    if filters.tab == "tasks":
        rows = dump(await calls.read(tasks.list_tasks, **page, page_size=LIST_PAGE + 1))
    else:
        rows = dump(await calls.read(groups.list_groups, **page, page_size=LIST_PAGE + 1))
    names: dict[int, str] = {}
    frozen: set[int] = set()
    shown = {int(r["group"]) for r in rows[:LIST_PAGE] if r.get("group")}
    if filters.tab == "tasks" and shown:  # only the groups of the rows shown
        for gid, (name, active) in (await calls.read(groups.names_and_states, gids=shown)).items():
            names[gid] = name
            if not active:
                frozen.add(gid)
    last: dict[int, LastRun] = {}
    if filters.tab == "tasks" and rows:
        last = await calls.read(
            last_runs,
            task_ids=[r["tid"] for r in rows[:LIST_PAGE]],
            now=calls.context.clock.now(),
        )
    return ListView(
        filters=filters,
        rows=rows[:LIST_PAGE],
        last_runs=last,
        has_more=len(rows) > LIST_PAGE,
        group_names=names,
        frozen_groups=frozenset(frozen),
        selected=selected,
    )


async def load_choices(calls: Calls, *, with_tasks: bool = False) -> Choices:
    return Choices(
        groups=await calls.read(groups.group_choices),
        calendars=await calls.read(catalog.calendar_names),
        agents=await calls.read(catalog.agent_names),
        tasks=dump(await calls.read(tasks.list_tasks, page_size=1000)) if with_tasks else [],
    )


def has_import_export(calls: Calls) -> bool:
    return api_has(calls.request, "GET", "/export") and api_has(calls.request, "POST", "/import")


def schedule_summary(schedule: dict[str, Any] | None) -> str:
    """One short line for the list, with the zone its times are in: "cron 30 8 * * 1-5 UTC",
    "09:00, 13:30 mon-fri Europe/Berlin"."""
    if not schedule:
        return ""
    return f"{_schedule_words(schedule)} {schedule.get('timezone') or 'UTC'}"


def _schedule_words(schedule: dict[str, Any]) -> str:
    kind = schedule.get("kind")
    days = schedule.get("days")
    tail = f" {days}" if days and days != "mon-sun" else ""
    if kind == "cron":
        return f"cron {schedule.get('cron', '')}"
    if kind == "times":
        return ", ".join(schedule.get("times") or []) + tail
    if kind == "frequency":
        window = schedule.get("window")
        span = f" {window['start']}–{window['end']}" if window else ""
        return f"every {schedule.get('every_minutes')} min{span}{tail}"
    if kind == "once":
        return f"once {str(schedule.get('at', ''))[:16].replace('T', ' ')}"
    return str(kind)
