"""What the client's resources need of a connection: one JSON call, and the HTTP client for
downloads and streams. `Almanac` is one; the resources never import it (no circle)."""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class Transport(Protocol):
    http: httpx.Client

    def request(self, method: str, path: str, **kwargs: Any) -> Any: ...
