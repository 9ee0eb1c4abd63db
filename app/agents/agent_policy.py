"""The agent's own policy: the last line of defence, also against a compromised server.

It comes from the agent's command line or a policy file (JSON, or TOML by its `.toml`
name), never from the server. A start outside it ends FAILED with `refused by agent policy:
...`. Without any, an agent running as root runs commands that name no user as `nobody`
(root only when a run asks for it by name: the server lets only admins ask), and an agent
that is not root runs them as itself. Nothing is ever privileged.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain.run_policy import RunPolicy, check, mount_source, resolve_user
from app.domain.run_policy import is_root as is_root_user
from app.protocol import frames as p

ROOT_DEFAULT_USER = "nobody"


def load_policy(
    *,
    policy_file: Path | None = None,
    users: Sequence[str] = (),
    mounts: Sequence[str] = (),
    images: Sequence[str] = (),
    default_user: str | None = None,
    is_root: bool | None = None,
) -> RunPolicy:
    """The policy from a file and the command line (the command line wins field by field).
    `default_user` "" means the agent's own user; absent everywhere, the safe default."""
    data: dict[str, Any] = _read(policy_file) if policy_file is not None else {}
    if users:
        data["users"] = list(users)
    if mounts:
        data["mounts"] = list(mounts)
    if images:
        data["images"] = list(images)
    if default_user is not None:
        data["default_user"] = default_user or None
    elif "default_user" not in data:
        root = os.geteuid() == 0 if is_root is None else is_root
        data["default_user"] = _safe_default(data.get("users")) if root else None
    return RunPolicy.from_dict(data)


def _safe_default(users: list[str] | None) -> str | None:
    """`nobody`, or when allowed users are listed without it, the first of them that is not
    root (only root listed: the agent's own user)."""
    if users is None or "*" in users or ROOT_DEFAULT_USER in users:
        return ROOT_DEFAULT_USER
    return next((u for u in users if not is_root_user(u)), None)


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a policy is an object of users, mounts, images, ...")
    return data


@dataclass(frozen=True)
class Verdict:
    run_as_user: str | None  # who the run executes as (its own user, or the default)
    refusal: str | None  # why it may not start here; None when it may


def judge(start: p.StartRun, policy: RunPolicy) -> Verdict:
    """Whether `start` may run under `policy`, after the default user is applied. Mount
    sources are judged by where their symlinks lead, as Docker would bind them."""
    spec = start.model_dump()
    user = resolve_user(spec, policy)
    spec["run_as_user"] = user
    spec["mounts"] = [_resolved(m) for m in start.mounts]
    found = check(spec, policy)
    if found:
        return Verdict(user, "; ".join(str(v) for v in found))
    return Verdict(user, None)


def _resolved(mount: str) -> str:
    source = mount_source(mount)
    if source is None:
        return mount
    rest = mount[len(mount.split(":", 1)[0]) :]
    return os.path.realpath(source) + rest
