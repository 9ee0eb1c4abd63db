"""The client's core: `Almanac(url, token)`, one HTTP session, errors as `AlmanacAPIError`.

from app.client import Almanac

api = Almanac("http://127.0.0.1:8080", token)      # or ALMANAC_URL / ALMANAC_TOKEN
task = api.tasks.create(name="hello", command="echo hello")
run = api.tasks.run(task["tid"])
run.wait(timeout=60)                                  # prints each status change
print(run.logs())
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from app.client.backfills import Backfills
from app.client.errors import AlmanacAPIError, check
from app.client.pools import Pools, Quotas
from app.client.resources import (
    Adhoc,
    Alerts,
    Calendars,
    Definitions,
    Groups,
    Integrations,
    Tasks,
)
from app.client.runs import TERMINAL, RunHandle, Runs
from app.client.variable_sets import VariableSets

__all__ = ["TERMINAL", "Almanac", "AlmanacAPIError", "RunHandle"]


class Almanac:
    """A connection to one Almanac server.

    Namespaces: `tasks`, `groups`, `runs`, `calendars`, `adhoc`, `definitions` (export /
    import), `integrations`, `alerts`, `variable_sets`, `backfills`; `request()` reaches any
    other endpoint.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        client: str | None = None,
    ) -> None:
        """`client`: who is calling, sent as X-Almanac-Client (the CLI says "cli"; the
        server records its changes as made through it)."""
        self.url = (url or os.environ.get("ALMANAC_URL") or "http://127.0.0.1:8080").rstrip("/")
        self.token = token or os.environ.get("ALMANAC_TOKEN")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if client:
            headers["X-Almanac-Client"] = client
        self.http = httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=timeout)
        self.tasks = Tasks(self)
        self.groups = Groups(self)
        self.runs = Runs(self)
        self.calendars = Calendars(self)
        self.adhoc = Adhoc(self)
        self.definitions = Definitions(self)
        self.integrations = Integrations(self)
        self.alerts = Alerts(self)
        self.variable_sets = VariableSets(self)
        self.backfills = Backfills(self)
        self.pools = Pools(self)
        self.quotas = Quotas(self)

    @classmethod
    def login(cls, url: str, username: str, password: str) -> Almanac:
        """Log in with a password; the client then holds the returned bearer token."""
        response = httpx.post(
            url.rstrip("/") + "/api/v1/auth/token",
            json={"username": username, "password": password},
        )
        check(response)
        return cls(url, response.json()["access_token"])

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call (path relative to /api/v1); the decoded JSON body, None for 204."""
        response = self.http.request(method, path, **kwargs)
        check(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def agents(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/agents")
        return result

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Almanac:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
