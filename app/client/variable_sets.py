"""`client.variable_sets`: named variables and secrets per instance. Secret values are
write-only: reads give their names (`"set"`), never the values."""

from __future__ import annotations

from typing import Any

from app.client.transport import Transport

JSON = dict[str, Any]


class VariableSets:
    def __init__(self, client: Transport) -> None:
        self._c = client

    @staticmethod
    def _params(instance: str | None) -> dict[str, str]:
        return {"instance": instance} if instance else {}

    def list(self, instance: str | None = None) -> list[JSON]:
        result: list[JSON] = self._c.request("GET", "/variable-sets", params=self._params(instance))
        return result

    def create(
        self,
        name: str,
        *,
        instance: str = "default",
        description: str = "",
        variables: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
    ) -> JSON:
        body = {
            "name": name,
            "instance": instance,
            "description": description,
            "variables": variables or {},
            "secrets": secrets or {},
        }
        result: JSON = self._c.request("POST", "/variable-sets", json=body)
        return result

    def get(self, name: str, instance: str | None = None) -> JSON:
        result: JSON = self._c.request(
            "GET", f"/variable-sets/{name}", params=self._params(instance)
        )
        return result

    def update(self, name: str, instance: str | None = None, **fields: Any) -> JSON:
        """description, variables (replaces), secrets (every name; None keeps a value)."""
        result: JSON = self._c.request(
            "PATCH", f"/variable-sets/{name}", json=fields, params=self._params(instance)
        )
        return result

    def delete(self, name: str, instance: str | None = None) -> None:
        self._c.request("DELETE", f"/variable-sets/{name}", params=self._params(instance))
