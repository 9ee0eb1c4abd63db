"""`almanac mcp`: Almanac for AI assistants over the Model Context Protocol (official SDK).

Every tool is one or a few REST calls made with the caller's own token through the Python
client (app/client): the server decides what the token may see and do, exactly as for the CLI
and the UI, so roles, instance scopes, approvals and the audit log apply unchanged, and a
refusal (401/403/404/409/422) comes back to the assistant as a tool error with the server's
reason. Read tools are marked read-only; actions are marked destructive so a client asks its
user before calling them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from mcp.server.context import ServerMiddleware
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from app import __version__
from app.client import AlmanacAPIError
from app.client.http import Almanac

INSTRUCTIONS = (
    "Almanac is a scheduled-job orchestrator. Tasks (tid) run commands on agents, alone or in "
    "groups (gid) with a dependency DAG; each occurrence is a run (id) whose status moves "
    "IDLE → ACTIVE → TRIGGER → STARTED → RUNNING → SUCCESS|FAILED|TERMINATED. Use why_run to "
    "learn why a run is not running, run_logs to read or search its output. Actions (force, "
    "kill, pause, approve) act with the user's own rights and are audited in their name."
)
READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
ACT = ToolAnnotations(readOnlyHint=False, destructiveHint=True, openWorldHint=False)
MAX_LOG_LINES = 500


class AlmanacTools:
    """The tools: each one or a few REST calls with the caller's client (`caller()`: the one
    client on stdio; on HTTP, the client of the request's own bearer token)."""

    def __init__(self, caller: Callable[[], Almanac]) -> None:
        self._caller = caller

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self._caller().request(method, path, **kwargs)
        except AlmanacAPIError as error:  # the server's refusal, its status and reason
            raise ToolError(f"HTTP {error.status}: {error.detail}") from error

    def list_tasks(self, name_contains: str = "") -> list[dict[str, Any]]:
        """Tasks visible to you (tid, name, schedule, group, active, next_fire_time), optionally
        only those whose name contains `name_contains`."""
        tasks: list[dict[str, Any]] = self._call("GET", "/tasks")
        return [t for t in tasks if name_contains.lower() in str(t.get("name", "")).lower()]

    def get_task(self, tid: int) -> dict[str, Any]:
        """One task: its command, target, schedule and policies."""
        task: dict[str, Any] = self._call("GET", f"/tasks/{tid}")
        return task

    def list_groups(self) -> list[dict[str, Any]]:
        """Groups visible to you (gid, name, schedule, tasks)."""
        groups: list[dict[str, Any]] = self._call("GET", "/groups")
        return groups

    def get_group(self, gid: int) -> dict[str, Any]:
        """One group with its tasks and its dependency edges."""
        group: dict[str, Any] = self._call("GET", f"/groups/{gid}")
        group["edges"] = self._call("GET", f"/groups/{gid}/edges")
        return group

    def list_runs(
        self,
        status: str = "",
        task: int | None = None,
        group: int | None = None,
        since: str = "",
        until: str = "",
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """Runs, newest first. Filters: status (e.g. FAILED), task (tid), group (gid), since and
        until (ISO 8601). Pages of at most 200."""
        filters = {
            "status": status or None,
            "task": task,
            "group": group,
            "since": since or None,
            "until": until or None,
            "page": page,
            "page_size": max(1, min(page_size, 200)),
        }
        params = {k: v for k, v in filters.items() if v is not None}
        runs: dict[str, Any] = self._call("GET", "/runs", params=params)
        return runs

    def get_run(self, run_id: int) -> dict[str, Any]:
        """One run: status, reason, agent, exit code, times, and its events (the timeline)."""
        run: dict[str, Any] = self._call("GET", f"/runs/{run_id}")
        return run

    def why_run(self, run_id: int) -> dict[str, Any]:
        """Why a run is not running: every blocker of an IDLE or ACTIVE run (upstreams, a
        concurrency slot, an agent, an approval, a calendar...); empty when nothing holds it."""
        run = self._call("GET", f"/runs/{run_id}")
        blockers = self._call("GET", f"/runs/{run_id}/why")
        return {
            "run": run_id,
            "status": run["status"],
            "reason": run.get("reason"),
            "waiting_for": blockers,
        }

    def run_logs(
        self,
        run_id: int,
        stream: str = "stdout",
        search: str = "",
        regex: bool = False,
        attempt: int | None = None,
        max_lines: int = 200,
    ) -> dict[str, Any]:
        """A run's output (stream stdout or stderr). With `search`, only the lines containing
        it (or matching it as a regular expression when `regex`), with their line numbers;
        without, the last `max_lines` lines (at most 500)."""
        limit = max(1, min(max_lines, MAX_LOG_LINES))
        matches = _matcher(search, regex)
        found: list[dict[str, Any]] = []
        total = 0
        page = 1
        while True:
            params: dict[str, Any] = {"stream": stream, "page": page, "page_size": 5000}
            if attempt is not None:
                params["attempt"] = attempt
            chunk = self._call("GET", f"/runs/{run_id}/logs", params=params)
            total = int(chunk["total_lines"])
            first = int(chunk["first_line"])
            for offset, line in enumerate(chunk["lines"]):
                if matches(line):
                    found.append({"line": first + offset, "text": line})
            if not search:
                found = found[-limit:]
            elif len(found) >= limit:
                break
            if first + len(chunk["lines"]) >= total or not chunk["lines"]:
                break
            page += 1
        return {"run": run_id, "stream": stream, "total_lines": total, "lines": found[:limit]}

    def forecast(
        self, tid: int | None = None, gid: int | None = None, count: int = 10
    ) -> dict[str, Any]:
        """The next fire times of a task (tid) or a group (gid), with their UTC offsets."""
        if (tid is None) == (gid is None):
            raise ToolError("give either tid or gid")
        path = f"/tasks/{tid}/forecast" if tid is not None else f"/groups/{gid}/forecast"
        result: dict[str, Any] = self._call("GET", path, params={"count": max(1, min(count, 100))})
        return result

    def list_agents(self) -> list[dict[str, Any]]:
        """Agents: status (online, offline, draining), labels, capacity, what they run."""
        agents: list[dict[str, Any]] = self._call("GET", "/agents")
        return agents

    def force_task_run(
        self, tid: int, business_date: str = "", params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Start a run of a task now (operators; a user's run waits for approval)."""
        body: dict[str, Any] = {}
        if business_date:
            body["business_date"] = business_date
        if params:
            body["params"] = params
        run: dict[str, Any] = self._call("POST", f"/tasks/{tid}/run", json=body or None)
        return run

    def force_group_run(self, gid: int, business_date: str = "") -> dict[str, Any]:
        """Start a run of a whole group now."""
        body = {"business_date": business_date} if business_date else None
        run: dict[str, Any] = self._call("POST", f"/groups/{gid}/run", json=body)
        return run

    def kill_run(self, run_id: int) -> dict[str, Any]:
        """Stop a run: it ends TERMINATED (operators)."""
        run: dict[str, Any] = self._call("POST", f"/runs/{run_id}/kill")
        return run

    def pause_run(self, run_id: int) -> dict[str, Any]:
        """Suspend a RUNNING run (operators)."""
        run: dict[str, Any] = self._call("POST", f"/runs/{run_id}/pause")
        return run

    def resume_run(self, run_id: int) -> dict[str, Any]:
        """Resume a PAUSED run (operators)."""
        run: dict[str, Any] = self._call("POST", f"/runs/{run_id}/resume")
        return run

    def approve_run(self, run_id: int, comment: str = "", spec_digest: str = "") -> dict[str, Any]:
        """Approve a PENDING_APPROVAL run (operators). With `spec_digest` (from get_run), only
        if what it runs is still what was reviewed."""
        body: dict[str, Any] = {"comment": comment}
        if spec_digest:
            body["spec_digest"] = spec_digest
        run: dict[str, Any] = self._call("POST", f"/runs/{run_id}/approve", json=body)
        return run

    def reject_run(self, run_id: int, comment: str = "") -> dict[str, Any]:
        """Refuse a PENDING_APPROVAL run: it ends REJECTED with the comment as its reason."""
        run: dict[str, Any] = self._call(
            "POST", f"/runs/{run_id}/reject", json={"comment": comment}
        )
        return run


READ_TOOLS = (
    "list_tasks",
    "get_task",
    "list_groups",
    "get_group",
    "list_runs",
    "get_run",
    "why_run",
    "run_logs",
    "forecast",
    "list_agents",
)
ACTIONS = (
    "force_task_run",
    "force_group_run",
    "kill_run",
    "pause_run",
    "resume_run",
    "approve_run",
    "reject_run",
)


def build_server(
    api: Almanac | Callable[[], Almanac], middleware: Sequence[ServerMiddleware[Any]] = ()
) -> MCPServer:
    server: MCPServer = MCPServer(
        name="almanac",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        middleware=middleware,
    )
    tools = AlmanacTools(api if callable(api) else lambda: api)
    for name in READ_TOOLS:
        server.add_tool(getattr(tools, name), annotations=READ)
    for name in ACTIONS:
        server.add_tool(getattr(tools, name), annotations=ACT)
    return server


def _matcher(search: str, regex: bool) -> Callable[[str], bool]:
    if not search:
        return lambda _line: True
    if regex:
        try:
            pattern = re.compile(search)
        except re.error as error:
            raise ToolError(f"search is not a valid regular expression: {error}") from error
        return lambda line: pattern.search(line) is not None
    return lambda line: search in line
