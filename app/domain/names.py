"""What a name of an object may be. No name may hide characters (control characters: they
appear in log lines and pages); a name that addresses its object in a URL path
(`/calendars/{name}`, an agent's name, an instance) must also be one a path can carry back
(not `a/b`, `.`, `..`)."""

from __future__ import annotations

import unicodedata

_DOTS = frozenset({".", ".."})


def visible_name(value: str) -> str:
    """`value` unchanged, or ValueError when it holds control characters."""
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError("must not contain control characters")
    return value


def plain_name(value: str) -> str:
    """`value` unchanged, or ValueError saying why a URL path cannot carry it."""
    if value in _DOTS:
        raise ValueError(f"{value!r} is not a name")
    if "/" in value or "\\" in value:
        raise ValueError("must not contain '/' or '\\'")
    return visible_name(value)
