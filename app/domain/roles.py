"""Roles, strongest first: superadmin > admin > operator > user > viewer."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SUPERADMIN = "superadmin"
    ADMIN = "admin"
    OPERATOR = "operator"
    USER = "user"
    VIEWER = "viewer"


_RANK = {Role.VIEWER: 0, Role.USER: 1, Role.OPERATOR: 2, Role.ADMIN: 3, Role.SUPERADMIN: 4}


def role_at_least(role: str, needed: Role) -> bool:
    try:
        return _RANK[Role(role)] >= _RANK[needed]
    except ValueError:
        return False
