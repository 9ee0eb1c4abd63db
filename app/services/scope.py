"""The instance scope: which instances one caller may see and touch. Every read and every
write of the API and the web pages narrows or checks through this one class."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, true
from sqlmodel import col
from sqlmodel.sql.expression import Select, SelectOfScalar

from app.db.tables import User
from app.errors import InvalidInput, NotFound

_Stmt = TypeVar("_Stmt", bound=Select[Any] | SelectOfScalar[Any])


@dataclass(frozen=True)
class InstanceScope:
    """The instances one caller may see and touch (`*` = all)."""

    granted: frozenset[str]

    @classmethod
    def of(cls, user: User) -> InstanceScope:
        return cls(frozenset(user.instances))

    @property
    def everything(self) -> bool:
        return "*" in self.granted

    def allows(self, instance: str | None) -> bool:
        """Global objects (instance None) are visible to all."""
        return instance is None or self.everything or instance in self.granted

    def covers(self, instances: Iterable[str]) -> bool:
        """Every one of `instances` is granted (a grant of `*` needs `*`)."""
        return self.everything or set(instances) <= self.granted

    def check(self, instance: str | None, kind: str = "object", key: object = "") -> None:
        """NotFound (404) for an object outside the scope: it does not exist for the caller."""
        if not self.allows(instance):
            raise NotFound(kind, key)

    def require(self, instance: str, field: str = "instance") -> None:
        """Refuse to create or move something into an instance that is not granted."""
        if not self.everything and instance not in self.granted:
            raise InvalidInput(field, f"instance {instance!r} is not granted to you")

    def condition(self, column: Any) -> ColumnElement[bool]:
        """A WHERE clause keeping the rows whose `column` (an instance column) is granted."""
        if self.everything:
            return true()
        return col(column).in_(sorted(self.granted))

    def filter(self, stmt: _Stmt, column: Any) -> _Stmt:
        """`stmt` narrowed to rows whose `column` (an instance column) is granted."""
        if self.everything:
            return stmt
        return cast(_Stmt, stmt.where(self.condition(column)))

    def names(self) -> list[str] | None:
        """The granted instance names, or None for all."""
        return None if self.everything else sorted(self.granted)
