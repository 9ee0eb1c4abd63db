"""One error tree for the whole application; mapped to HTTP only at the edge (app/api/errors.py)."""

from __future__ import annotations


class AlmanacError(Exception):
    """Base of every error the application raises on purpose."""


class NotFound(AlmanacError, LookupError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} not found")
        self.kind = kind
        self.key = key


class InvalidInput(AlmanacError, ValueError):
    """Bad input: names the field and the problem."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Conflict(AlmanacError):
    """The request is well-formed but clashes with the current state."""


class AuthError(AlmanacError):
    """Missing or bad credentials."""


class Forbidden(AlmanacError):
    """Authenticated, but the role or instance does not allow it."""
