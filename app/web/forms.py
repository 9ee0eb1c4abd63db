"""HTML form fields ⇄ API payloads for tasks and groups (the schedule builder's part is
app/web/schedule_form.py).

Form values are strings (a checkbox is present or absent); the API's JSON has numbers, lists
and objects. Problems found here (a number that is not one) and the API's own refusals (a
field path such as `schedule.cron` or `gpus.0`) both land on the form field they concern.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.web.run_form import declarations_from_text, declarations_to_text
from app.web.schedule_form import (
    FormErrors,
    Values,
    number_of,
    pairs,
    schedule_from_form,
    schedule_to_form,
    split_words,
    timing_lists_from_form,
    timing_lists_to_form,
)

# Re-exported: the routes read forms through this module.
__all__ = ["FormErrors", "pairs"]

_TASK_TEXT = ("description", "command")
_TASK_OPTIONAL = ("target", "run_as_user", "image", "memory", "workdir")
_TASK_NUMBERS: dict[str, type[int] | type[float]] = {
    "retry_attempts": int,
    "retry_delay_seconds": float,
    "misfire_grace_seconds": float,
    "misfire_max_replays": int,
}
_TASK_OPTIONAL_NUMBERS: dict[str, type[int] | type[float]] = {
    "cpus": float,
    "max_run_seconds": float,
    "gpu_count": int,
    "numa_node": int,
}
# Payload fields sent even when empty (clearing them is a change).
_OWN_NONE = ("schedule", "schedules", "blackouts")


def task_from_form(values: Values) -> dict[str, Any]:
    """The API payload of a task form; FormErrors names every field it cannot read."""
    payload, errors = read_task_form(values)
    if errors:
        raise FormErrors(errors)
    return payload


def read_task_form(values: Values) -> tuple[dict[str, Any], dict[str, str]]:
    """What the form says, without the fields it cannot read, and the problems of those
    (so the API's validation of the rest can report its problems in the same answer)."""
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {
        "name": values.get("name", "").strip(),
        "active": "active" in values,
        "retry_exponential": "retry_exponential" in values,
        "instance": values.get("instance", "").strip() or "default",
        "concurrency": values.get("concurrency", "allow"),
        "misfire": values.get("misfire", "run_once"),
    }
    payload.update({f: values.get(f, "") for f in _TASK_TEXT})
    payload.update({f: values.get(f, "").strip() or None for f in _TASK_OPTIONAL})
    group = values.get("group", "").strip()
    payload["group"] = int(group) if group.isdigit() else None
    readers: list[tuple[str, Any]] = [
        *[(f, lambda f=f, k=k: number_of(values, f, k)) for f, k in _TASK_NUMBERS.items()],
        *[(f, lambda f=f, k=k: number_of(values, f, k)) for f, k in _TASK_OPTIONAL_NUMBERS.items()],
        ("gpus", lambda: [_gpu(p) for p in split_words(values.get("gpus", ""))]),
        ("mounts", lambda: [m.strip() for m in values.get("mounts", "").splitlines() if m.strip()]),
        ("env", lambda: pairs(values.get("env", ""), "env")),
        ("labels", lambda: pairs(values.get("labels", ""), "labels")),
        ("schedule", lambda: schedule_from_form(values)),
        ("params", lambda: declarations_from_text(values.get("params", ""))),
    ]
    payload.update(_read_all(readers, errors))
    payload.update(_timing_lists(values, errors))
    return payload, errors


def _timing_lists(values: Values, errors: dict[str, str]) -> dict[str, Any]:
    """The extra schedules and blackouts the form can read (problems into `errors`)."""
    try:
        return dict(timing_lists_from_form(values))
    except FormErrors as exc:
        errors.update(exc.errors)
        return {}


def _read_all(readers: list[tuple[str, Any]], errors: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for field, read in readers:
        try:
            value = read()
        except FormErrors as exc:
            errors.update(exc.errors)
            continue
        except ValueError as exc:
            errors[field] = str(exc)
            continue
        if value is not None or field in _TASK_OPTIONAL_NUMBERS or field in _OWN_NONE:
            payload[field] = value
    return payload


def _gpu(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a GPU index")
    return int(text)


def task_to_form(task: Mapping[str, Any]) -> dict[str, str]:
    """A task as the API shows it, as form values."""
    values = {
        k: ("" if task.get(k) is None else str(task[k]))
        for k in (
            "name",
            "description",
            "command",
            "target",
            "run_as_user",
            "image",
            "memory",
            "workdir",
            "instance",
            "concurrency",
            "misfire",
            "retry_attempts",
            "retry_delay_seconds",
            "misfire_grace_seconds",
            "misfire_max_replays",
            "cpus",
            "max_run_seconds",
            "gpu_count",
            "numa_node",
            "group",
        )
    }
    values["gpus"] = ", ".join(str(g) for g in task.get("gpus") or [])
    values["mounts"] = "\n".join(task.get("mounts") or [])
    values["env"] = "\n".join(f"{k}={v}" for k, v in (task.get("env") or {}).items())
    values["labels"] = "\n".join(f"{k}={v}" for k, v in (task.get("labels") or {}).items())
    values["params"] = declarations_to_text(task.get("params"))
    for flag in ("active", "retry_exponential"):
        if task.get(flag):
            values[flag] = "on"
    values.update(schedule_to_form(task.get("schedule")))
    values.update(timing_lists_to_form(task))
    return values


def new_task_values() -> dict[str, str]:
    return {
        "active": "on",
        "instance": "default",
        "concurrency": "allow",
        "misfire": "run_once",
        "retry_attempts": "0",
        "retry_delay_seconds": "0",
        "misfire_grace_seconds": "3600",
        "misfire_max_replays": "10",
        # No schedule until one is chosen: a blank form must not save a live one.
        **schedule_to_form(None),
    }


def group_from_form(values: Values, task_ids: list[str]) -> dict[str, Any]:
    payload, errors = read_group_form(values, task_ids)
    if errors:
        raise FormErrors(errors)
    return payload


def read_group_form(values: Values, task_ids: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Like read_task_form, for the group form."""
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {
        "name": values.get("name", "").strip(),
        "description": values.get("description", ""),
        "active": "active" in values,
        "instance": values.get("instance", "").strip() or "default",
        "tasks": [int(t) for t in task_ids if t.isdigit()],
    }
    readers: list[tuple[str, Any]] = [
        ("schedule", lambda: schedule_from_form(values)),
        ("params", lambda: declarations_from_text(values.get("params", ""))),
    ]
    payload.update(_read_all(readers, errors))
    payload.update(_timing_lists(values, errors))
    return payload, errors


def group_to_form(group: Mapping[str, Any]) -> dict[str, str]:
    values = {k: str(group.get(k) or "") for k in ("name", "description", "instance")}
    values["params"] = declarations_to_text(group.get("params"))
    if group.get("active"):
        values["active"] = "on"
    values.update(schedule_to_form(group.get("schedule")))
    values.update(timing_lists_to_form(group))
    return values
