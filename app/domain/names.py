"""What a name of an object may be: the names appear in URL paths (`/calendars/{name}`),
file names of exports and log lines, so a name that a path cannot carry back (`a/b`, `.`,
`..`) or that hides characters (control characters) is refused when it is written."""

from __future__ import annotations

import unicodedata

_DOTS = frozenset({".", ".."})


def plain_name(value: str) -> str:
    """`value` unchanged, or ValueError saying what is wrong with it."""
    if value in _DOTS:
        raise ValueError(f"{value!r} is not a name")
    if "/" in value or "\\" in value:
        raise ValueError("must not contain '/' or '\\'")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError("must not contain control characters")
    return value
