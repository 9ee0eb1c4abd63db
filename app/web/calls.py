"""The services, called for a page with the viewer as the acting user: the same role checks,
instance scope, validation and audit as the REST API, without a trip through HTTP. A
service's refusal comes back as `ApiError` (the status the API would answer, the message and
per-field problems), which pages show on their forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from app.api.errors import field_name, status_for
from app.context import AppContext
from app.db.engine import session_scope
from app.domain.error_words import plain_problem
from app.errors import AlmanacError
from app.io.problems import ImportRefused
from app.services.actor import Actor
from app.web.auth import SessionDep, WebSession

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """A refusal: its status, its message, and per-field problems."""

    def __init__(self, status_code: int, detail: str, errors: list[dict[str, str]]) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.errors = errors

    @classmethod
    def of(cls, exc: AlmanacError | ValidationError) -> ApiError:
        if isinstance(exc, ValidationError):
            errors = [
                {"field": field_name(err.get("loc", ())), "problem": plain_problem(err)}
                for err in exc.errors()
            ]
            return cls(422, "; ".join(f"{e['field']}: {e['problem']}" for e in errors), errors)
        if isinstance(exc, ImportRefused):
            return cls(
                exc.status, str(exc), [p.model_dump(exclude_none=True) for p in exc.problems]
            )
        return cls(status_for(exc), str(exc), [])

    def field_errors(self) -> dict[str, str]:
        """{"schedule.cron": "...", "name": "..."}; messages without a field go under "";
        several problems of one field are joined."""
        found: dict[str, str] = {}
        for error in self.errors:
            field, problem = error.get("field", ""), error.get("problem", "")
            if problem and problem not in found.get(field, ""):
                found[field] = f"{found[field]}; {problem}" if field in found else problem
        if not found:
            field, sep, problem = self.detail.partition(": ")
            if sep and " " not in field:
                found[field] = problem
            else:
                found[""] = self.detail
        return found


def parse(model: type[M], payload: Any) -> M:
    """A request body as the API would read it; ApiError (422) with its problems if not."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise ApiError.of(exc) from exc


def dump(answer: BaseModel | list[Any]) -> Any:
    """A service's answer as the API's JSON would carry it (what the templates read)."""
    if isinstance(answer, list):
        return [dump(item) for item in answer]
    return answer.model_dump(mode="json")


@dataclass(frozen=True)
class Calls:
    request: Request
    session: WebSession

    @property
    def context(self) -> AppContext:
        context: AppContext = self.request.app.state.context
        return context

    @property
    def actor(self) -> Actor:
        source = self.request.client.host if self.request.client else None
        return Actor(self.session.user, source, via="ui")

    async def read(self, read: Callable[..., T], **arguments: Any) -> T:
        """`read(session, actor=viewer, **arguments)` in its own session, in a worker thread."""

        def work() -> T:
            with session_scope(self.context.engine) as db:
                return read(db, actor=self.actor, **arguments)

        return await self.run(work)

    async def command(self, command: Callable[..., T], **arguments: Any) -> T:
        """`command(engine, actor=viewer, now=now, **arguments)`, in a worker thread."""
        context = self.context
        return await self.run(
            lambda: command(context.engine, actor=self.actor, now=context.clock.now(), **arguments)
        )

    async def awaiting(self, command: Callable[..., Awaitable[T]], **arguments: Any) -> T:
        """An async `command(engine, actor=viewer, now=now, **arguments)`."""
        context = self.context
        try:
            return await command(
                context.engine, actor=self.actor, now=context.clock.now(), **arguments
            )
        except (AlmanacError, ValidationError) as exc:
            raise ApiError.of(exc) from exc

    async def run(self, work: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(work)
        except (AlmanacError, ValidationError) as exc:
            raise ApiError.of(exc) from exc


def calls_for(request: Request, session: SessionDep) -> Calls:
    return Calls(request, session)


CallsDep = Annotated[Calls, Depends(calls_for)]
