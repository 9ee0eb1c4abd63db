"""Holding a host process to its request: a cgroup per run, under the agent's own.

cgroup v2 is used where the agent's cgroup delegates the `cpu` and `memory` controllers to
its children (systemd `Delegate=yes`); else cgroup v1, where the agent's `cpu`, `memory`
(and, for a NUMA binding, `cpuset`) hierarchies are writable (root, or a delegated tree).
Where neither can be used the run goes on without limits and says so on its timeline.

The command enters its cgroup before it runs: a tiny `sh` writes its own pid into each
`cgroup.procs` and `exec`s the command (the spawn keeps its vfork, and nothing the command
starts escapes the limits).
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
_PERIOD_US = 100_000
# $0 is a name; each argument before `--` is a cgroup.procs file; the rest is the command.
_ENTER = (
    'for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; shift; done; shift; exec "$@"'
)


@dataclass(frozen=True, kw_only=True)
class Limits:
    cpus: float | None = None
    memory: int | None = None  # bytes
    cpuset_cpus: str | None = None  # "0-7"
    cpuset_mems: str | None = None  # "1"

    @property
    def empty(self) -> bool:
        return not (self.cpus or self.memory or self.cpuset_cpus)


@dataclass
class RunGroup:
    """The cgroup folders made for one run, and what was or was not applied."""

    folders: list[Path] = field(default_factory=list)
    note: str = ""
    memory_folder: Path | None = None
    version: int = 0

    def wrap(self, argv: list[str]) -> list[str]:
        if not self.folders:
            return argv
        procs = [str(f / "cgroup.procs") for f in self.folders]
        return ["/bin/sh", "-c", _ENTER, "almanac-cgroup", *procs, "--", *argv]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the run for its memory limit."""
        if self.memory_folder is None:
            return False
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.memory_folder / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value or 0) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def remove(self) -> None:
        for folder in reversed(self.folders):
            with contextlib.suppress(OSError):  # a lingering child keeps it: left for later
                folder.rmdir()


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """/proc/self/cgroup -> {"": v2 path, "memory": v1 path, ...}."""
    paths: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


class Cgroups:
    """Finds what this host allows once; makes a cgroup for each run that asks limits."""

    def __init__(self, root: Path = CGROUP_ROOT, proc_cgroup: str | None = None) -> None:
        self.root = root
        if proc_cgroup is None:
            try:
                proc_cgroup = Path("/proc/self/cgroup").read_text()
            except OSError:
                proc_cgroup = ""
        self.paths = _own_paths(proc_cgroup)
        self.v2 = self._v2_base()
        self.v1 = {c: self._v1_base(c) for c in ("cpu", "memory", "cpuset")}

    def _v2_base(self) -> Path | None:
        path = self.paths.get("")
        if path is None:
            return None
        for mount in (self.root, self.root / "unified"):
            base = mount / path.lstrip("/")
            try:
                delegated = set((base / "cgroup.subtree_control").read_text().split())
            except OSError:
                continue
            if {"cpu", "memory"} <= delegated and os.access(base, os.W_OK):
                return base
        return None

    def _v1_base(self, controller: str) -> Path | None:
        path = self.paths.get(controller)
        if path is None:
            return None
        base = self.root / controller / path.lstrip("/")
        return base if (base / "cgroup.procs").exists() and os.access(base, os.W_OK) else None

    @property
    def usable(self) -> str | None:
        """ "v2", "v1" or None."""
        if self.v2 is not None:
            return "v2"
        if self.v1["cpu"] is not None and self.v1["memory"] is not None:
            return "v1"
        return None

    def make(self, name: str, limits: Limits) -> RunGroup:
        """The run's cgroup(s) with `limits` written; a RunGroup with only a note where they
        cannot be made (the run then goes on without them)."""
        if limits.empty:
            return RunGroup()
        try:
            if self.v2 is not None:
                return self._make_v2(name, limits)
            if self.usable == "v1":
                return self._make_v1(name, limits)
        except OSError as exc:
            log.warning("cgroup for %s not made: %s", name, exc)
            return RunGroup(note=f"cpu and memory limits not enforced: cgroup error: {exc}")
        return RunGroup(
            note="cpu and memory limits not enforced: no writable cgroup (v2 or v1) on this agent"
        )

    def _make_v2(self, name: str, limits: Limits) -> RunGroup:
        assert self.v2 is not None
        folder = self.v2 / name
        folder.mkdir(exist_ok=True)
        group = RunGroup(folders=[folder], memory_folder=folder, version=2)
        try:
            if limits.cpus:
                _write(folder / "cpu.max", f"{round(limits.cpus * _PERIOD_US)} {_PERIOD_US}")
            if limits.memory:
                _write(folder / "memory.max", str(limits.memory))
                with contextlib.suppress(OSError):
                    _write(folder / "memory.swap.max", "0")
            if limits.cpuset_cpus:
                _write(folder / "cpuset.cpus", limits.cpuset_cpus)
                _write(folder / "cpuset.mems", limits.cpuset_mems or "")
        except OSError:
            group.remove()
            raise
        group.note = _said(limits, "cgroup v2")
        return group

    def _make_v1(self, name: str, limits: Limits) -> RunGroup:
        group = RunGroup(version=1)
        try:
            if limits.cpus:
                folder = self._v1_folder("cpu", name, group)
                _write(folder / "cpu.cfs_period_us", str(_PERIOD_US))
                _write(folder / "cpu.cfs_quota_us", str(round(limits.cpus * _PERIOD_US)))
            if limits.memory:
                folder = self._v1_folder("memory", name, group)
                _write(folder / "memory.limit_in_bytes", str(limits.memory))
                with contextlib.suppress(OSError):  # no swap accounting: nothing to cap
                    _write(folder / "memory.memsw.limit_in_bytes", str(limits.memory))
                group.memory_folder = folder
            if limits.cpuset_cpus and self.v1["cpuset"] is not None:
                folder = self._v1_folder("cpuset", name, group)
                _write(folder / "cpuset.cpus", limits.cpuset_cpus)
                _write(folder / "cpuset.mems", limits.cpuset_mems or "0")
        except OSError:
            group.remove()
            raise
        group.note = _said(limits, "cgroup v1")
        return group

    def _v1_folder(self, controller: str, name: str, group: RunGroup) -> Path:
        base = self.v1[controller]
        assert base is not None
        folder = base / name
        folder.mkdir(exist_ok=True)
        group.folders.append(folder)
        return folder


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _said(limits: Limits, how: str) -> str:
    held = []
    if limits.cpus:
        held.append(f"{limits.cpus:g} cpus")
    if limits.memory:
        held.append(f"{limits.memory} bytes of memory")
    if limits.cpuset_cpus:
        held.append(f"cores {limits.cpuset_cpus}")
    return f"held to {', '.join(held)} ({how})"
