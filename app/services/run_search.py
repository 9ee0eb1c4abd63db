"""More ways to narrow and order the runs list (Task Runs and `GET /runs`): by agent,
trigger kind, instance, business date, past or upcoming, and a sort column. A value object
applied to the list's statement, so the list keeps one query per page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar, cast

from sqlmodel import col
from sqlmodel.sql.expression import Select, SelectOfScalar

from app.db.tables import Run
from app.domain.states import RunStatus, TriggerKind
from app.models.schemas import RunPublic

View = Literal["", "past", "upcoming"]
Sort = Literal["", "id", "trigger_time", "started_at", "finished_at", "status", "agent"]
Order = Literal["desc", "asc"]
VIEWS: tuple[View, ...] = ("", "past", "upcoming")
SORTS: tuple[Sort, ...] = ("", "id", "trigger_time", "started_at", "finished_at", "status", "agent")
_COLUMNS: dict[str, Any] = {
    "id": Run.id,
    "trigger_time": Run.trigger_time,
    "started_at": Run.started_at,
    "finished_at": Run.finished_at,
    "status": Run.status,
    "agent": Run.agent,
}
# Columns a run may have no value in (the others are never empty on a listed run).
_NULLABLE = frozenset({"started_at", "finished_at", "agent"})
_Stmt = TypeVar("_Stmt", bound=Select[Any] | SelectOfScalar[Any])


@dataclass(frozen=True, kw_only=True)
class RunQuery:
    """`view`: past (every run but the planned ones), upcoming (the planned ones, soonest
    first) or both (""). `sort`: a column, ties broken by id; "" keeps newest first."""

    agent: str | None = None
    trigger_kind: TriggerKind | None = None
    instance: str | None = None
    business_date: date | None = None
    view: View = ""
    sort: Sort = ""
    order: Order = "desc"

    @property
    def reorders(self) -> bool:
        """Rows are not in newest-first order (a live page cannot insert new ones)."""
        return (
            bool(self.sort and self.sort != "id")
            or self.view == "upcoming"
            or (self.sort == "id" and self.order == "asc")
        )

    def narrow(self, stmt: _Stmt) -> _Stmt:
        where = []
        if self.agent:
            where.append(col(Run.agent) == self.agent)
        if self.trigger_kind is not None:
            where.append(col(Run.trigger_kind) == self.trigger_kind)
        if self.instance:
            where.append(col(Run.instance) == self.instance)
        if self.business_date is not None:
            where.append(col(Run.business_date) == self.business_date)
        if self.view == "past":
            where.append(col(Run.status) != RunStatus.IDLE)
        elif self.view == "upcoming":
            where.append(col(Run.status) == RunStatus.IDLE)
        if where:
            stmt = cast(_Stmt, stmt.where(*where))
        return self._ordered(stmt)

    def _ordered(self, stmt: _Stmt) -> _Stmt:
        if self.sort:
            column = col(_COLUMNS[self.sort])
            ascending = self.order == "asc"
        elif self.view == "upcoming":
            column, ascending = col(Run.trigger_time), True
        else:
            return stmt
        tie = col(Run.id).asc() if ascending else col(Run.id).desc()
        first = column.asc() if ascending else column.desc()
        # Read in an index's order: (column, id) for each sort column (migrations 0021,
        # 0026). The runs without a value of a nullable column come last: see `split`.
        return cast(_Stmt, stmt.order_by(None).order_by(first, tie))

    def split(self, stmt: _Stmt) -> tuple[_Stmt, _Stmt] | None:
        """For a sort by a column that may be empty (not started, not finished, no agent):
        the statement of the runs with a value, in the column's order (read down its
        index), and that of the runs without one, by id the same way round, which a page
        puts after them whichever the order (the page shows what happened first). None
        for any other sort. One ORDER BY `column IS NULL, column, id` says the same but no
        index serves it: each page sorted the whole table."""
        if self.sort not in _NULLABLE:
            return None
        column = col(_COLUMNS[self.sort])
        tie = col(Run.id).asc() if self.order == "asc" else col(Run.id).desc()
        present = cast(_Stmt, stmt.where(column.is_not(None)))
        absent = cast(_Stmt, stmt.where(column.is_(None)).order_by(None).order_by(tie))
        return present, absent

    def admits(self, run: RunPublic) -> bool:
        """Would this run appear on a page filtered so (order aside)?"""
        checks = (
            not self.agent or run.agent == self.agent,
            self.trigger_kind is None or run.trigger_kind == self.trigger_kind,
            not self.instance or run.instance == self.instance,
            self.business_date is None or run.business_date == self.business_date,
            self.view != "past" or run.status != RunStatus.IDLE,
            self.view != "upcoming" or run.status == RunStatus.IDLE,
        )
        return all(checks)
