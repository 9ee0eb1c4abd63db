"""The client's namespaces: tasks, groups, calendars, adhoc, definitions, integrations, alerts.

Each method is one API call and returns the decoded JSON (dicts and lists, as documented at
/api/v1/docs), or a handle (`RunHandle`, `Batch`) for what you go on watching.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from typing import Any

from app.client.batch import Batch
from app.client.errors import check
from app.client.runs import RunHandle
from app.client.transport import Transport

JSON = dict[str, Any]


def _run_body(business_date: str | None, params: dict[str, Any] | None) -> JSON | None:
    body: JSON = {}
    if business_date is not None:
        body["business_date"] = business_date
    if params:
        body["params"] = params
    return body or None


class _Namespace:
    def __init__(self, client: Transport) -> None:
        self._c = client

    def _get(self, path: str, **params: Any) -> Any:
        return self._c.request(
            "GET", path, params={k: v for k, v in params.items() if v is not None}
        )


class _Versioned(_Namespace):
    """Definition history of a task or a group (`_path`: "/tasks" or "/groups")."""

    _path = ""

    def versions(self, key: int) -> builtins.list[JSON]:
        """Its definition versions, newest first (who, when, via, the fields changed)."""
        result: builtins.list[JSON] = self._c.request("GET", f"{self._path}/{key}/versions")
        return result

    def version(self, key: int, number: int) -> JSON:
        """One version: its definition and the diff against the version before."""
        result: JSON = self._c.request("GET", f"{self._path}/{key}/versions/{number}")
        return result

    def rollback(self, key: int, number: int) -> JSON:
        """Take version `number`'s definition again; answers the new version."""
        result: JSON = self._c.request("POST", f"{self._path}/{key}/versions/{number}/rollback")
        return result


class Tasks(_Versioned):
    _path = "/tasks"

    def list(self, **filters: Any) -> list[JSON]:
        """Filters: q, active, group, page, page_size."""
        result: list[JSON] = self._get("/tasks", **filters)
        return result

    def create(self, **fields: Any) -> JSON:
        """Fields as in DESIGN.md: name, command, schedule, target, image, ..."""
        result: JSON = self._c.request("POST", "/tasks", json=fields)
        return result

    def get(self, tid: int) -> JSON:
        result: JSON = self._c.request("GET", f"/tasks/{tid}")
        return result

    def update(self, tid: int, **fields: Any) -> JSON:
        """Change only the fields given."""
        result: JSON = self._c.request("PATCH", f"/tasks/{tid}", json=fields)
        return result

    def delete(self, tid: int) -> None:
        self._c.request("DELETE", f"/tasks/{tid}")

    def run(
        self,
        tid: int,
        *,
        business_date: str | None = None,
        params: dict[str, Any] | None = None,
        priority: int | None = None,
        agent: str | None = None,
    ) -> RunHandle:
        """Force a run now, optionally for a business date (YYYY-MM-DD) with parameter
        values (checked against the task's declarations); `priority` (operators) replaces
        the task's for this run; `agent` runs it on that agent instead of the task's
        target."""
        body = _run_body(business_date, params)
        if priority is not None:
            body = {**(body or {}), "priority": priority}
        if agent is not None:
            body = {**(body or {}), "agent": agent}
        return RunHandle(self._c, self._c.request("POST", f"/tasks/{tid}/run", json=body))

    def forecast(self, tid: int, count: int = 10, after: str | None = None) -> JSON:
        result: JSON = self._get(f"/tasks/{tid}/forecast", count=count, after=after)
        return result


