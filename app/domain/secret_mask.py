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
from typing import Any

MASKED = b"***"
# A secret split across chunks is caught when its first part is at most this long; a longer
# secret is caught whole within a chunk (agents send up to 256 KiB at once).
MAX_HOLD = 8192
_SHORT = 256  # secrets up to this long have their beginnings in a set (a fast lookup)


@dataclass(frozen=True)
class Secrets:
    values: tuple[bytes, ...]  # longest first
    pattern: re.Pattern[bytes] | None
    prefixes: frozenset[bytes] = frozenset()  # every proper beginning of a secret

    @classmethod
    def of(cls, values: Iterable[str]) -> Secrets:
        found = sorted({v.encode() for v in values if v}, key=lambda v: (-len(v), v))
        if not found:
            return cls((), None)
        pattern = re.compile(b"|".join(re.escape(v) for v in found))
        short = [v for v in found if len(v) <= _SHORT]
        prefixes = frozenset(v[:n] for v in short for n in range(1, len(v)))
        return cls(tuple(found), pattern, prefixes)

    @property
    def longest(self) -> int:
        return len(self.values[0]) if self.values else 0

    def begins_one(self, tail: bytes) -> bool:
        """Whether `tail` is a proper beginning of a secret."""
        if tail in self.prefixes:
            return True
        return any(len(v) > max(len(tail), _SHORT) and v.startswith(tail) for v in self.values)


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
    pieces: list[bytes] = []
    last = 0
    for start, end in matches:
        if end > hold:
            break
        pieces += (buffer[last:start], MASKED)
        last = end
    pieces.append(buffer[last:hold])
    return Masked(b"".join(pieces), hold, buffer[hold:])


def _hold_from(secrets: Secrets, buffer: bytes, matches: list[tuple[int, int]]) -> int:
    """The first position from which `buffer`'s tail is a secret's proper beginning (and
    not inside a whole secret found already); len(buffer) when there is none."""
    window = min(secrets.longest - 1, MAX_HOLD)
    start = max(0, len(buffer) - window)
    near = [(s, e) for s, e in matches[-window:] if e > start] if window else []
    firsts = {v[:1] for v in secrets.values}
    for position in range(start, len(buffer)):
        if buffer[position : position + 1] not in firsts:
            continue
        if any(s < position < e for s, e in near):
            continue
        if secrets.begins_one(buffer[position:]):
            return position
    return len(buffer)


def mask_text(secrets: Secrets, text: str) -> str:
    """`text` with every secret in it replaced by `***`."""
    if secrets.pattern is None:
        return text
    raw = text.encode("utf-8", "surrogatepass")
    if secrets.pattern.search(raw) is None:
        return text
    return secrets.pattern.sub(MASKED, raw).decode("utf-8", "surrogatepass")


def mask_json(secrets: Secrets, value: Any) -> Any:
    """A JSON value with every secret masked in its texts, at any depth (object keys too). A
    number whose digits hold a secret becomes the masked text of it."""
    if secrets.pattern is None:
        return value
    if isinstance(value, str):
        return mask_text(secrets, value)
    if isinstance(value, list):
        return [mask_json(secrets, item) for item in value]
    if isinstance(value, dict):
        return {mask_text(secrets, str(k)): mask_json(secrets, v) for k, v in value.items()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
        masked = mask_text(secrets, text)
        return value if masked == text else masked
    return value
