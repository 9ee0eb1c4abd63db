"""What the web views share: the event bus dependency and the error a page shows as HTML."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.errors import AlmanacError, NotFound
from app.web.events import EventBus


class PageError(Exception):
    """An error a page shows as HTML (the API's errors stay JSON)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message

    @classmethod
    def of(cls, exc: AlmanacError) -> PageError:
        return cls(404 if isinstance(exc, NotFound) else 409, str(exc))


def get_bus(request: Request) -> EventBus:
    bus: EventBus = request.app.state.events
    return bus


BusDep = Annotated[EventBus, Depends(get_bus)]


def sse_lifetime(request: Request) -> float:
    return float(request.app.state.sse_lifetime)


LifetimeDep = Annotated[float, Depends(sse_lifetime)]
