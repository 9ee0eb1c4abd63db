"""Placeholders in a run's command, env, workdir and mounts: `${business_date-1b:%Y%m%d}`.

Parsed when a definition is saved (an unknown placeholder is refused then, naming the field)
and expanded when the run is dispatched. In a command every inserted value is shell-quoted,
so a value is always exactly one word; elsewhere values go in as they are. `$${` is a literal
`${`; a `$` not followed by `{` is left alone (the shell's own `$HOME` keeps working).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from app.domain.calendars import CalendarSpec
from app.domain.params import as_text

SIMPLE = ("task", "group", "run_id", "attempt")
NAMESPACES = ("param", "var", "upstream")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_BUSINESS_DATE = re.compile(r"business_date(?:(?P<sign>[+-])(?P<count>\d{1,4})(?P<unit>b?))?")
_NAME = re.compile(_IDENT)
# strftime directives that mean something for a date (no time of day, no zone).
_DATE_DIRECTIVES = frozenset("aAbBCdDeFgGhjmuUVwWxyY%")
# Never walk further than this looking for an open day: a calendar closed for ten years is
# a mistake, not a reason to loop.
_MAX_SEARCH_DAYS = 3660


class PlaceholderError(ValueError):
    """A placeholder that cannot be read or expanded; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    kind: str  # "business_date", "task", "group", "run_id", "attempt", "param", "var", "upstream"
    name: str = ""  # the parameter / variable / result name
    task: str = ""  # for upstream: the upstream task's name
    offset: int = 0
    business_days: bool = False
    date_format: str | None = None


Segment = str | Placeholder


@dataclass(frozen=True, kw_only=True)
class PlaceholderContext:
    """Everything a run's placeholders can name, gathered when it is dispatched."""

    business_date: date
    task: str = ""
    group: str = ""
    run_id: int = 0
    attempt: int = 1
    params: Mapping[str, object] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    # upstream task name -> result name -> JSON value
    upstream: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    calendar: CalendarSpec | None = None  # the schedule's; None: Monday to Friday are open


def parse(text: str) -> list[Segment]:
    """Literal text and placeholders, in order; PlaceholderError for a bad one."""
    segments: list[Segment] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
        elif text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                raise PlaceholderError(f"unclosed placeholder at {text[i : i + 20]!r}")
            if literal:
                segments.append("".join(literal))
                literal = []
            segments.append(parse_placeholder(text[i + 2 : end]))
            i = end + 1
        else:
            literal.append(text[i])
            i += 1
    if literal:
        segments.append("".join(literal))
    return segments


def parse_placeholder(body: str) -> Placeholder:
    """One placeholder's inside (between `${` and `}`)."""
    if body in SIMPLE:
        return Placeholder(kind=body)
    head, colon, fmt = body.partition(":")
    found = _BUSINESS_DATE.fullmatch(head)
    if found:
        if colon:
            _check_format(body, fmt)
        count = int(found["count"] or 0)
        return Placeholder(
            kind="business_date",
            offset=-count if found["sign"] == "-" else count,
            business_days=bool(found["unit"]),
            date_format=fmt if colon else None,
        )
    namespace, dot, rest = body.partition(".")
    if dot and namespace in ("param", "var") and _NAME.fullmatch(rest):
        return Placeholder(kind=namespace, name=rest)
    if dot and namespace == "upstream":
        task, dot, name = rest.rpartition(".")
        if task and dot and _NAME.fullmatch(name) and "}" not in task:
            return Placeholder(kind="upstream", task=task, name=name)
        raise PlaceholderError(f"${{{body}}}: write ${{upstream.TASK.NAME}}")
    if head.startswith("business_date"):
        raise PlaceholderError(
            f"${{{body}}}: a date offset is +N or -N (calendar days) or +Nb/-Nb (business days)"
        )
    known = ", ".join(["business_date", *SIMPLE, *(f"{n}.NAME" for n in NAMESPACES)])
    raise PlaceholderError(f"unknown placeholder ${{{body}}} (known: {known})")


