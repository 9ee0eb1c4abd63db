"""What a run may do: which users it runs as, which host paths it mounts, which images.

Pure rules, no I/O. A policy belongs to an instance, to an agent (stored by the server), or
to an agent process itself (its command line or policy file: the last line of defence).

Each list is a set of patterns, and `None` means "no restriction":
- `users`: names as written in `run_as_user`; `*` matches any user except root. Root (`root`,
  uid `0`, or a `root:...`/`0:...` Docker user) is allowed only when named (`root` or `0`).
- `mounts`: host path prefixes; a bind "SRC:DST[:ro]" is allowed when SRC (normalised) is a
  prefix or below one, never a sibling (`/srv/data` allows `/srv/data/x`, not `/srv/database`).
- `images`: exact names or globs (`almanac-test-*`, `registry.example/team/*`).
- `privileged`: whether a privileged container may be asked for; never by default, and the
  Docker executor grants neither privilege nor extra capabilities.
- `default_user`: who a host process runs as when the run names nobody (None: the agent's
  own user). Containers keep their image's user.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_ROOT_NAMES = frozenset({"root", "0"})


@dataclass(frozen=True)
class Violation:
    """One thing a spec asks for that the policy does not allow."""

    field: str  # run_as_user, mounts[0], image, privileged
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


@dataclass(frozen=True, kw_only=True)
class RunPolicy:
    users: tuple[str, ...] | None = None
    mounts: tuple[str, ...] | None = None
    images: tuple[str, ...] | None = None
    privileged: bool = False
    default_user: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "users": None if self.users is None else list(self.users),
            "mounts": None if self.mounts is None else list(self.mounts),
            "images": None if self.images is None else list(self.images),
            "privileged": self.privileged,
            "default_user": self.default_user,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunPolicy:
        """A policy from its JSON form; raises ValueError naming the bad field."""
        unknown = set(data) - {"users", "mounts", "images", "privileged", "default_user"}
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: not a policy field")
        privileged = data.get("privileged", False)
        if not isinstance(privileged, bool):
            raise ValueError("privileged: must be true or false")
        default_user = data.get("default_user")
        if default_user is not None and (not isinstance(default_user, str) or not default_user):
            raise ValueError("default_user: must be a user name or null")
        policy = cls(
            users=_patterns(data, "users"),
            mounts=_patterns(data, "mounts"),
            images=_patterns(data, "images"),
            privileged=privileged,
            default_user=default_user,
        )
        for mount in policy.mounts or ():
            if not mount.startswith("/"):
                raise ValueError(f"mounts: {mount!r} is not an absolute path")
        if default_user is not None and not user_allowed(default_user, policy.users):
            raise ValueError(f"default_user: {default_user!r} is not one of the allowed users")
        return policy


def _patterns(data: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key}: must be a list of non-empty strings, or null for any")
    return tuple(value)


# A policy that restricts nothing (an agent that reports none, or an admin's request).
UNRESTRICTED = RunPolicy()
# An instance without a stored policy: any user but root, no bind mounts, any image.
INSTANCE_DEFAULT = RunPolicy(users=("*",), mounts=(), images=None)


def is_root(user: str) -> bool:
    """`root`, `0`, or a Docker `user:group` whose user part is root."""
    return user.split(":", 1)[0] in _ROOT_NAMES


def user_allowed(user: str, allowed: Sequence[str] | None) -> bool:
    if allowed is None:
        return True
    if is_root(user):
        return any(is_root(pattern) for pattern in allowed)
    return any(pattern == "*" or pattern == user for pattern in allowed)


def mount_source(mount: str) -> str | None:
    """The normalised host path of "SRC:DST[:ro]", None when it is no absolute bind."""
    source = mount.split(":", 1)[0]
    if not source.startswith("/"):
        return None
    return posixpath.normpath(source).replace("//", "/")


def path_allowed(path: str, prefixes: Sequence[str] | None) -> bool:
    if prefixes is None:
        return True
    for prefix in prefixes:
        base = posixpath.normpath(prefix).replace("//", "/")
        if base == "/" or path == base or path.startswith(base + "/"):
            return True
    return False


def image_allowed(image: str, patterns: Sequence[str] | None) -> bool:
    if patterns is None:
        return True
    return any(image == p or fnmatch.fnmatchcase(image, p) for p in patterns)


def resolve_user(spec: Mapping[str, Any], policy: RunPolicy) -> str | None:
    """Who the run executes as: its own `run_as_user`, else (host processes only) the
    policy's default user, else the agent's own user (None)."""
    user = spec.get("run_as_user")
    if user:
        return str(user)
    if spec.get("image"):
        return None
    return policy.default_user


def check(spec: Mapping[str, Any], policy: RunPolicy) -> list[Violation]:
    """Everything in `spec` (run_as_user, mounts, image, privileged) outside `policy`."""
    found: list[Violation] = []
    user = spec.get("run_as_user")
    if user and not user_allowed(str(user), policy.users):
        found.append(Violation("run_as_user", f"{user!r} is not allowed"))
    for index, mount in enumerate(spec.get("mounts") or ()):
        source = mount_source(str(mount))
        if source is None or not path_allowed(source, policy.mounts):
            found.append(
                Violation(
                    f"mounts[{index}]", f"{mount!r}: host path {source or mount!r} is not allowed"
                )
            )
    image = spec.get("image")
    if image and not image_allowed(str(image), policy.images):
        found.append(Violation("image", f"{image!r} is not allowed"))
    if spec.get("privileged") and not policy.privileged:
        found.append(Violation("privileged", "privileged containers are not allowed"))
    return found


def filled_in_violations(
    written: Sequence[str], filled: Sequence[str], policy: RunPolicy
) -> list[Violation]:
    """Mounts that placeholders, once filled in, carried outside `policy` although the mount
    as written was inside it (the policy was checked on the written spec, at save). A filled-in
    host path must stay below an allowed prefix once normalised, and may not hold more `..`
    parts than the written one (`..` after a symlink climbs where normalising does not see).
    A mount written outside the policy was let through by an admin and stays so."""
    if policy.mounts is None:
        return []
    found: list[Violation] = []
    for index, (before, after) in enumerate(zip(written, filled, strict=True)):
        if before == after or not _mount_allowed(before, policy.mounts):
            continue
        source = mount_source(after)
        if source is None or not path_allowed(source, policy.mounts):
            why = f"host path {source or after!r} is not allowed"
        elif _climbs(after) > _climbs(before):
            why = "climbs with '..'"
        else:
            continue
        found.append(Violation(f"mounts[{index}]", f"{after!r} (placeholders filled in): {why}"))
    return found


def reshaped_mounts(written: Sequence[str], filled: Sequence[str]) -> list[Violation]:
    """Mounts whose filled-in values added a `:`: a value is part of one field, it may not
    move the target or turn a read-only bind writable ("x:/etc:rw" in "SRC/${p}:/in:ro").
    Judged whatever the policies say, an instance without one included."""
    return [
        Violation(f"mounts[{index}]", f"{after!r} (placeholders filled in): a value added a ':'")
        for index, (before, after) in enumerate(zip(written, filled, strict=True))
        if after.count(":") != before.count(":")
    ]


def _mount_allowed(mount: str, prefixes: Sequence[str]) -> bool:
    source = mount_source(mount)
    return source is not None and path_allowed(source, prefixes)


def _climbs(mount: str) -> int:
    """How many `..` parts the host path of a bind has."""
    return mount.split(":", 1)[0].split("/").count("..")


def check_resolved(spec: Mapping[str, Any], policy: RunPolicy) -> list[Violation]:
    """`check` after the default user is applied: what an agent with `policy` would refuse."""
    user = resolve_user(spec, policy)
    if user != spec.get("run_as_user"):
        spec = {**spec, "run_as_user": user}
    return check(spec, policy)


def reported_policy(resources: Mapping[str, Any]) -> RunPolicy | None:
    """The policy an agent reports with its resources; None when absent or unreadable (an
    older agent: dispatch then knows nothing of what it refuses)."""
    data = resources.get("policy")
    if not isinstance(data, Mapping):
        return None
    try:
        return RunPolicy.from_dict(data)
    except ValueError:
        return None
