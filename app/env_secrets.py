"""Environments at rest: a task's (or a run's) `env` and its secret values sealed together in
one Fernet token, opened only where the values are needed (dispatch builds the start
message; views show non-secret values to those allowed and mask the rest).

The key ring is the one of `app/secrets.py`; it is loaded once per data directory and key
setting, not per run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import InvalidToken, MultiFernet

from app.secrets import KEY_ENV, SecretError, key_ring

# What a reader who may not see a value gets in its place, and what marks a secret as set.
MASK = "********"
SET = "set"


@dataclass(frozen=True)
class EnvValues:
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def for_command(self) -> dict[str, str]:
        """What the command's environment gets (names never overlap: checked on write)."""
        return {**self.env, **self.secrets}

    def shown_env(self, reveal: bool) -> dict[str, str]:
        return dict(self.env) if reveal else dict.fromkeys(self.env, MASK)

    def shown_secrets(self) -> dict[str, str]:
        return dict.fromkeys(sorted(self.secrets), SET)


class EnvBox:
    """Seals and opens environments with one key ring."""

    def __init__(self, ring: MultiFernet) -> None:
        self._ring = ring

    def seal(self, values: EnvValues) -> str | None:
        if not values.env and not values.secrets:
            return None
        plain = json.dumps({"env": values.env, "secrets": values.secrets}, sort_keys=True)
        return self._ring.encrypt(plain.encode()).decode("ascii")

    def open(self, token: str | None) -> EnvValues:
        if not token:
            return EnvValues()
        try:
            data = json.loads(self._ring.decrypt(token.encode("ascii")))
        except (InvalidToken, UnicodeError, ValueError) as exc:
            raise SecretError("an environment cannot be decrypted with the configured key") from exc
        return EnvValues(env=dict(data.get("env") or {}), secrets=dict(data.get("secrets") or {}))


@lru_cache(maxsize=16)
def _box(data_dir: str, key_setting: str) -> EnvBox:
    return EnvBox(key_ring(Path(data_dir), {KEY_ENV: key_setting} if key_setting else {}))


def box_for(data_dir: Path) -> EnvBox:
    """The box of this data directory (and `ALMANAC_SECRET_KEY`), made once."""
    return _box(str(data_dir.resolve()), os.environ.get(KEY_ENV, "").strip())
