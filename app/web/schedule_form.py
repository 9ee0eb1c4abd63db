"""The schedule builder's fields ⇄ a schedule (and the extra schedules and blackouts, one a
line), the form-reading helpers the task and group forms share, and where an API error's
field path lands on the form."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

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


def split_words(text: str) -> list[str]:
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


def number_of(values: Values, field: str, kind: type[int] | type[float]) -> int | float | None:
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
        data["times"] = split_words(values.get("sched_times", ""))
    elif kind == "frequency":
        data["every_minutes"] = number_of(values, "sched_every", int)
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
