"""What a container for one attempt looks like, and what its ended state means.

Pure: names, labels, mounts, limits and outcomes are computed here without a single Docker call,
so the Docker executor's rules can be read and tested on their own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from docker.types import DeviceRequest, Mount

from app.agents.executors.base import LaunchError, Outcome, RunSpec

OUTPUT_MOUNT: Final = "/outputs"
# The host's results folder of the attempt, mounted alone: $ALMANAC_RESULTS lies inside.
RESULTS_MOUNT: Final = "/almanac-results"
INPUTS_MOUNT: Final = "/almanac-inputs"  # upstream output files, read-only
LABEL_RUN_ID: Final = "almanac.run_id"
LABEL_ATTEMPT: Final = "almanac.attempt"
LABEL_MAX_RUN: Final = "almanac.max_run_seconds"
LABEL_AGENT: Final = "almanac.agent"  # the owner_tag of the agent that made the container

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])i?)?b?\s*$", re.IGNORECASE)
_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def owner_tag(agent_name: str) -> str:
    """An agent's name as a part of Docker names and labels: agents of different servers
    sharing one engine (whose run ids overlap) never collide or take each other's containers."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", agent_name)[:40].strip("-.") or "agent"
    return f"{safe}-{hashlib.sha256(agent_name.encode()).hexdigest()[:6]}"


def container_name(run_id: int, attempt: int, owner: str = "") -> str:
    """`owner` is an `owner_tag`; none for an executor that names no agent."""
    return f"almanac-{owner}-run-{run_id}-{attempt}" if owner else f"almanac-run-{run_id}-{attempt}"


def parse_memory(value: str) -> int:
    """ "512M" -> bytes. Units are binary, as Docker reads them ("4G" is 4 GiB)."""
    match = _MEMORY.match(value)
    if match is None:
        raise LaunchError(f"memory {value!r} is not a size such as '512M' or '4G'")
    size = int(float(match[1]) * _UNITS[(match[2] or "").lower()])
    if size <= 0:
        raise LaunchError(f"memory {value!r} must be more than zero")
    return size


def parse_mount(text: str) -> Mount:
    """ "SRC:DST" or "SRC:DST:ro" -> a bind mount; Docker refuses a missing source at start."""
    parts = text.split(":")
    mode = parts.pop() if len(parts) == 3 else "rw"
    if len(parts) != 2 or mode not in ("ro", "rw") or not all(parts):
        raise LaunchError(f"mount {text!r} is not SRC:DST or SRC:DST:ro")
    source, target = parts
    if not (source.startswith("/") and target.startswith("/")):
        raise LaunchError(f"mount {text!r} needs absolute paths on both sides")
    return Mount(target=target, source=source, type="bind", read_only=mode == "ro")


def container_options(spec: RunSpec, owner: str = "") -> dict[str, Any]:
    """The keyword arguments of `containers.create` for one attempt; validates the spec."""
    if spec.image is None:
        raise LaunchError("the Docker executor needs an image")
    env = {
        **spec.env,
        "ALMANAC_RUN_ID": str(spec.run_id),
        "ALMANAC_ATTEMPT": str(spec.attempt),
        "ALMANAC_OUTPUT_DIR": OUTPUT_MOUNT,
    }
    labels = {LABEL_RUN_ID: str(spec.run_id), LABEL_ATTEMPT: str(spec.attempt)}
    if owner:
        labels[LABEL_AGENT] = owner
    if spec.max_run_seconds is not None:
        # Kept on the container so that a restarted agent still enforces it after reattaching.
        labels[LABEL_MAX_RUN] = repr(float(spec.max_run_seconds))
    options: dict[str, Any] = {
        "image": spec.image,
        # The command is a shell string by design; it only ever meets a shell inside the container.
        "command": ["/bin/sh", "-c", spec.command],
        "name": container_name(spec.run_id, spec.attempt, owner),
        "environment": env,
        "labels": labels,
        "mounts": _mounts(spec, env),
        "privileged": False,  # never, nor added capabilities or devices: no policy grants them
    }
    if spec.workdir:
        options["working_dir"] = spec.workdir
    if spec.run_as_user:
        options["user"] = spec.run_as_user
    options.update(_limits(spec))
    return options


def _mounts(spec: RunSpec, env: dict[str, str]) -> list[Mount]:
    """The task's mounts, the outputs folder, and the results and inputs folders (whose
    paths inside the container `env` then names)."""
    mounts = [parse_mount(m) for m in spec.mounts]
    mounts.append(Mount(target=OUTPUT_MOUNT, source=str(spec.output_dir.absolute()), type="bind"))
    if spec.results_file is not None:
        folder = spec.results_file.parent.absolute()
        mounts.append(Mount(target=RESULTS_MOUNT, source=str(folder), type="bind"))
        env["ALMANAC_RESULTS"] = f"{RESULTS_MOUNT}/{spec.results_file.name}"
    if spec.inputs_dir is not None:
        source = str(spec.inputs_dir.absolute())
        mounts.append(Mount(target=INPUTS_MOUNT, source=source, type="bind", read_only=True))
        env["ALMANAC_UPSTREAM_OUTPUTS"] = INPUTS_MOUNT
    return mounts


def _limits(spec: RunSpec) -> dict[str, Any]:
    """CPU, memory, NUMA binding and GPUs, as the run asked and placement gave."""
    options: dict[str, Any] = {}
    if spec.cpus is not None:
        if spec.cpus <= 0:
            raise LaunchError(f"cpus must be more than zero, not {spec.cpus}")
        options["nano_cpus"] = round(spec.cpus * 1e9)
    if spec.memory is not None:
        limit = parse_memory(spec.memory)
        options["mem_limit"] = limit
        # Docker would otherwise grant as much swap again: the limit is what the task asked for.
        options["memswap_limit"] = limit
    if spec.cpuset_cpus:
        options["cpuset_cpus"] = spec.cpuset_cpus
        options["cpuset_mems"] = spec.cpuset_mems
    if spec.gpus:
        options["device_requests"] = [
            DeviceRequest(device_ids=[str(i) for i in spec.gpus], capabilities=[["gpu"]])
        ]
    return options


def outcome_from_state(state: Mapping[str, Any], *, terminated: bool, timed_out: bool) -> Outcome:
    """Map a finished container's `State` to an Outcome; our own stop decides first.

    "oom" rests on the engine's OOMKilled flag. An OOM kill in the first milliseconds of a
    container can escape the engine (its watch is armed just after start) and then reads as
    "exit code 137".
    """
    code = state.get("ExitCode")
    exit_code = code if isinstance(code, int) else None
    if terminated:
        return Outcome(exit_code=exit_code, reason="terminated", terminated=True)
    if timed_out:
        return Outcome(exit_code=exit_code, reason="timeout")
    if exit_code == 0:
        return Outcome(exit_code=0)
    if state.get("OOMKilled"):
        return Outcome(exit_code=exit_code, reason="oom")
    return Outcome(exit_code=exit_code, reason=f"exit code {exit_code}")


def parse_docker_time(text: str) -> datetime:
    """Docker's RFC 3339 stamps carry nanoseconds; Python keeps microseconds."""
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed)
