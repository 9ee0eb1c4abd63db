"""The client's one error type, raised for every non-2xx answer."""

from __future__ import annotations

from typing import Any

import httpx


class AlmanacAPIError(Exception):
    """The server refused a request: `status` is the HTTP status, `detail` its reason, and
    `errors` the per-item problems where the server lists them (imports)."""

    def __init__(
        self, status: int, detail: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
        self.errors = errors or []


def check(response: httpx.Response) -> None:
    """Raise AlmanacAPIError unless the response is a success."""
    if response.is_success:
        return
    errors: list[dict[str, Any]] = []
    try:
        body = response.json()
        detail = str(body.get("detail", response.text)) if isinstance(body, dict) else str(body)
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            errors = body["errors"]
    except ValueError:
        detail = response.text
    raise AlmanacAPIError(response.status_code, detail, errors)
