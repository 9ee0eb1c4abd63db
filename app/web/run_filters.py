"""The Task Runs page's further filters, as the URL carries them (shareable): group, agent,
trigger kind, instance, a custom range (`from` / `to`, in the viewer's timezone), a
business date, jump to a date, past or upcoming runs, and the sort column. Each is checked;
a bad one is named in `error` and the page shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, Query

from app.domain.names import plain_name
from app.domain.states import TriggerKind
from app.models.schemas import RunPublic
from app.services.run_search import SORTS, Order, RunQuery, Sort, View

PageView = Literal["", "upcoming", "all"]  # "": past runs (the default tab)
KINDS = tuple(k.value for k in TriggerKind)
# Column header -> the sort key its link sets (the other columns keep their place).
SORTABLE = {
    "Trigger time": "trigger_time",
    "Status": "status",
    "Agent": "agent",
    "Started": "started_at",
    "Finished": "finished_at",
}
_VIEWS: dict[str, View] = {"": "past", "upcoming": "upcoming", "all": ""}


@dataclass(frozen=True, kw_only=True)
class MoreFilters:
    group: int | None = None
    agent: str = ""
    kind: str = ""
    instance: str = ""
    start: str = ""  # `from`: YYYY-MM-DD or YYYY-MM-DDTHH:MM, the viewer's time
    end: str = ""  # `to`: the same; a date alone includes the whole day
    business_date: str = ""
    jump: str = ""  # YYYY-MM-DD: runs triggered up to the end of that day, newest first
    view: PageView = ""
    sort: Sort = ""
    order: Order = "desc"
    error: str = ""  # "field: problem" of the first bad value (the filters then match nothing)

    def values(self) -> dict[str, str | int]:
        """The URL's parameters (empty ones are left out by the caller)."""
        return {
            "group": self.group or "",
            "agent": self.agent,
            "kind": self.kind,
            "instance": self.instance,
            "from": self.start,
            "to": self.end,
            "business_date": self.business_date,
            "jump": self.jump,
            "view": self.view,
            "sort": self.sort,
            "order": "" if self.order == "desc" else self.order,
        }

    @property
    def active(self) -> bool:
        """Any filter besides the tab and the order."""
        return any(
            (
                self.group,
                self.agent,
                self.kind,
                self.instance,
                self.start,
                self.end,
                self.business_date,
                self.jump,
            )
        )

    def run_query(self) -> RunQuery:
        return RunQuery(
            agent=self.agent or None,
            trigger_kind=TriggerKind(self.kind) if self.kind else None,
            instance=self.instance or None,
            business_date=date.fromisoformat(self.business_date) if self.business_date else None,
            view=_VIEWS[self.view],
            sort=self.sort,
            order=self.order,
        )

    def bounds(self, zone: tzinfo) -> tuple[datetime | None, datetime | None]:
        """(since, until) of the trigger time: `from`, and the earlier of `to` and `jump`."""
        since = _instant(self.start, zone, end=False) if self.start else None
        ends = [_instant(value, zone, end=True) for value in (self.end, self.jump) if value]
        return since, min(ends) if ends else None

    def admits(self, run: RunPublic) -> bool:
        """Would a new run join this page (at the top, newest first)? Not where a group,
        a custom range or a jump is set (they need a lookup or a clock), nor where the rows
        are in another order."""
        if self.error or self.group is not None or self.start or self.end or self.jump:
            return False
        query = self.run_query()
        return not query.reorders and query.admits(run)


def viewer_zone(name: str) -> tzinfo:
    """The viewer's timezone (UTC when unknown): `from`, `to` and `jump` are read in it."""
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _instant(value: str, zone: tzinfo, *, end: bool) -> datetime:
    if "T" in value:
        return datetime.fromisoformat(value).replace(tzinfo=zone)
    day = date.fromisoformat(value)
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(), tzinfo=zone)


def _check_moment(field: str, value: str) -> str:
    try:
        if "T" in value:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return f"{field}: give the time without an offset (it is read in your timezone)"
        else:
            date.fromisoformat(value)
    except ValueError:
        return f"{field}: {value!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM)"
    return ""


def _check_name(field: str, value: str) -> str:
    try:
        plain_name(value)
    except ValueError as exc:
        return f"{field}: {exc}"
    return ""


def more_filters(
    group: Annotated[str, Query(max_length=12)] = "",
    agent: Annotated[str, Query(max_length=200)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    instance: Annotated[str, Query(max_length=100)] = "",
    start: Annotated[str, Query(alias="from", max_length=20)] = "",
    end: Annotated[str, Query(alias="to", max_length=20)] = "",
    business_date: Annotated[str, Query(max_length=20)] = "",
    jump: Annotated[str, Query(max_length=20)] = "",
    view: Annotated[str, Query(max_length=10)] = "",
    sort: Annotated[str, Query(max_length=20)] = "",
    order: Annotated[str, Query(max_length=4)] = "desc",
) -> MoreFilters:
    """Every value checked; the first bad one is named in `error`."""
    group, agent, instance = group.strip(), agent.strip(), instance.strip()
    problems = [
        ""
        if not group or (group.isdigit() and int(group) > 0)
        else f"group: {group!r} is not a group id",
        ""
        if not kind or kind in KINDS
        else f"kind: {kind!r} is not a trigger kind ({', '.join(KINDS)})",
        _check_name("instance", instance),
        _check_name("agent", agent),
        _check_moment("from", start) if start else "",
        _check_moment("to", end) if end else "",
        _check_moment("business_date", business_date) if business_date else "",
        _check_moment("jump", jump) if jump else "",
        ""
        if not business_date or "T" not in business_date
        else "business_date: give a date (YYYY-MM-DD)",
        "" if not jump or "T" not in jump else "jump: give a date (YYYY-MM-DD)",
        ""
        if view in ("", "upcoming", "all")
        else f"view: {view!r} is not one of past, upcoming, all",
        "" if sort in SORTS else f"sort: {sort!r} is not a column ({', '.join(SORTS[1:])})",
        "" if order in ("asc", "desc") else f"order: {order!r} is not asc or desc",
    ]
    error = next((p for p in problems if p), "")
    if error:
        return MoreFilters(error=error)
    if start and end and not error:
        error = "" if start <= end else "to: must not be before from"
    return MoreFilters(
        group=int(group) if group else None,
        agent=agent,
        kind=kind,
        instance=instance,
        start=start,
        end=end,
        business_date=business_date,
        jump=jump,
        view="all" if view == "all" else "upcoming" if view == "upcoming" else "",
        sort=sort,  # type: ignore[arg-type]  # checked against SORTS above
        order="asc" if order == "asc" else "desc",
        error=error,
    )


MoreFiltersDep = Annotated[MoreFilters, Depends(more_filters)]
