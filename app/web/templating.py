"""Jinja2 templates, their filters, and `render`: every view answers through it, so a test
can check the template name and the context (Starlette's TemplateResponse exposes both)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import Response

from app import __version__
from app.web.auth import CSRF_FIELD, CSRF_HEADER, WebSession
from app.web.status import STATUSES, chain_steps, status_meta
from app.web.tasks_view import schedule_summary

TEMPLATE_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATE_DIR)


def _zone(context: Context) -> tzinfo:
    zone = context.get("tz")
    return zone if isinstance(zone, tzinfo) else ZoneInfo("UTC")


def _instant(moment: datetime | str | None) -> datetime | None:
    """Datetimes come as objects, or as ISO strings from the API's JSON."""
    if isinstance(moment, str):
        try:
            return datetime.fromisoformat(moment)
        except ValueError:
            return None
    return moment


_STYLES = {"full": "%Y-%m-%d %H:%M:%S", "short": "%m-%d %H:%M", "time": "%H:%M:%S"}


@pass_context
def when_text(context: Context, moment: datetime | str | None, style: str = "full") -> str:
    """An instant in the viewer's timezone, labelled with the zone: "2026-03-02 08:00:05 CET",
    "03-02 08:00 CET" (short) or "08:00:05 CET" (time)."""
    instant = _instant(moment)
    if instant is None:
        return "—"
    local = instant.astimezone(_zone(context))
    return f"{local.strftime(_STYLES.get(style, _STYLES['full']))} {local.strftime('%Z')}"


def iso_instant(moment: datetime | None) -> str | None:
    """A log line's time for the viewer's script: UTC to the millisecond, "...Z"."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pass_context
def when(
    context: Context, moment: datetime | str | None, style: str = "full", rel: bool = False
) -> Markup | str:
    """`when_text` in a <time> element whose hover shows the UTC instant; with `rel`, followed
    by how far it is from now ("in 3 h", "5 min ago")."""
    instant = _instant(moment)
    if instant is None:
        return "—"
    shown = Markup('<time datetime="{}" title="{}">{}</time>').format(
        _iso(instant), _utc_text(instant), when_text(context, instant, style)
    )
    span = relative_text(context.get("now"), instant) if rel else ""
    return shown + Markup(' <small class="rel">{}</small>').format(span) if span else shown


@pass_context
def ago(context: Context, moment: datetime | str | None) -> Markup | str:
    """How far from now ("5 min ago", "in 3 h"), in a <time> element whose hover shows the
    instant in the viewer's zone and in UTC."""
    instant = _instant(moment)
    span = relative_text(context.get("now"), instant)
    if instant is None or not span:
        return "—"
    return Markup('<time datetime="{}" title="{} · {}">{}</time>').format(
        _iso(instant), when_text(context, instant), _utc_text(instant), span
    )


def relative_text(now: object, instant: datetime | None) -> str:
    """ "just now", "40 s ago", "5 min ago", "in 3 h 10 min", "in 20 h", "2 d ago"."""
    if instant is None or not isinstance(now, datetime):
        return ""
    seconds = (now - instant).total_seconds()
    gap = abs(seconds)
    if gap < 1:
        return "just now"
    if gap < 60:
        span = f"{gap:.0f} s"
    elif gap < 3600:
        span = f"{gap // 60:.0f} min"
    elif gap < 48 * 3600:
        hours, minutes = divmod(int(gap // 60), 60)
        span = f"{hours} h {minutes} min" if hours < 10 and minutes else f"{hours} h"
    else:
        span = f"{gap // 86400:.0f} d"
    return f"{span} ago" if seconds > 0 else f"in {span}"


def duration(seconds: float | None) -> str:
    """1.2s, 4m 05s, 3h 02m, 2d 4h."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def size(value: float | int | None) -> str:
    if value is None:
        return "—"
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"


def percent(part: float | int | None, whole: float | int | None) -> float:
    if not part or not whole:
        return 0.0
    return max(0.0, min(100.0, 100.0 * float(part) / float(whole)))


templates.env.filters.update(
    when=when, when_text=when_text, ago=ago, duration=duration, size=size, iso_instant=iso_instant
)
templates.env.globals.update(
    status_meta=status_meta,
    STATUSES=STATUSES,
    percent=percent,
    chain_steps=chain_steps,
    schedule_summary=schedule_summary,
    CSRF_FIELD=CSRF_FIELD,
    CSRF_HEADER=CSRF_HEADER,
    VERSION=__version__,
)


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    session: WebSession | None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render `name` with the page's own context plus the viewer (session, timezone, now)."""
    app_context = request.app.state.context
    full: dict[str, Any] = {
        "session": session,
        "now": app_context.clock.now(),
        "tz": _user_zone(session),
    }
    full.update(context)
    return templates.TemplateResponse(request, name, full, status_code=status_code, headers=headers)


def _user_zone(session: WebSession | None) -> tzinfo:
    try:
        return ZoneInfo(session.zone) if session else ZoneInfo("UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def render_fragment(
    name: str, context: Mapping[str, Any], *, session: WebSession | None, now: datetime
) -> str:
    """A template as a string (for SSE events), with the same viewer context as `render`."""
    full: dict[str, Any] = {"session": session, "now": now, "tz": _user_zone(session)}
    full.update(context)
    return templates.get_template(name).render(full)