class Groups(_Versioned):
    _path = "/groups"

    def list(self, **filters: Any) -> list[JSON]:
        result: list[JSON] = self._get("/groups", **filters)
        return result

    def create(self, **fields: Any) -> JSON:
        result: JSON = self._c.request("POST", "/groups", json=fields)
        return result

    def get(self, gid: int) -> JSON:
        result: JSON = self._c.request("GET", f"/groups/{gid}")
        return result

    def update(self, gid: int, **fields: Any) -> JSON:
        result: JSON = self._c.request("PATCH", f"/groups/{gid}", json=fields)
        return result

    def delete(self, gid: int) -> None:
        self._c.request("DELETE", f"/groups/{gid}")

    def add_edge(
        self, gid: int, upstream: int, downstream: int, condition: str = "success"
    ) -> JSON:
        result: JSON = self._c.request(
            "POST",
            f"/groups/{gid}/edges",
            json={"upstream": upstream, "downstream": downstream, "condition": condition},
        )
        return result

    def run(
        self,
        gid: int,
        *,
        business_date: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> JSON:
        """Start a group run now, optionally for a business date with parameter values
        (they reach its tasks)."""
        body = _run_body(business_date, params)
        result: JSON = self._c.request("POST", f"/groups/{gid}/run", json=body)
        return result


class Calendars(_Namespace):
    def list(self) -> list[JSON]:
        result: list[JSON] = self._get("/calendars")
        return result

    def create(self, **fields: Any) -> JSON:
        result: JSON = self._c.request("POST", "/calendars", json=fields)
        return result

    def get(self, name: str) -> JSON:
        result: JSON = self._c.request("GET", f"/calendars/{name}")
        return result

    def update(self, name: str, **fields: Any) -> JSON:
        """Change the fields given (categories, include, exclude, extra_dates, ...)."""
        result: JSON = self._c.request("PATCH", f"/calendars/{name}", json=fields)
        return result

    def preview(self, name: str, year: int) -> JSON:
        """A year as schedules see it: closed dates with their reason, dates a rule opened."""
        result: JSON = self._c.request("GET", f"/calendars/{name}/preview", params={"year": year})
        return result

    def delete(self, name: str) -> None:
        self._c.request("DELETE", f"/calendars/{name}")


class Adhoc(_Namespace):
    def start(
        self,
        command: str,
        *,
        agents: list[str] | None = None,
        labels: dict[str, str] | None = None,
        all: bool = False,
        **resources: Any,
    ) -> Batch:
        """Run `command` now on `agents` (names), on every online agent with `labels`, or on
        `all` online agents. `resources`: image, cpus, memory, gpus, mounts, env,
        run_as_user, workdir, max_run_seconds."""
        body: JSON = {"command": command, **resources}
        if agents is not None:
            body["agents"] = agents
        if labels is not None:
            body["labels"] = labels
        if all:
            body["all"] = True
        return Batch(self._c, self._c.request("POST", "/adhoc", json=body))

    def submit(self, command: str, agent: str, **resources: Any) -> RunHandle:
        """One adhoc run on one agent: its handle."""
        batch = self.start(command, agents=[agent], **resources)
        return batch.runs[0]

    def get(self, batch_id: str) -> Batch:
        return Batch(self._c, self._c.request("GET", f"/adhoc/{batch_id}"))

    def kill(self, batch_id: str) -> Batch:
        return Batch(self._c, self._c.request("POST", f"/adhoc/{batch_id}/kill"))


class Definitions(_Namespace):
    def export(self, *, format: str = "json") -> str:
        """The export document, as the exact text the server sends (JSON or YAML)."""
        response = self._c.http.get("/export", params={"format": format})
        check(response)
        return response.text

    def plan(
        self,
        files: Mapping[str, str],
        *,
        source: str,
        commit: str | None = None,
        prune: bool = False,
    ) -> JSON:
        """What applying `files` ({path: text}, YAML or JSON) would change; AlmanacAPIError
        with `.errors` (file, line, column) when they are refused."""
        return self._definitions("plan", files, source, commit, prune)

    def apply(
        self,
        files: Mapping[str, str],
        *,
        source: str,
        commit: str | None = None,
        prune: bool = False,
    ) -> JSON:
        """Apply `files` in one transaction; the objects become managed by `source`."""
        return self._definitions("apply", files, source, commit, prune)

    def _definitions(
        self, step: str, files: Mapping[str, str], source: str, commit: str | None, prune: bool
    ) -> JSON:
        body = {
            "files": [{"path": path, "content": text} for path, text in sorted(files.items())],
            "source": source,
            "commit": commit,
            "prune": prune,
        }
        result: JSON = self._c.request("POST", f"/definitions/{step}", json=body)
        return result

    def import_(
        self, document: str | bytes | JSON, *, dry_run: bool = False, mode: str = "merge"
    ) -> JSON:
        """Import a document (text or parsed); raises AlmanacAPIError with `.errors` listing
        each refused item. The answer says what was (or would be) created, updated, deleted."""
        body = json.dumps(document) if isinstance(document, dict) else document
        result: JSON = self._c.request(
            "POST",
            "/import",
            content=body,
            headers={"content-type": "application/json"},
            params={"dry_run": str(dry_run).lower(), "mode": mode},
        )
        return result

    def import_crontab(self, text: str, *, dry_run: bool = False, **options: Any) -> JSON:
        """Import a crontab as tasks. `options`: format ("user" | "system"), timezone,
        prefix, group, instance, skip_untranslatable."""
        result: JSON = self._c.request(
            "POST",
            "/import/crontab",
            json={"text": text, **options},
            params={"dry_run": str(dry_run).lower()},
        )
        return result

    def schema(self) -> JSON:
        result: JSON = self._get("/schema/export.json")
        return result


class Integrations(_Namespace):
    def list(self) -> list[JSON]:
        result: list[JSON] = self._get("/integrations")
        return result

    def create(
        self,
        name: str,
        kind: str,
        config: JSON,
        secret: str | None = None,
        instance: str | None = None,
    ) -> JSON:
        """kind: webhook ({"url"}), slack ({"url"}), email ({"host", "port", "from", "to"});
        `instance`: the instance whose alerts it carries (None: a global integration)."""
        body: JSON = {"name": name, "kind": kind, "config": config}
        if secret is not None:
            body["secret"] = secret
        if instance is not None:
            body["instance"] = instance
        result: JSON = self._c.request("POST", "/integrations", json=body)
        return result

    def update(self, integration_id: int, **fields: Any) -> JSON:
        result: JSON = self._c.request("PATCH", f"/integrations/{integration_id}", json=fields)
        return result

    def delete(self, integration_id: int) -> None:
        self._c.request("DELETE", f"/integrations/{integration_id}")

    def test(self, integration_id: int) -> JSON:
        """Send a test message now; the answer says whether it went through."""
        result: JSON = self._c.request("POST", f"/integrations/{integration_id}/test")
        return result


class Alerts(_Namespace):
    def create(
        self,
        *,
        events: list[str],
        integration: int,
        task: int | None = None,
        group: int | None = None,
        late_minutes: float | None = None,
    ) -> JSON:
        """Alert through `integration` on `events` (failed, succeeded, timeout,
        retries_exhausted, late_start, agent_lost) of a task's or a group's runs."""
        body: JSON = {
            "events": events,
            "integration": integration,
            "task": task,
            "group": group,
            "late_minutes": late_minutes,
        }
        result: JSON = self._c.request(
            "POST", "/alerts", json={k: v for k, v in body.items() if v is not None}
        )
        return result

    def delete(self, rule_id: int) -> None:
        self._c.request("DELETE", f"/alerts/{rule_id}")

    def deliveries(self, run_id: int) -> list[JSON]:
        """The alerts sent (or being retried) about one run."""
        result: list[JSON] = self._get(f"/runs/{run_id}/alerts")
        return result

    def list(self, **filters: Any) -> list[JSON]:
        """Rules; filters: task, group."""
        result: list[JSON] = self._get("/alerts", **filters)
        return result
