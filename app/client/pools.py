"""The client's admission namespaces: pools (occupancy and queue) and per-instance quotas."""

from __future__ import annotations

from typing import Any

from app.client.transport import Transport

JSON = dict[str, Any]


class Pools:
    def __init__(self, client: Transport) -> None:
        self._c = client

    def _where(self, instance: str | None) -> dict[str, str]:
        return {"instance": instance} if instance else {}

    def list(self, instance: str | None = None) -> list[JSON]:
        result: list[JSON] = self._c.request("GET", "/pools", params=self._where(instance))
        return result

    def create(self, name: str, slots: int, **fields: Any) -> JSON:
        """Fields: instance, description, placement ("spread" or "pack")."""
        body = {"name": name, "slots": slots, **fields}
        result: JSON = self._c.request("POST", "/pools", json=body)
        return result

    def get(self, name: str, instance: str | None = None) -> JSON:
        """With `used`, `holders` and `queued` (queue positions, the next to start first)."""
        result: JSON = self._c.request("GET", f"/pools/{name}", params=self._where(instance))
        return result

    def update(self, name: str, instance: str | None = None, **fields: Any) -> JSON:
        result: JSON = self._c.request(
            "PATCH", f"/pools/{name}", json=fields, params=self._where(instance)
        )
        return result

    def delete(self, name: str, instance: str | None = None) -> None:
        self._c.request("DELETE", f"/pools/{name}", params=self._where(instance))


class Quotas:
    def __init__(self, client: Transport) -> None:
        self._c = client

    def list(self) -> list[JSON]:
        result: list[JSON] = self._c.request("GET", "/quotas")
        return result

    def get(self, instance: str) -> JSON:
        result: JSON = self._c.request("GET", f"/quotas/{instance}")
        return result

    def set(
        self,
        instance: str,
        *,
        max_runs: int | None = None,
        max_cores: float | None = None,
        max_gpus: int | None = None,
    ) -> JSON:
        """Replace the instance's quota (None: no limit on that count)."""
        body = {"max_runs": max_runs, "max_cores": max_cores, "max_gpus": max_gpus}
        result: JSON = self._c.request("PUT", f"/quotas/{instance}", json=body)
        return result

    def delete(self, instance: str) -> None:
        self._c.request("DELETE", f"/quotas/{instance}")
