"""Two versions of a definition, field by field: what a person reads in a history.

Mappings (env, labels, secrets, a schedule) are compared key by key, so one changed
variable reads `env.REGION`; lists and plain values are compared whole. Values that are
never stored in the open (env and secret values) are named by `hidden`, shown as hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

HIDDEN = "(hidden)"


@dataclass(frozen=True, kw_only=True)
class FieldChange:
    field: str
    before: Any = None
    after: Any = None
    # "added" | "removed" | "changed"
    change: str = "changed"


def _walk(prefix: str, before: Any, after: Any) -> list[FieldChange]:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        found: list[FieldChange] = []
        for key in sorted({*before, *after}, key=str):
            name = f"{prefix}.{key}"
            if key not in before:
                found.append(FieldChange(field=name, after=after[key], change="added"))
            elif key not in after:
                found.append(FieldChange(field=name, before=before[key], change="removed"))
            elif before[key] != after[key]:
                found += _walk(name, before[key], after[key])
        return found
    if before == after:
        return []
    return [FieldChange(field=prefix, before=before, after=after)]


def diff_definitions(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    hidden: Iterable[str] = (),
) -> list[FieldChange]:
    """`before` None: the first version, every field shown as set."""
    if before is None:
        return [FieldChange(field=k, after=v, change="added") for k, v in after.items()]
    found: list[FieldChange] = []
    for key in [*after, *(k for k in before if k not in after)]:
        if key not in after:
            found.append(FieldChange(field=key, before=before[key], change="removed"))
        elif key not in before:
            found.append(FieldChange(field=key, after=after[key], change="added"))
        else:
            found += _walk(key, before[key], after[key])
    shown = {change.field for change in found}
    found += [
        FieldChange(field=name, before=HIDDEN, after=HIDDEN) for name in hidden if name not in shown
    ]
    return found
