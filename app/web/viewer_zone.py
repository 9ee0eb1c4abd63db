"""The zone a viewer's pages show times in: the one the user chose in their settings, else
the browser's own. theme.js tells the server the browser's zone in the `almanac_tz` cookie
(Intl's resolvedOptions().timeZone) on every page, the login page included, so the first
page after signing in is already in local time, with nothing to save and no extra request;
the name is checked against the IANA names schedules accept, so a forged cookie only ever
picks another real zone."""

from __future__ import annotations

from urllib.parse import unquote

from app.domain._walltime import check_zone_name

BROWSER_ZONE_COOKIE = "almanac_tz"


def browser_zone(cookie: str | None) -> str | None:
    """The cookie's zone when it is a known IANA name (never `localtime`), else None."""
    if not cookie:
        return None
    name = unquote(cookie)[:64]
    try:
        check_zone_name(name)
    except ValueError:
        return None
    return name


def viewer_zone(*, chosen: bool, own: str, browser: str | None) -> str:
    """The user's own zone once chosen; until then the browser's, when known."""
    return own if chosen or not browser else browser