def check(text: str, param_names: Collection[str]) -> None:
    """PlaceholderError for a bad placeholder or a `${param.NAME}` that is not declared.
    Variables and upstream results are only read at dispatch, so only their syntax counts."""
    for segment in parse(text):
        if isinstance(segment, Placeholder) and segment.kind == "param":
            if segment.name not in param_names:
                raise PlaceholderError(f"${{param.{segment.name}}}: no such parameter is declared")


def check_fields(
    *,
    command: str | None,
    env: Mapping[str, str],
    workdir: str | None,
    mounts: Sequence[str],
    param_names: Collection[str],
) -> list[tuple[str, str]]:
    """(field, problem) for every field of a definition with a bad placeholder."""
    fields: list[tuple[str, str | None]] = [("command", command), ("workdir", workdir)]
    fields += [(f"env.{key}", value) for key, value in env.items()]
    fields += [(f"mounts[{i}]", mount) for i, mount in enumerate(mounts)]
    problems: list[tuple[str, str]] = []
    for name, text in fields:
        if text is None:
            continue
        try:
            check(text, param_names)
        except PlaceholderError as exc:
            problems.append((name, str(exc)))
    return problems


def expand(text: str, context: PlaceholderContext, *, shell: bool) -> str:
    """`text` with every placeholder replaced; `shell=True` quotes each value (a command)."""
    quote: Callable[[str], str] = shlex.quote if shell else _as_is
    out: list[str] = []
    for segment in parse(text):
        if isinstance(segment, str):
            out.append(segment)
        else:
            out.append(quote(value_of(segment, context)))
    return "".join(out)


def value_of(placeholder: Placeholder, context: PlaceholderContext) -> str:
    """The text one placeholder stands for; PlaceholderError when the run lacks it."""
    kind = placeholder.kind
    if kind == "business_date":
        day = shift(context.business_date, placeholder, context.calendar)
        return day.strftime(placeholder.date_format) if placeholder.date_format else str(day)
    if kind in SIMPLE:
        return str(getattr(context, kind))
    if kind == "param":
        if placeholder.name not in context.params:
            raise PlaceholderError(f"${{param.{placeholder.name}}}: the run has no value for it")
        return as_text(context.params[placeholder.name])
    if kind == "var":
        if placeholder.name not in context.variables:
            raise PlaceholderError(f"${{var.{placeholder.name}}}: no variable set defines it")
        return context.variables[placeholder.name]
    results = context.upstream.get(placeholder.task, {})
    if placeholder.name not in results:
        raise PlaceholderError(
            f"${{upstream.{placeholder.task}.{placeholder.name}}}: "
            "no such result from that task in this group run"
        )
    value = results[placeholder.name]
    return value if isinstance(value, str) else _json_text(value)


def shift(day: date, placeholder: Placeholder, calendar: CalendarSpec | None) -> date:
    """The business date moved by the placeholder's offset (calendar or business days)."""
    if not placeholder.business_days:
        try:
            return day + timedelta(days=placeholder.offset)
        except OverflowError:
            raise PlaceholderError("date offset leaves the calendar") from None
    return add_business_days(day, placeholder.offset, calendar)


def add_business_days(day: date, count: int, calendar: CalendarSpec | None) -> date:
    """`count` open days after (before, when negative) `day`; 0 leaves `day` as it is.
    Without a calendar Monday to Friday are open, as for `business day N` schedules."""
    step = timedelta(days=1 if count > 0 else -1)
    remaining = abs(count)
    searched = 0
    while remaining:
        day += step
        searched += 1
        if searched > _MAX_SEARCH_DAYS * max(1, abs(count)):
            raise PlaceholderError("no open day found: the calendar is closed for years")
        if is_business_day(day, calendar):
            remaining -= 1
    return day


def is_business_day(day: date, calendar: CalendarSpec | None) -> bool:
    if calendar is None:
        return day.weekday() < 5
    return calendar.is_open(day)


def _check_format(body: str, fmt: str) -> None:
    if not fmt:
        raise PlaceholderError(f"${{{body}}}: empty date format after ':'")
    directives = re.findall(r"%(.?)", fmt)
    for directive in directives:
        if directive not in _DATE_DIRECTIVES:
            raise PlaceholderError(
                f"${{{body}}}: %{directive} is not a date format directive "
                "(use e.g. %Y %m %d %j %a %b)"
            )


def _as_is(value: str) -> str:
    return value


def _json_text(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
