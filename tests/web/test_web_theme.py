"""The theme is set before the first paint by a static script the Content-Security-Policy
allows; the header carries the theme toggle and the phone menu's button."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient


def test_the_theme_script_runs_first_and_the_policy_stays_strict(
    web: TestClient, anonymous: TestClient
) -> None:
    for client, path in ((web, "/"), (anonymous, "/login")):
        page = client.get(path)
        head = page.text.split("</head>", 1)[0]
        # Blocking (no defer, no async) and before any stylesheet: no flash of the other theme.
        assert head.index('<script src="/static/theme.js"></script>') < head.index("stylesheet")
        assert '<link rel="stylesheet" href="/static/theme.css">' in head
        assert (
            re.search(
                r"<script(?![^>]*\ssrc=)[^>]*>",
                page.text.replace('<script type="application/json"', ""),
            )
            is None
        ), "no inline script"
        assert "script-src 'self';" in page.headers["content-security-policy"]
        assert (
            "unsafe-inline"
            not in page.headers["content-security-policy"]
            .split("script-src", 1)[1]
            .split(";", 1)[0]
        )
    header = web.get("/").text
    assert "data-theme-toggle" in header
    assert 'data-menu-toggle aria-controls="main-nav" aria-expanded="false"' in header
    assert anonymous.get("/static/theme.js").status_code == 200


def test_no_template_has_an_inline_event_handler() -> None:
    """The policy blocks them (the browser logs an error and the handler never runs)."""
    templates = Path(__file__).resolve().parents[2] / "app" / "web" / "templates"
    handler = re.compile(r"""\son[a-z]+\s*=\s*["']|javascript:""", re.IGNORECASE)
    found = [
        f"{path.relative_to(templates)}:{number}"
        for path in sorted(templates.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if handler.search(line)
    ]
    assert found == []
