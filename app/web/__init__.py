"""The web UI: server-rendered pages (jinja2 + htmx) with live updates over SSE."""

from app.web.app import install

__all__ = ["install"]
