"""Masking secret values in a byte stream that arrives in chunks (pure: no I/O).

Every occurrence of a secret becomes `***`. A chunk may end in the middle of a secret, so
the bytes at its end that could begin one are held back until the next chunk says whether
they do: `mask_chunk` returns what is safe to store now, and what to hold. What is held is
never more than the longest secret less one byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MASKED = b"***"


@dataclass(frozen=True)
class Secrets:
    values: tuple[bytes, ...]  # longest first
    pattern: re.Pattern[bytes] | None

    @classmethod
    def of(cls, values: Iterable[str]) -> Secrets:
        found = sorted({v.encode() for v in values if v}, key=lambda v: (-len(v), v))
        if not found:
            return cls((), None)
        return cls(tuple(found), re.compile(b"|".join(re.escape(v) for v in found)))

    @property
    def longest(self) -> int:
        return len(self.values[0]) if self.values else 0


@dataclass(frozen=True)
class Masked:
    data: bytes  # safe to store: every whole secret replaced
    consumed: int  # bytes of the input `data` stands for
    held: bytes  # the input's last bytes, which may begin a secret


def mask_chunk(secrets: Secrets, buffer: bytes, *, final: bool = False) -> Masked:
    """Mask `buffer` (what was held, then the new bytes). With `final` (the stream ended)
    nothing is held: a secret's beginning with nothing after it is not the secret."""
    if secrets.pattern is None:
        return Masked(buffer, len(buffer), b"")
    matches = [(m.start(), m.end()) for m in secrets.pattern.finditer(buffer)]
    hold = len(buffer) if final else _hold_from(secrets, buffer, matches)
    safe = buffer[:hold]
    return Masked(secrets.pattern.sub(MASKED, safe), hold, buffer[hold:])


def _hold_from(secrets: Secrets, buffer: bytes, matches: list[tuple[int, int]]) -> int:
    """The first position from which `buffer`'s tail is a secret's proper beginning (and
    not inside a whole secret found already); len(buffer) when there is none."""
    start = max(0, len(buffer) - secrets.longest + 1)
    for position in range(start, len(buffer)):
        if any(s < position < e for s, e in matches):
            continue
        tail = buffer[position:]
        if any(len(v) > len(tail) and v.startswith(tail) for v in secrets.values):
            return position
    return len(buffer)
