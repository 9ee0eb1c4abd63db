"""HTML form fields ⇄ API payloads for tasks, groups and their schedule builder.

Form values are strings (a checkbox is present or absent); the API's JSON has numbers, lists
and objects. Problems found here (a number that is not one) and the API's own refusals (a
field path such as `schedule.cron` or `gpus.0`) both land on the form field they concern.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from app.web.run_form import declarations_from_text, declarations_to_text

Values = Mapping[str, str]

SCHEDULE_KINDS = ("cron", "times", "frequency", "once")
# API field (inside `schedule`) → form field
_SCHEDULE_KEYS = {
    "kind": "sched_kind",
    "cron": "sched_cron",
    "times": "sched_times",
    "days": "sched_days",
    "every_minutes": "sched_every",
    "window": "sched_window_start",
    "start": "sched_window_start",
    "end": "sched_window_end",
    "at": "sched_at",
    "timezone": "sched_timezone",
    "calendar": "sched_calendar",
    "on_closed": "sched_on_closed",
    "start_date": "sched_start_date",
    "end_date": "sched_end_date",
    "dst_gap": "sched_dst_gap",
    "dst_fold": "sched_dst_fold",
    "dst_interval": "sched_dst_interval",
}
# The schedule builder's DST choices and their defaults (left out of the payload).
_DST_DEFAULTS = {"dst_gap": "run_after_gap", "dst_fold": "first", "dst_interval": "elapsed"}
# API list fields → the form's textareas (one item per line)
_TIMING_LISTS = {"schedules": "extra_schedules", "blackouts": "blackouts"}
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


class FormErrors(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def error_key(path: str) -> str:
    """An API error's field path (`name`, `gpus.0`, `schedule.cron.cron`) as the form field
    that shows it (pydantic puts the schedule's kind tag before its fields)."""
    parts = [p for p in path.split(".") if p and p != "body" and not p.isdigit()]
    if not parts:
        return ""
    head = parts[0].split("[")[0]  # `schedules[1]` of a refusal that names the item
    if head in _TIMING_LISTS:
        return _TIMING_LISTS[head]
    if parts[0] != "schedule":
        return parts[0]
    rest = parts[1:]
    if len(rest) > 1 and rest[0] in SCHEDULE_KINDS:
        rest = rest[1:]
    return _SCHEDULE_KEYS.get(rest[-1] if rest else "kind", "sched_kind")


def schedule_error_key(loc: tuple[int | str, ...]) -> str:
    """A `parse_schedule` ValidationError loc as the form field."""
    return error_key(".".join(["schedule", *(str(p) for p in loc)]))


def _split(text: str) -> list[str]:
    return [p for p in re.split(r"[\s,]+", text.strip()) if p]


def pairs(text: str, field: str) -> dict[str, str]:
    """KEY=VALUE, one per line; FormErrors names every line that is not."""
    found: dict[str, str] = {}
    bad: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            bad.append(f"line {number}: expected KEY=VALUE")
            continue
        found[key.strip()] = value.strip()
    if bad:
        raise FormErrors({field: "; ".join(bad)})
    return found


def _number(values: Values, field: str, kind: type[int] | type[float]) -> int | float | None:
    text = values.get(field, "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise FormErrors(
            {field: f"{text!r} is not a{'n integer' if kind is int else ' number'}"}
        ) from None


def schedule_from_form(values: Values) -> dict[str, Any] | None:
    """The schedule the builder describes (None: no schedule of its own)."""
    kind = values.get("sched_kind", "").strip()
    if not kind:
        return None
    data: dict[str, Any] = {"kind": kind}
    if kind == "cron":
        data["cron"] = values.get("sched_cron", "").strip()
    elif kind == "times":
        data["times"] = _split(values.get("sched_times", ""))
    elif kind == "frequency":
        data["every_minutes"] = _number(values, "sched_every", int)
        start, end = values.get("sched_window_start", ""), values.get("sched_window_end", "")
        if start.strip() or end.strip():
            data["window"] = {"start": start.strip(), "end": end.strip()}
    elif kind == "once":
        data["at"] = values.get("sched_at", "").strip()
    if kind in ("times", "frequency") and values.get("sched_days", "").strip():
        data["days"] = values["sched_days"].strip()
    for field, key in (
        ("timezone", "sched_timezone"),
        ("calendar", "sched_calendar"),
        ("start_date", "sched_start_date"),
        ("end_date", "sched_end_date"),
    ):
        if values.get(key, "").strip():
            data[field] = values[key].strip()
    return data | _choices_from_form(values)


def _choices_from_form(values: Values) -> dict[str, str]:
    """The schedule's choices that differ from their defaults (on_closed, the DST rules)."""
    chosen: dict[str, str] = {}
    for field, default in {"on_closed": "skip", **_DST_DEFAULTS}.items():
        value = values.get(f"sched_{field}", default) or default
        if value != default:
            chosen[field] = value
    return chosen


def timing_lists_from_form(values: Values) -> dict[str, list[dict[str, Any]]]:
    """The extra schedules and blackouts, one per line: JSON objects, or (extra schedules) a
    bare cron expression in the main schedule's timezone. FormErrors names the textarea."""
    found: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    timezone = values.get("sched_timezone", "").strip() or "UTC"
    for api, form in _TIMING_LISTS.items():
        items: list[dict[str, Any]] = []
        bad: list[str] = []
        for number, line in enumerate(values.get(form, "").splitlines(), start=1):
            text = line.strip()
            if not text:
                continue
            if api == "schedules" and not text.startswith("{"):
                items.append({"kind": "cron", "cron": text, "timezone": timezone})
                continue
            try:
                item = json.loads(text)
            except ValueError:
                item = None
            if not isinstance(item, dict):
                bad.append(f"line {number}: not a JSON object")
                continue
            items.append(item)
        if bad:
            errors[form] = "; ".join(bad)
        found[api] = items
    if errors:
        raise FormErrors(errors)
    return found


def timing_lists_to_form(owner: Mapping[str, Any]) -> dict[str, str]:
    lines: dict[str, str] = {}
    for api, form in _TIMING_LISTS.items():
        rows = []
        for item in owner.get(api) or []:
            bare = set(item) <= {"kind", "cron", "timezone"} and item.get("kind") == "cron"
            same_zone = item.get("timezone", "UTC") == (owner.get("schedule") or {}).get(
                "timezone", "UTC"
            )
            rows.append(item["cron"] if bare and same_zone else json.dumps(item))
        lines[form] = "\n".join(rows)
    return lines


def schedule_to_form(schedule: Mapping[str, Any] | None) -> dict[str, str]:
    if not schedule:
        return {"sched_kind": "", "sched_timezone": "UTC"}
    window = schedule.get("window") or {}
    at = str(schedule.get("at") or "")
    return {
        "sched_kind": str(schedule.get("kind", "")),
        "sched_cron": str(schedule.get("cron", "")),
        "sched_times": ", ".join(schedule.get("times") or []),
        "sched_days": str(schedule.get("days", "")),
        "sched_every": str(schedule.get("every_minutes", "")),
        "sched_window_start": str(window.get("start", "")),
        "sched_window_end": str(window.get("end", "")),
        "sched_at": at[:16],
        "sched_timezone": str(schedule.get("timezone", "UTC")),
        "sched_calendar": str(schedule.get("calendar") or ""),
        "sched_on_closed": str(schedule.get("on_closed", "skip")),
        "sched_start_date": str(schedule.get("start_date") or ""),
        "sched_end_date": str(schedule.get("end_date") or ""),
        **{f"sched_{k}": str(schedule.get(k, default)) for k, default in _DST_DEFAULTS.items()},
    }


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
        *[(f, lambda f=f, k=k: _number(values, f, k)) for f, k in _TASK_NUMBERS.items()],
        *[(f, lambda f=f, k=k: _number(values, f, k)) for f, k in _TASK_OPTIONAL_NUMBERS.items()],
        ("gpus", lambda: [_gpu(p) for p in _split(values.get("gpus", ""))]),
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
