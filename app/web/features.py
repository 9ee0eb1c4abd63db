"""Which REST endpoints this server offers (read once from its OpenAPI schema): pages show
a feature's controls only where the API has the same action."""

from __future__ import annotations

from typing import Any

from fastapi import Request

API = "/api/v1"


def api_has(request: Request, method: str, path: str) -> bool:
    """Whether the API offers `method path` (e.g. "POST", "/runs/{run_id}/approve"): pages
    show a feature's controls only once its endpoint exists (read from the OpenAPI schema)."""
    return method.upper() in _api_paths(request.app).get(API + path, set())


def _api_paths(app: Any) -> dict[str, set[str]]:
    paths: dict[str, set[str]] | None = getattr(app.state, "web_api_paths", None)
    if paths is None:
        try:
            schema = app.openapi()
        except Exception:  # a broken schema must not take the pages down
            schema = {}
        paths = {
            path: {verb.upper() for verb in ops} for path, ops in schema.get("paths", {}).items()
        }
        app.state.web_api_paths = paths
    return paths
