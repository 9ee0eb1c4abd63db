"""Results a command publishes for the tasks after it: lines `NAME=VALUE` in the file named
by `$ALMANAC_RESULTS` (pure: the agent reads the file, the server checks what it gets).

VALUE is taken as JSON when it parses as JSON (`n=3`, `ok=true`, `files=["a","b"]`), else
as the string it is (`path=/data/x.csv`). NAME is a letter or `_`, then letters, digits or
`_` (at most 100). Blank lines and lines starting with `#` are skipped; a later line wins a
name. Caps: the first 64 KiB of the file are read and at most 100 names kept; what is over
a cap is dropped and the run's reason says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

MAX_BYTES = 64 * 1024
MAX_NAMES = 100
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


@dataclass(frozen=True)
class Results:
    values: dict[str, Any] = field(default_factory=dict)
    note: str | None = None  # what was dropped, for the run's reason


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_results(raw: bytes, *, truncated: bool = False) -> Results:
    """`raw`: the file's first MAX_BYTES (`truncated` when there was more)."""
    notes = []
    if truncated or len(raw) > MAX_BYTES:
        raw = raw[:MAX_BYTES]
        raw = raw[: raw.rfind(b"\n") + 1] if b"\n" in raw else b""
        notes.append(f"results file over {MAX_BYTES // 1024} KiB: the rest was dropped")
    values: dict[str, Any] = {}
    bad = 0
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, text = line.partition("=")
        name = name.strip()
        if not sep or not NAME.fullmatch(name):
            bad += 1
            continue
        values[name] = _value(text)
    if bad:
        notes.append(f"{bad} results line(s) not NAME=VALUE were skipped")
    return _capped(values, notes)


def check_results(values: dict[str, Any]) -> Results:
    """What the server keeps of the results an agent reported (the same caps)."""
    notes = []
    kept = {k: v for k, v in values.items() if isinstance(k, str) and NAME.fullmatch(k)}
    if len(kept) < len(values):
        notes.append(f"{len(values) - len(kept)} results with bad names dropped")
    return _capped(kept, notes)


def _capped(values: dict[str, Any], notes: list[str]) -> Results:
    kept: dict[str, Any] = {}
    size = 0
    dropped = 0
    for name, value in values.items():
        cost = len(name) + len(json.dumps(value, separators=(",", ":")))
        if len(kept) >= MAX_NAMES or size + cost > MAX_BYTES:
            dropped += 1
            continue
        kept[name] = value
        size += cost
    if dropped:
        notes.append(
            f"{dropped} results over the cap ({MAX_NAMES} names, {MAX_BYTES // 1024} KiB) dropped"
        )
    return Results(kept, "; ".join(notes) or None)
