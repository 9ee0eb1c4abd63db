"""A run's frozen spec: its digest (what an approval is of) and the view of it people get.

Keys starting with `_` are the scheduler's bookkeeping (dispatch count, forced past
upstreams, the approved digest): they are not part of what runs and not in the digest.
Environment values are sealed (`env_sealed`), so the digest covers them without anyone
having to open them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

SEALED = "env_sealed"
APPROVED = "_approved"  # the digest an operator approved: dispatch runs nothing else
# Shown first, in this order; any other key follows.
_ORDER = (
    "command",
    "env",
    "secrets",
    "run_as_user",
    "mounts",
    "image",
    "workdir",
    "cpus",
    "memory",
    "gpus",
    "target",
    "labels",
    "max_run_seconds",
    "concurrency",
    "task_name",
)


def digest(spec: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of what runs: same spec, same digest, across restarts."""
    what = {k: v for k, v in spec.items() if not k.startswith("_")}
    text = json.dumps(what, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def shown(spec: dict[str, Any], env: dict[str, str], secrets: dict[str, str]) -> dict[str, Any]:
    """The spec as a reader sees it: `env` and `secrets` as given (already masked by the
    caller), no sealed token, no bookkeeping."""
    rest = {
        k: v
        for k, v in spec.items()
        if not k.startswith("_") and k not in (SEALED, "env", "secrets")
    }
    rest["env"], rest["secrets"] = dict(sorted(env.items())), dict(sorted(secrets.items()))
    ordered = {k: rest.pop(k) for k in _ORDER if k in rest}
    return {**ordered, **dict(sorted(rest.items()))}
