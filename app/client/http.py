"""A small typed client: `Almanac(url, token)` with tasks, runs and agents."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

TERMINAL = {"SUCCESS", "FAILED", "TERMINATED", "SKIPPED", "REJECTED"}


class AlmanacAPIError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class Almanac:
    def __init__(self, url: str | None = None, token: str | None = None,
                 *, timeout: float = 30.0) -> None:
        self.url = (url or os.environ.get("ALMANAC_URL") or "http://127.0.0.1:8080").rstrip("/")
        self.token = token or os.environ.get("ALMANAC_TOKEN")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=timeout)
        self.tasks = _Tasks(self)
        self.runs = _Runs(self)

    @classmethod
    def login(cls, url: str, username: str, password: str) -> Almanac:
        response = httpx.post(url.rstrip("/") + "/api/v1/auth/token",
                              json={"username": username, "password": password})
        _check(response)
        return cls(url, response.json()["access_token"])

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        _check(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def agents(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/agents")
        return result

    def close(self) -> None:
        self.http.close()


def _check(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        detail = str(response.json().get("detail", response.text))
    except ValueError:
        detail = response.text
    raise AlmanacAPIError(response.status_code, detail)


class _Tasks:
    def __init__(self, client: Almanac) -> None:
        self._c = client

    def list(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._c.request("GET", "/tasks", params=filters)
        return result

    def create(self, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request("POST", "/tasks", json=fields)
        return result

    def get(self, tid: int) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request("GET", f"/tasks/{tid}")
        return result

    def update(self, tid: int, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request("PATCH", f"/tasks/{tid}", json=fields)
        return result

    def delete(self, tid: int) -> None:
        self._c.request("DELETE", f"/tasks/{tid}")

    def run(self, tid: int) -> RunHandle:
        data = self._c.request("POST", f"/tasks/{tid}/run")
        return RunHandle(self._c, data)

    def forecast(self, tid: int, count: int = 10, after: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"count": count}
        if after:
            params["after"] = after
        result: dict[str, Any] = self._c.request("GET", f"/tasks/{tid}/forecast", params=params)
        return result


class _Runs:
    def __init__(self, client: Almanac) -> None:
        self._c = client

    def list(self, **filters: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request("GET", "/runs", params=filters)
        return result

    def get(self, run_id: int) -> RunHandle:
        return RunHandle(self._c, self._c.request("GET", f"/runs/{run_id}"))


class RunHandle:
    """A run you can watch: status, logs, wait, kill."""

    def __init__(self, client: Almanac, data: dict[str, Any]) -> None:
        self._c = client
        self.data = data

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def status(self) -> str:
        return str(self.data["status"])

    def refresh(self) -> RunHandle:
        self.data = self._c.request("GET", f"/runs/{self.id}")
        return self

    def get_computation_time(self) -> float | None:
        value = self.refresh().data.get("duration_seconds")
        return float(value) if value is not None else None

    def get_agent(self) -> str | None:
        value = self.refresh().data.get("agent")
        return str(value) if value is not None else None

    def logs(self, stream: str = "stdout") -> str:
        response = self._c.http.get(f"/runs/{self.id}/logs/download", params={"stream": stream})
        _check(response)
        return response.text

    def log_pages(self, stream: str = "stdout", page_size: int = 500) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            data: dict[str, Any] = self._c.request(
                "GET", f"/runs/{self.id}/logs",
                params={"stream": stream, "page": page, "page_size": page_size})
            yield data
            if page * page_size >= data["total_lines"]:
                return
            page += 1

    def kill(self) -> None:
        self._c.request("POST", f"/runs/{self.id}/kill")

    def wait(self, timeout: float | None = None, poll: float = 0.2,
             on_change: Callable[[str], None] | None = None) -> str:
        """Block until the run ends; calls `on_change` with each status seen."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = None
        while True:
            status = self.refresh().status
            if status != seen:
                seen = status
                if on_change:
                    on_change(status)
            if status in TERMINAL:
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {self.id} still {status} after {timeout}s")
            time.sleep(poll)
