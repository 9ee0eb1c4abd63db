"""Every route × every role × own/other instance answers as the rules say.

RULES declares, for each (method, path) of the app, the weakest role that may call it and
how instances bound it; CALLS says how to build a request that would succeed. A route missing
from either table fails the suite: a new route must state who may use it.

Expected answers: anonymous → 401 (pages: a redirect to /login); a role below the minimum →
403; an object of an instance not granted → 404 (creating into one → 422; lists leave it out);
otherwise the call's success codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from security.walk_world import FREEZE_DAY, OTHER, OWN, PASSWORD, ROLES, World
from starlette.routing import Mount, Route
from starlette.websockets import WebSocketDisconnect

from app.db.backfill_tables import Backfill
from app.db.engine import make_engine
from app.db.tables import (
    AgentToken,
    ApiToken,
    Calendar,
    DependencyEdge,
    GroupRun,
    Run,
    TaskGroup,
    User,
)
from app.db.variable_set_tables import VariableSet
from app.domain.roles import Role, role_at_least
from app.domain.states import RunStatus
from app.security import SESSION_COOKIE
from app.server import create_app
from app.settings import Settings
from app.web.auth import CSRF_HEADER, csrf_for

PUBLIC = "public"
OK = frozenset(range(200, 300))
# pages answer a refused htmx action with the API's message (a toast or the form's errors)
TOASTED = frozenset({200, 204, 403, 404, 422})
# scope: "path" (another instance's object → 404), "body" (creating into one → 422),
# "list" (left out of the answer), None (global objects: agents, accounts), "global" (shared
# objects that only a caller granted every instance may change: calendars, global
# integrations; walked as the role granted `*` in the own round and as the walk's scoped user
# in the other round, who gets 403).
Scope = str | None


@dataclass(frozen=True)
class Rule:
    role: str  # PUBLIC or the weakest role allowed
    scope: Scope = None
    # the answer below `role` (404 where another's object is invisible; a page's htmx action
    # may answer 200 with the refusal as a toast: its `effect` proves nothing happened)
    denied: frozenset[int] = frozenset({403})
    page: bool = False  # a web page: cookie session, anonymous is sent to /login


@dataclass
class Call:
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    ok: frozenset[int] = OK
    marker: str | None = None  # a list answer holds it exactly for the own instance
    token: str | None = None  # a token of its own (routes that change the caller)
    stream: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    effect: Callable[[], bool] | None = None  # did the call change what it should?


API = "/api/v1"
R = Rule
V, U, OP, A = "viewer", "user", "operator", "admin"
PATH, BODY, LIST, GLOBAL = "path", "body", "list", "global"

RULES: dict[tuple[str, str], Rule] = {
    ("GET", f"{API}/health"): R(PUBLIC),
    ("POST", f"{API}/auth/token"): R(PUBLIC),
    ("POST", f"{API}/auth/password"): R(V),
    ("POST", f"{API}/auth/logout"): R(V),
    ("GET", f"{API}/auth/me"): R(V),
    ("PATCH", f"{API}/auth/me"): R(V),
    ("GET", f"{API}/tasks"): R(V, LIST),
    ("POST", f"{API}/tasks"): R(U, BODY),
    ("GET", f"{API}/tasks/{{tid}}"): R(V, PATH),
    ("PATCH", f"{API}/tasks/{{tid}}"): R(U, PATH),
    ("DELETE", f"{API}/tasks/{{tid}}"): R(U, PATH),
    ("POST", f"{API}/tasks/{{tid}}/run"): R(U, PATH),
    ("GET", f"{API}/tasks/{{tid}}/forecast"): R(V, PATH),
    ("GET", f"{API}/tasks/{{tid}}/versions"): R(V, PATH),
    ("GET", f"{API}/tasks/{{tid}}/versions/{{number}}"): R(V, PATH),
    ("POST", f"{API}/tasks/{{tid}}/versions/{{number}}/rollback"): R(OP, PATH),
    ("GET", f"{API}/groups/{{gid}}/versions"): R(V, PATH),
    ("GET", f"{API}/groups/{{gid}}/versions/{{number}}"): R(V, PATH),
    ("POST", f"{API}/groups/{{gid}}/versions/{{number}}/rollback"): R(OP, PATH),
    ("GET", f"{API}/tasks/{{tid}}/freezes"): R(V, PATH),
    ("POST", f"{API}/tasks/{{tid}}/freezes"): R(OP, PATH),
    ("DELETE", f"{API}/tasks/{{tid}}/freezes/{{day}}"): R(OP, PATH),
    ("GET", f"{API}/runs"): R(V, LIST),
    ("GET", f"{API}/runs/{{run_id}}"): R(V, PATH),
    ("GET", f"{API}/runs/{{run_id}}/logs"): R(V, PATH),
    ("GET", f"{API}/runs/{{run_id}}/logs/download"): R(V, PATH),
    ("POST", f"{API}/runs/{{run_id}}/kill"): R(OP, PATH),
    ("POST", f"{API}/runs/{{run_id}}/pause"): R(OP, PATH),
    ("POST", f"{API}/runs/{{run_id}}/resume"): R(OP, PATH),
    ("GET", f"{API}/runs/{{run_id}}/why"): R(V, PATH),
    ("POST", f"{API}/runs/{{run_id}}/force"): R(OP, PATH),
    ("POST", f"{API}/runs/{{run_id}}/rerun"): R(OP, PATH),
    ("POST", f"{API}/runs/{{run_id}}/mark-success"): R(OP, PATH),
    ("POST", f"{API}/runs/{{run_id}}/approve"): R(OP, PATH),
    ("POST", f"{API}/runs/{{run_id}}/reject"): R(OP, PATH),
    ("GET", f"{API}/runs/{{run_id}}/outputs"): R(V, PATH),
    ("GET", f"{API}/runs/{{run_id}}/outputs.zip"): R(V, PATH),
    ("GET", f"{API}/runs/{{run_id}}/outputs/{{name:path}}"): R(V, PATH),
    ("GET", f"{API}/agents"): R(V),
    ("GET", f"{API}/agents/{{name}}"): R(V),
    ("POST", f"{API}/agents/{{name}}/drain"): R(OP),
    ("POST", f"{API}/agents/{{name}}/undrain"): R(OP),
    ("DELETE", f"{API}/agents/{{name}}"): R(A),
    ("POST", f"{API}/agents/tokens"): R(A),
    ("GET", f"{API}/agents/tokens"): R(A),
    ("DELETE", f"{API}/agents/tokens/{{token_id}}"): R(A),
    ("PATCH", f"{API}/agents/tokens/{{token_id}}"): R(A),
    ("GET", f"{API}/policies"): R(OP, LIST),
    ("GET", f"{API}/policies/instances/{{instance}}"): R(OP, PATH),
    ("PUT", f"{API}/policies/instances/{{instance}}"): R(A, PATH),
    ("DELETE", f"{API}/policies/instances/{{instance}}"): R(A, PATH),
    ("GET", f"{API}/policies/agents/{{name}}"): R(OP),
    # an agent serves every instance: its policy is for unscoped admins, and every walking
    # account is scoped (test_security_policy covers the unscoped one)
    ("PUT", f"{API}/policies/agents/{{name}}"): R(A),
    ("DELETE", f"{API}/policies/agents/{{name}}"): R(A),
    ("GET", f"{API}/calendars"): R(V),
    ("POST", f"{API}/calendars"): R(A, GLOBAL),
    ("GET", f"{API}/calendars/{{name}}"): R(V),
    ("PATCH", f"{API}/calendars/{{name}}"): R(A, GLOBAL),
    ("DELETE", f"{API}/calendars/{{name}}"): R(A, GLOBAL),
    ("GET", f"{API}/calendars/{{name}}/closed"): R(V),
    ("GET", f"{API}/calendars/{{name}}/versions"): R(V),
    ("GET", f"{API}/calendars/{{name}}/versions/{{number}}"): R(V),
    ("GET", f"{API}/calendars/{{name}}/preview"): R(V),
    ("GET", f"{API}/groups"): R(V, LIST),
    ("POST", f"{API}/groups"): R(U, BODY),
    ("GET", f"{API}/groups/{{gid}}"): R(V, PATH),
    ("PATCH", f"{API}/groups/{{gid}}"): R(U, PATH),
    ("DELETE", f"{API}/groups/{{gid}}"): R(U, PATH),
    ("GET", f"{API}/groups/{{gid}}/edges"): R(V, PATH),
    ("POST", f"{API}/groups/{{gid}}/edges"): R(U, PATH),
    ("DELETE", f"{API}/groups/{{gid}}/edges"): R(U, PATH),
    ("POST", f"{API}/groups/{{gid}}/dependencies"): R(U, PATH),
    ("DELETE", f"{API}/groups/{{gid}}/dependencies/{{upstream_gid}}"): R(U, PATH),
    ("GET", f"{API}/groups/{{gid}}/forecast"): R(V, PATH),
    ("POST", f"{API}/groups/{{gid}}/run"): R(OP, PATH),
    ("GET", f"{API}/groups/{{gid}}/graph"): R(V, PATH),
    ("GET", f"{API}/groups/{{gid}}/freezes"): R(V, PATH),
    ("POST", f"{API}/groups/{{gid}}/freezes"): R(OP, PATH),
    ("DELETE", f"{API}/groups/{{gid}}/freezes/{{day}}"): R(OP, PATH),
    ("GET", f"{API}/group-runs"): R(V, LIST),
    ("GET", f"{API}/group-runs/{{group_run_id}}"): R(V, PATH),
    ("POST", f"{API}/group-runs/{{group_run_id}}/terminate"): R(OP, PATH),
    ("POST", f"{API}/tasks/{{tid}}/backfill"): R(U, PATH),
    ("POST", f"{API}/groups/{{gid}}/backfill"): R(U, PATH),
    ("GET", f"{API}/backfills"): R(V, LIST),
    ("GET", f"{API}/backfills/{{backfill_id}}"): R(V, PATH),
    # the walk's backfills are someone else's: only an operator controls them
    ("POST", f"{API}/backfills/{{backfill_id}}/pause"): R(OP, PATH),
    ("POST", f"{API}/backfills/{{backfill_id}}/resume"): R(OP, PATH),
    ("POST", f"{API}/backfills/{{backfill_id}}/cancel"): R(OP, PATH),
    ("POST", f"{API}/backfills/{{backfill_id}}/approve"): R(OP, PATH),
    ("POST", f"{API}/backfills/{{backfill_id}}/reject"): R(OP, PATH),
    ("GET", f"{API}/users"): R(A, LIST),
    ("POST", f"{API}/users"): R(A),
    ("GET", f"{API}/users/{{username}}"): R(A, PATH),
    ("PATCH", f"{API}/users/{{username}}"): R(A, PATH),
    ("DELETE", f"{API}/users/{{username}}"): R(A, PATH),
    ("POST", f"{API}/users/{{username}}/password"): R(A, PATH),
    ("GET", f"{API}/tokens"): R(V),
    ("POST", f"{API}/tokens"): R(V),
    ("DELETE", f"{API}/tokens/{{token_id}}"): R(A, PATH, denied=frozenset({404})),
    ("GET", f"{API}/audit"): R(A),
    ("GET", f"{API}/export"): R(V, LIST),
    ("GET", f"{API}/schema/export.json"): R(V),
    ("POST", f"{API}/import"): R(OP, BODY),
    ("POST", f"{API}/import/crontab"): R(A, BODY),
    ("POST", f"{API}/definitions/plan"): R(OP, BODY),
    ("POST", f"{API}/definitions/apply"): R(OP, BODY),
    ("GET", f"{API}/sync"): R(A, GLOBAL),
    ("POST", f"{API}/sync"): R(A, GLOBAL),
    ("GET", f"{API}/sync/{{name}}"): R(A, GLOBAL),
    ("PATCH", f"{API}/sync/{{name}}"): R(A, GLOBAL),
    ("DELETE", f"{API}/sync/{{name}}"): R(A, GLOBAL),
    ("POST", f"{API}/sync/{{name}}/pull"): R(A, GLOBAL),
    # the webhook: the source's secret, not a user, authenticates it (tests/definitions)
    ("POST", f"{API}/sync/{{name}}"): R(PUBLIC),
    ("GET", "/metrics"): R(V),
    ("POST", f"{API}/adhoc"): R(U, BODY),
    ("GET", f"{API}/adhoc/{{batch_id}}"): R(V, PATH),
    ("POST", f"{API}/adhoc/{{batch_id}}/kill"): R(OP, PATH),
    ("GET", f"{API}/variable-sets"): R(V, LIST),
    ("POST", f"{API}/variable-sets"): R(A, BODY),
    ("GET", f"{API}/variable-sets/{{name}}"): R(V, PATH),
    ("PATCH", f"{API}/variable-sets/{{name}}"): R(A, PATH),
    ("DELETE", f"{API}/variable-sets/{{name}}"): R(A, PATH),
    ("GET", f"{API}/pools"): R(V, LIST),
    ("POST", f"{API}/pools"): R(A, BODY),
    ("GET", f"{API}/pools/{{name}}"): R(V, PATH),
    ("PATCH", f"{API}/pools/{{name}}"): R(A, PATH),
    ("DELETE", f"{API}/pools/{{name}}"): R(A, PATH),
    ("GET", f"{API}/quotas"): R(V, LIST),
    ("GET", f"{API}/quotas/{{instance}}"): R(V, PATH),
    # a quota bounds an instance against the others: only a caller granted every instance
    ("PUT", f"{API}/quotas/{{instance}}"): R(A, GLOBAL),
    ("DELETE", f"{API}/quotas/{{instance}}"): R(A, GLOBAL),
    ("GET", f"{API}/integrations"): R(A, LIST),
    ("POST", f"{API}/integrations"): R(A, BODY),
    ("GET", f"{API}/integrations/{{integration_id}}"): R(A, PATH),
    ("PATCH", f"{API}/integrations/{{integration_id}}"): R(A, PATH),
    ("DELETE", f"{API}/integrations/{{integration_id}}"): R(A, PATH),
    ("POST", f"{API}/integrations/{{integration_id}}/test"): R(A, PATH),
    ("GET", f"{API}/alerts"): R(V, LIST),
    ("POST", f"{API}/alerts"): R(OP, BODY),
    ("GET", f"{API}/alerts/{{rule_id}}"): R(V, PATH),
    ("PATCH", f"{API}/alerts/{{rule_id}}"): R(OP, PATH),
    ("DELETE", f"{API}/alerts/{{rule_id}}"): R(OP, PATH),
    ("GET", f"{API}/runs/{{run_id}}/alerts"): R(V, PATH),
    # web pages
    ("GET", "/"): R(V, page=True),
    ("GET", "/login"): R(PUBLIC),
    ("POST", "/login"): R(PUBLIC),
    ("POST", "/logout"): R(V, page=True),
    ("GET", "/task-runs"): R(V, LIST, page=True),
    ("GET", "/task-runs/events"): R(V, page=True),
    ("GET", "/task-runs/{run_id:int}"): R(V, PATH, page=True),
    ("POST", "/task-runs/{run_id:int}/{action}"): R(OP, PATH, page=True, denied=TOASTED),
    ("GET", "/task-runs/{run_id:int}/log"): R(V, PATH, page=True),
    ("GET", "/task-runs/{run_id:int}/log/search"): R(V, PATH, page=True),
    ("GET", "/task-runs/{run_id:int}/log/download"): R(V, PATH, page=True),
    ("GET", "/task-runs/{run_id:int}/events"): R(V, PATH, page=True),
    ("GET", "/task-runs/{run_id:int}/outputs/{name:path}"): R(V, PATH, page=True),
    ("GET", "/tasks"): R(V, LIST, page=True),
    ("GET", "/tasks/new"): R(V, page=True),
    ("GET", "/tasks/schedule-preview"): R(V, page=True),
    ("GET", "/tasks/{tid:int}"): R(V, PATH, page=True),
    ("GET", "/tasks/{tid:int}/history"): R(V, PATH, page=True),
    ("GET", "/groups/{gid:int}/history"): R(V, PATH, page=True),
    ("POST", "/tasks/{tid:int}/history/{number:int}/rollback"): R(
        OP, PATH, page=True, denied=TOASTED
    ),
    ("POST", "/groups/{gid:int}/history/{number:int}/rollback"): R(
        OP, PATH, page=True, denied=TOASTED
    ),
    ("POST", "/tasks"): R(U, BODY, page=True, denied=TOASTED),
    ("POST", "/tasks/{tid:int}"): R(U, PATH, page=True, denied=TOASTED),
    ("POST", "/tasks/{tid:int}/delete"): R(U, PATH, page=True, denied=TOASTED),
    ("POST", "/tasks/{tid:int}/run"): R(U, PATH, page=True, denied=TOASTED),
    # Checks a "run for date" form as it is typed: reads the declarations, changes nothing.
    ("POST", "/tasks/{tid:int}/run-check"): R(V, PATH, page=True),
    ("POST", "/groups/{gid:int}/run-check"): R(V, PATH, page=True),
    ("GET", "/tasks/import-export"): R(V, page=True),
    ("GET", "/tasks/export"): R(V, LIST, page=True),
    ("POST", "/tasks/import"): R(OP, BODY, page=True, denied=TOASTED),
    ("POST", "/tasks/import-crontab"): R(A, BODY, page=True, denied=TOASTED),
    ("GET", "/dashboard/events"): R(V, page=True),
    ("GET", "/agents"): R(V, page=True),
    ("GET", "/health"): R(V, page=True),
    ("GET", "/agents/events"): R(V, page=True),
    ("POST", "/agents/{name}/{action}"): R(OP, page=True, denied=TOASTED),
    ("GET", "/variable-sets"): R(V, page=True),
    ("POST", "/variable-sets"): R(A, BODY, page=True, denied=TOASTED),
    ("POST", "/variable-sets/{instance}/{name}"): R(A, PATH, page=True, denied=TOASTED),
    ("POST", "/variable-sets/{instance}/{name}/delete"): R(A, PATH, page=True, denied=TOASTED),
    ("GET", "/calendars"): R(V, page=True),
    ("GET", "/pools"): R(V, page=True),
    ("GET", "/sync"): R(A, GLOBAL, page=True),
    ("POST", "/sync/{name}/pull"): R(A, GLOBAL, page=True),
    ("GET", "/pools/{instance}/{name}"): R(V, PATH, page=True),
    ("GET", "/calendars/new"): R(V, page=True),
    ("GET", "/calendars/{name}"): R(V, page=True),
    ("GET", "/calendars/{name}/edit"): R(V, page=True),
    ("POST", "/calendars"): R(A, GLOBAL, page=True, denied=TOASTED),
    ("POST", "/calendars/{name}"): R(A, GLOBAL, page=True, denied=TOASTED),
    ("POST", "/calendars/{name}/delete"): R(A, GLOBAL, page=True, denied=TOASTED),
    ("GET", "/groups/new"): R(V, page=True),
    ("GET", "/groups/{gid:int}"): R(V, PATH, page=True),
    ("GET", "/groups/{gid:int}/edit"): R(V, PATH, page=True),
    ("GET", "/groups/{gid:int}/events"): R(V, PATH, page=True),
    ("GET", "/groups/{gid:int}/graph.json"): R(V, PATH, page=True),
    ("GET", "/groups/{gid:int}/grid"): R(V, PATH, page=True),
    ("GET", "/groups/{gid:int}/runs"): R(V, PATH, page=True),
    ("GET", "/dashboard/group-runs"): R(V, LIST, page=True),
    ("GET", "/groups/{gid:int}/heatmap"): R(V, PATH, page=True),
    ("GET", "/tasks/{tid:int}/heatmap"): R(V, PATH, page=True),
    ("GET", "/group-runs/{group_run_id:int}/gantt"): R(V, PATH, page=True),
    ("POST", "/groups"): R(U, BODY, page=True, denied=TOASTED),
    ("POST", "/groups/{gid:int}"): R(U, PATH, page=True, denied=TOASTED),
    ("POST", "/groups/{gid:int}/delete"): R(U, PATH, page=True, denied=TOASTED),
    ("POST", "/groups/{gid:int}/edges"): R(U, PATH, page=True, denied=TOASTED),
    ("POST", "/groups/{gid:int}/edges/delete"): R(U, PATH, page=True, denied=TOASTED),
    ("POST", "/groups/{gid:int}/run"): R(OP, PATH, page=True, denied=TOASTED),
    ("GET", "/tasks/{key:int}/backfill"): R(V, PATH, page=True),
    ("GET", "/groups/{key:int}/backfill"): R(V, PATH, page=True),
    ("POST", "/tasks/{key:int}/backfill/preview"): R(V, PATH, page=True),
    ("POST", "/groups/{key:int}/backfill/preview"): R(V, PATH, page=True),
    ("POST", "/tasks/{key:int}/backfill"): R(U, PATH, page=True, denied=TOASTED),
    ("POST", "/groups/{key:int}/backfill"): R(U, PATH, page=True, denied=TOASTED),
    ("GET", "/backfills/{backfill_id:int}"): R(V, PATH, page=True),
    ("POST", "/backfills/{backfill_id:int}/{action}"): R(OP, PATH, page=True, denied=TOASTED),
    ("GET", "/adhoc"): R(V, page=True),
    ("GET", "/adhoc/{batch_id}"): R(V, PATH, page=True),
    ("GET", "/adhoc/{batch_id}/events"): R(V, PATH, page=True),
    ("POST", "/adhoc"): R(U, BODY, page=True, denied=TOASTED),
    ("POST", "/adhoc/{batch_id}/kill"): R(OP, PATH, page=True, denied=TOASTED),
    ("GET", "/password"): R(V, page=True),
    ("POST", "/password"): R(V, page=True),
    ("GET", "/profile"): R(V, page=True),
    ("POST", "/profile"): R(V, page=True),
    ("GET", "/approvals"): R(V, page=True),
    ("GET", "/approvals/count"): R(V, page=True),
    # A decision per chosen run: one of another instance is reported "not found" on the page.
    ("POST", "/approvals"): R(OP, page=True, denied=TOASTED),
    # Each chosen run through its own service: one of another instance is "not found" on it.
    ("POST", "/task-runs/bulk"): R(OP, page=True, denied=TOASTED),
    ("GET", "/admin"): R(A, page=True),
    ("POST", "/admin/users"): R(A, page=True, denied=TOASTED),
    ("POST", "/admin/users/{username}"): R(A, PATH, page=True, denied=TOASTED),
    ("POST", "/admin/users/{username}/delete"): R(A, PATH, page=True, denied=TOASTED),
    ("POST", "/admin/users/{username}/password"): R(A, PATH, page=True, denied=TOASTED),
    ("POST", "/admin/tokens/{token_id:int}/revoke"): R(A, PATH, page=True, denied=TOASTED),
    ("POST", "/admin/agent-tokens"): R(A, page=True, denied=TOASTED),
    ("POST", "/admin/agent-tokens/{token_id:int}/revoke"): R(A, page=True, denied=TOASTED),
    ("POST", "/admin/agent-tokens/{token_id:int}/scope"): R(A, page=True, denied=TOASTED),
    # screens over what had only an API: the API's roles and scopes, checked before the form
    ("GET", "/alerts"): R(V, LIST, page=True),
    ("POST", "/alerts/rules"): R(OP, BODY, page=True),
    ("POST", "/alerts/rules/{rule_id:int}"): R(OP, PATH, page=True),
    ("POST", "/alerts/rules/{rule_id:int}/delete"): R(OP, PATH, page=True),
    ("POST", "/alerts/integrations"): R(A, BODY, page=True),
    ("POST", "/alerts/integrations/{integration_id:int}"): R(A, PATH, page=True),
    ("POST", "/alerts/integrations/{integration_id:int}/delete"): R(A, PATH, page=True),
    ("GET", "/backfills"): R(V, LIST, page=True),
    ("GET", "/tasks/{key:int}/freezes"): R(V, PATH, page=True),
    ("GET", "/groups/{key:int}/freezes"): R(V, PATH, page=True),
    ("POST", "/tasks/{key:int}/freezes"): R(OP, PATH, page=True),
    ("POST", "/groups/{key:int}/freezes"): R(OP, PATH, page=True),
    ("POST", "/tasks/{key:int}/freezes/{day}/delete"): R(OP, PATH, page=True),
    ("POST", "/groups/{key:int}/freezes/{day}/delete"): R(OP, PATH, page=True),
    ("POST", "/pools"): R(A, BODY, page=True),
    ("POST", "/pools/{instance}/{name}"): R(A, PATH, page=True),
    ("POST", "/pools/{instance}/{name}/delete"): R(A, PATH, page=True),
}

# Changes that leave no audit row: every other successful POST/PATCH/DELETE must leave one.
NOT_AUDITED = {
    ("POST", "/tasks/{tid:int}/run-check"),  # checks a form, changes nothing
    ("POST", "/groups/{gid:int}/run-check"),
    ("POST", f"{API}/auth/token"),  # a login (a lockout is audited)
    ("POST", f"{API}/auth/logout"),
    ("POST", f"{API}/integrations/{{integration_id}}/test"),  # sends a test message only
    ("POST", f"{API}/import"),  # a dry run here
    ("POST", f"{API}/definitions/plan"),  # a plan writes nothing
    ("POST", f"{API}/sync/{{name}}"),  # a pull of an unreadable repository: status only
    ("POST", "/login"),
    ("POST", "/logout"),
    ("POST", "/tasks/{key:int}/backfill/preview"),  # a dry run: nothing stored
    ("POST", "/groups/{key:int}/backfill/preview"),
}

Build = Callable[[World, str, str], Call]  # (world, instance, role) → the request


def _task_body(w: World, i: str, r: str) -> Call:
    return Call(f"{API}/tasks", json={"name": f"new-{r}-{i}", "command": "true", "instance": i})


def _run(status: RunStatus = RunStatus.ACTIVE, suffix: str = "", **kw: Any) -> Build:
    return lambda w, i, r: Call(f"{API}/runs/{w.run(i, status)}{suffix}", **kw)


def _task(suffix: str = "", **kw: Any) -> Build:
    return lambda w, i, r: Call(f"{API}/tasks/{w.task(i).id}{suffix}", **kw)


def _group(suffix: str = "", **kw: Any) -> Build:
    return lambda w, i, r: Call(f"{API}/groups/{w.group(i).id}{suffix}", **kw)


def _rollback(kind: str, prefix: str) -> Build:
    """Roll an edited task or group back to version 1: the rollback is its version 3."""

    def build(w: World, i: str, r: str) -> Call:
        object_id = w.edited_task(i) if kind == "task" else w.edited_group(i)
        return Call(
            f"{prefix}/{kind}s/{object_id}/{'versions' if prefix else 'history'}/1/rollback",
            effect=lambda: w.version_of(kind, object_id) == 3,
        )

    return build


_BACKFILL = {"start": "2030-01-01", "end": "2030-01-03"}


def _page_backfill(w: World, key: int | None, kind: str) -> Call:
    column = "task_id" if kind == "task" else "group_id"
    return Call(
        f"/{kind}s/{key}/backfill",
        data=_BACKFILL,
        ok=frozenset({204}),
        effect=lambda: w.exists(Backfill, **{column: key}),
    )


def _backfill(suffix: str, status: str = "running") -> Build:
    return lambda w, i, r: Call(f"{API}/backfills/{w.backfill(i, status)}{suffix}")


def _runs_list(w: World, i: str, r: str) -> Call:
    return Call(f"{API}/runs", marker=w.run_name(w.run(i)))


def _own_password(w: World, i: str, r: str) -> Call:
    _, token = w.fresh_user(r)
    return Call(
        f"{API}/auth/password",
        token=token,
        json={"current_password": PASSWORD, "password": "Brand-New-Pass-2"},
    )


def _edge(w: World, i: str, r: str, *, existing: bool) -> Call:
    gid, up, down = w.group_with_tasks(i, edge=existing)
    return Call(f"{API}/groups/{gid}/edges", json={"upstream": up, "downstream": down})


def _output(w: World, i: str, r: str) -> Call:
    run_id, name = w.run_with_output(i)
    return Call(f"{API}/runs/{run_id}/outputs/{name}")


def _killed(w: World, run_id: int) -> Callable[[], bool]:
    return lambda: w.run_status(run_id) == RunStatus.TERMINATED.value


def _kill(w: World, i: str, r: str) -> Call:
    run_id = w.run(i)
    return Call(f"{API}/runs/{run_id}/kill", effect=_killed(w, run_id))


def _page_action(w: World, i: str, r: str) -> Call:
    run_id = w.run(i)
    return Call(f"/task-runs/{run_id}/kill", effect=_killed(w, run_id))


def _page_bulk(w: World, i: str, r: str) -> Call:
    run_id = w.run(i)
    return Call(
        "/task-runs/bulk", data={"action": "kill", "run": str(run_id)}, effect=_killed(w, run_id)
    )


def _page_create(w: World, i: str, r: str) -> Call:
    name = f"page-{r}-{i}"
    return Call(
        "/tasks",
        data={"name": name, "command": "true", "instance": i},
        effect=lambda: w.task_named(name) is not None,
    )


def _page_edit(w: World, i: str, r: str) -> Call:
    task = w.task(i)

    def edited() -> bool:
        row = w.task_row(task.id or 0)
        return row is not None and row.description == "edited"

    return Call(
        f"/tasks/{task.id}",
        effect=edited,
        data={"name": task.name, "command": "true", "instance": i, "description": "edited"},
    )


def _page_output(w: World, i: str, r: str) -> Call:
    """The page hands out what the API's download gives (nothing while that route is absent)."""
    run_id, name = w.run_with_output(i)
    served = ("GET", f"{API}/runs/{{run_id}}/outputs/{{name:path}}") in app_routes(w.client.app)  # type: ignore[arg-type]
    return Call(f"/task-runs/{run_id}/outputs/{name}", ok=OK if served else frozenset({404}))


def _page_edge(w: World, i: str, r: str, *, existing: bool) -> Call:
    gid, up, down = w.group_with_tasks(i, edge=existing)
    suffix = "/delete" if existing else ""
    return Call(
        f"/groups/{gid}/edges{suffix}",
        data={"upstream": str(up), "downstream": str(down)},
        effect=lambda: w.exists(DependencyEdge, group_id=gid) != existing,
    )


def _page_import(w: World, i: str, r: str) -> Call:
    name = f"imported-{r}-{i}"
    document = json.dumps(
        {"format": "almanac/v1", "tasks": [{"name": name, "command": "true", "instance": i}]}
    )
    return Call(
        "/tasks/import",
        data={"step": "apply", "document": document},
        effect=lambda: w.task_named(name) is not None,
    )


def _page_import_crontab(w: World, i: str, r: str) -> Call:
    name = f"cron-{r}-{i}"
    return Call(
        "/tasks/import-crontab",
        data={"step": "apply", "text": f"0 1 * * * /bin/{name}\n", "instance": i},
        effect=lambda: w.task_named(name) is not None,
    )


def _page_group(w: World, i: str, r: str) -> Call:
    group = w.group(i)
    return Call(
        f"/groups/{group.id}",
        data={"name": group.name, "instance": i, "description": "edited"},
        effect=lambda: w.exists(TaskGroup, id=group.id, description="edited"),
    )


def _page_calendar(w: World, i: str, r: str, action: str) -> Call:
    name = w.calendar()
    if action == "create":
        made = f"pagecal-{r}-{i}"
        return Call("/calendars", data={"name": made}, effect=lambda: w.exists(Calendar, name=made))
    if action == "delete":
        return Call(f"/calendars/{name}/delete", effect=lambda: not w.exists(Calendar, name=name))
    return Call(
        f"/calendars/{name}",
        data={"skip_weekends": "on"},
        effect=lambda: w.exists(Calendar, name=name, skip_weekends=True),
    )


def _page_adhoc(w: World, i: str, r: str) -> Call:
    marker = f"echo adhoc-{r}-{i}"
    return Call(
        "/adhoc",
        data={"command": marker, "target": "agents", "agents": w.agent(), "instance": i},
        effect=lambda: w.exists(Run, trigger_kind="adhoc", created_by=f"walk-{r}", instance=i),
    )


def _page_adhoc_kill(w: World, i: str, r: str) -> Call:
    batch = w.batch(i)
    return Call(
        f"/adhoc/{batch}/kill", effect=lambda: not w.exists(Run, batch_id=batch, status="ACTIVE")
    )


def _own_timezone(w: World, i: str, r: str) -> Call:
    _, token = w.fresh_user(r)
    return Call(f"{API}/auth/me", token=token, json={"timezone": "Asia/Tokyo"})


def _page_profile(w: World, i: str, r: str) -> Call:
    name, _ = w.fresh_user(r)
    return Call(
        "/profile",
        token=w.token_for(name, "session"),
        ok=frozenset({200, 303}),
        data={"timezone": "Asia/Tokyo"},
    )


def _page_approvals(w: World, i: str, r: str) -> Call:
    run_id = w.run(i, RunStatus.PENDING_APPROVAL)
    return Call("/approvals", data={"run": str(run_id), "action": "reject", "comment": "walked"})


def _page_password(w: World, i: str, r: str) -> Call:
    name, _ = w.fresh_user(r)
    before = w.password_hash_of(name)
    return Call(
        "/password",
        token=w.token_for(name, "session"),
        ok=frozenset({200, 303}),
        data={
            "current_password": PASSWORD,
            "password": "Brand-New-Pass-2",
            "confirm": "Brand-New-Pass-2",
        },
        effect=lambda: w.password_hash_of(name) != before,
    )


def _page_user(w: World, i: str, r: str, action: str) -> Call:
    name = w.target_user(i)
    before = w.password_hash_of(name)
    if action == "update":
        return Call(
            f"/admin/users/{name}",
            data={"timezone": "Asia/Tokyo"},
            effect=lambda: w.exists(User, username=name, timezone="Asia/Tokyo"),
        )
    if action == "delete":
        return Call(f"/admin/users/{name}/delete", effect=lambda: not w.exists(User, username=name))
    return Call(
        f"/admin/users/{name}/password",
        data={"password": "Brand-New-Pass-2"},
        effect=lambda: w.password_hash_of(name) != before,
    )


def _definitions(step: str, i: str, r: str) -> Call:
    task = f"tasks: [{{name: def-{step}-{r}-{i}, command: 'true', instance: {i}}}]"
    files = [{"path": "walk.yaml", "content": f"format: almanac/v1\n{task}\n"}]
    return Call(f"{API}/definitions/{step}", json={"files": files, "source": f"file:{r}"})


def _policies(w: World, i: str, r: str) -> Call:
    """A stored policy in both instances, each naming its instance in an image pattern."""
    from app.db.engine import session_scope
    from app.db.policies import save
    from app.domain.run_policy import RunPolicy

    with session_scope(w.engine) as session:
        for instance in (OWN, OTHER):
            save(
                session,
                "instance",
                instance,
                RunPolicy(images=(f"walk-image-{instance}",)),
                by="walk",
                at=w.now(),
            )
    return Call(f"{API}/policies", marker=f"walk-image-{i}")


_NOT_FOR_SCOPED = frozenset({403})
_POLICY = {"users": ["*"], "mounts": ["/srv/data"], "images": None}

CALLS: dict[tuple[str, str], Build] = {
    ("GET", f"{API}/health"): lambda w, i, r: Call(f"{API}/health"),
    ("POST", f"{API}/auth/token"): lambda w, i, r: Call(
        f"{API}/auth/token", json={"username": w.fresh_user("viewer")[0], "password": PASSWORD}
    ),
    ("POST", f"{API}/auth/password"): _own_password,
    ("POST", f"{API}/auth/logout"): lambda w, i, r: Call(
        f"{API}/auth/logout", token=w.token_for(f"walk-{r}")
    ),
    ("GET", f"{API}/auth/me"): lambda w, i, r: Call(f"{API}/auth/me"),
    ("PATCH", f"{API}/auth/me"): _own_timezone,
    ("GET", f"{API}/tasks"): lambda w, i, r: Call(f"{API}/tasks", marker=w.task(i).name),
    ("POST", f"{API}/tasks"): _task_body,
    ("GET", f"{API}/tasks/{{tid}}"): _task(),
    ("GET", f"{API}/tasks/{{tid}}/versions"): _task("/versions"),
    ("GET", f"{API}/tasks/{{tid}}/versions/{{number}}"): _task("/versions/1"),
    ("POST", f"{API}/tasks/{{tid}}/versions/{{number}}/rollback"): _rollback("task", API),
    ("GET", f"{API}/groups/{{gid}}/versions"): _group("/versions"),
    ("GET", f"{API}/groups/{{gid}}/versions/{{number}}"): _group("/versions/1"),
    ("POST", f"{API}/groups/{{gid}}/versions/{{number}}/rollback"): _rollback("group", API),
    ("PATCH", f"{API}/tasks/{{tid}}"): _task(json={"description": "walked"}),
    ("DELETE", f"{API}/tasks/{{tid}}"): _task(),
    ("POST", f"{API}/tasks/{{tid}}/run"): _task("/run"),
    ("GET", f"{API}/tasks/{{tid}}/forecast"): _task("/forecast"),
    ("GET", f"{API}/tasks/{{tid}}/freezes"): _task("/freezes"),
    ("POST", f"{API}/tasks/{{tid}}/freezes"): _task("/freezes", json={"date": "2030-01-01"}),
    ("DELETE", f"{API}/tasks/{{tid}}/freezes/{{day}}"): lambda w, i, r: Call(
        f"{API}/tasks/{w.frozen_task(i)}/freezes/{FREEZE_DAY.isoformat()}"
    ),
    ("GET", f"{API}/runs"): _runs_list,
    ("GET", f"{API}/runs/{{run_id}}"): _run(),
    ("GET", f"{API}/runs/{{run_id}}/logs"): _run(suffix="/logs"),
    ("GET", f"{API}/runs/{{run_id}}/logs/download"): _run(suffix="/logs/download"),
    ("POST", f"{API}/runs/{{run_id}}/kill"): _kill,
    # no agent holds these runs: the controls are allowed but cannot be carried out
    ("POST", f"{API}/runs/{{run_id}}/pause"): _run(suffix="/pause", ok=frozenset({409})),
    ("POST", f"{API}/runs/{{run_id}}/resume"): _run(suffix="/resume", ok=frozenset({409})),
    ("GET", f"{API}/runs/{{run_id}}/why"): _run(suffix="/why"),
    ("POST", f"{API}/runs/{{run_id}}/force"): _run(suffix="/force"),
    ("POST", f"{API}/runs/{{run_id}}/rerun"): _run(RunStatus.FAILED, "/rerun"),
    ("POST", f"{API}/runs/{{run_id}}/mark-success"): _run(
        RunStatus.FAILED, "/mark-success", json={"reason": "checked by hand"}
    ),
    ("POST", f"{API}/runs/{{run_id}}/approve"): _run(
        RunStatus.PENDING_APPROVAL, "/approve", json={"comment": "ok"}
    ),
    ("POST", f"{API}/runs/{{run_id}}/reject"): _run(RunStatus.PENDING_APPROVAL, "/reject"),
    ("GET", f"{API}/runs/{{run_id}}/outputs"): _run(suffix="/outputs"),
    ("GET", f"{API}/runs/{{run_id}}/outputs.zip"): _run(suffix="/outputs.zip"),
    ("GET", f"{API}/runs/{{run_id}}/outputs/{{name:path}}"): _output,
    ("GET", f"{API}/agents"): lambda w, i, r: Call(f"{API}/agents"),
    ("GET", f"{API}/agents/{{name}}"): lambda w, i, r: Call(f"{API}/agents/{w.agent()}"),
    ("POST", f"{API}/agents/{{name}}/drain"): lambda w, i, r: Call(
        f"{API}/agents/{w.agent()}/drain"
    ),
    ("POST", f"{API}/agents/{{name}}/undrain"): lambda w, i, r: Call(
        f"{API}/agents/{w.agent(draining=True)}/undrain"
    ),
    ("DELETE", f"{API}/agents/{{name}}"): lambda w, i, r: Call(f"{API}/agents/{w.agent()}"),
    ("POST", f"{API}/agents/tokens"): lambda w, i, r: Call(
        f"{API}/agents/tokens", json={"name": "walk"}
    ),
    ("GET", f"{API}/agents/tokens"): lambda w, i, r: Call(f"{API}/agents/tokens"),
    ("DELETE", f"{API}/agents/tokens/{{token_id}}"): lambda w, i, r: Call(
        f"{API}/agents/tokens/{w.agent_token()}"
    ),
    ("PATCH", f"{API}/agents/tokens/{{token_id}}"): lambda w, i, r: (
        lambda tid: Call(
            f"{API}/agents/tokens/{tid}",
            json={"agent": f"walk-{r}"},
            effect=lambda: w.exists(AgentToken, id=tid, agent_name=f"walk-{r}"),
        )
    )(w.agent_token()),
    ("GET", f"{API}/policies"): _policies,
    ("GET", f"{API}/policies/instances/{{instance}}"): lambda w, i, r: Call(
        f"{API}/policies/instances/{i}"
    ),
    ("PUT", f"{API}/policies/instances/{{instance}}"): lambda w, i, r: Call(
        f"{API}/policies/instances/{i}", json=_POLICY
    ),
    ("DELETE", f"{API}/policies/instances/{{instance}}"): lambda w, i, r: Call(
        f"{API}/policies/instances/{i}"
    ),
    ("GET", f"{API}/policies/agents/{{name}}"): lambda w, i, r: Call(
        f"{API}/policies/agents/{w.agent()}"
    ),
    ("PUT", f"{API}/policies/agents/{{name}}"): lambda w, i, r: Call(
        f"{API}/policies/agents/{w.agent()}", json=_POLICY, ok=_NOT_FOR_SCOPED
    ),
    ("DELETE", f"{API}/policies/agents/{{name}}"): lambda w, i, r: Call(
        f"{API}/policies/agents/{w.agent()}", ok=_NOT_FOR_SCOPED
    ),
    ("GET", f"{API}/calendars"): lambda w, i, r: Call(f"{API}/calendars"),
    ("POST", f"{API}/calendars"): lambda w, i, r: Call(
        f"{API}/calendars", json={"name": f"cal-{r}-{i}"}
    ),
    ("GET", f"{API}/calendars/{{name}}"): lambda w, i, r: Call(f"{API}/calendars/{w.calendar()}"),
    ("PATCH", f"{API}/calendars/{{name}}"): lambda w, i, r: Call(
        f"{API}/calendars/{w.calendar()}", json={"skip_weekends": True}
    ),
    ("DELETE", f"{API}/calendars/{{name}}"): lambda w, i, r: Call(
        f"{API}/calendars/{w.calendar()}"
    ),
    ("GET", f"{API}/calendars/{{name}}/closed"): lambda w, i, r: Call(
        f"{API}/calendars/{w.calendar()}/closed", params={"year": 2030}
    ),
    ("GET", f"{API}/calendars/{{name}}/preview"): lambda w, i, r: Call(
        f"{API}/calendars/{w.calendar()}/preview", params={"year": 2030}
    ),
    ("GET", f"{API}/calendars/{{name}}/versions"): lambda w, i, r: Call(
        f"{API}/calendars/{w.calendar()}/versions"
    ),
    ("GET", f"{API}/calendars/{{name}}/versions/{{number}}"): lambda w, i, r: Call(
        f"{API}/calendars/{w.calendar()}/versions/1"
    ),
    ("GET", f"{API}/groups"): lambda w, i, r: Call(f"{API}/groups", marker=w.group(i).name),
    ("POST", f"{API}/groups"): lambda w, i, r: Call(
        f"{API}/groups", json={"name": f"g-{r}-{i}", "instance": i}
    ),
    ("GET", f"{API}/groups/{{gid}}"): _group(),
    ("PATCH", f"{API}/groups/{{gid}}"): _group(json={"description": "walked"}),
    ("DELETE", f"{API}/groups/{{gid}}"): _group(),
    ("GET", f"{API}/groups/{{gid}}/edges"): _group("/edges"),
    ("POST", f"{API}/groups/{{gid}}/edges"): lambda w, i, r: _edge(w, i, r, existing=False),
    ("DELETE", f"{API}/groups/{{gid}}/edges"): lambda w, i, r: _edge(w, i, r, existing=True),
    ("POST", f"{API}/groups/{{gid}}/dependencies"): lambda w, i, r: (
        lambda g: Call(f"{API}/groups/{g[0]}/dependencies", json={"upstream_group": g[1]})
    )(w.group_pair(i)),
    ("DELETE", f"{API}/groups/{{gid}}/dependencies/{{upstream_gid}}"): lambda w, i, r: (
        lambda g: Call(f"{API}/groups/{g[0]}/dependencies/{g[1]}")
    )(w.group_pair(i, True)),
    ("GET", f"{API}/groups/{{gid}}/forecast"): _group("/forecast"),
    ("POST", f"{API}/groups/{{gid}}/run"): _group("/run"),
    ("GET", f"{API}/groups/{{gid}}/graph"): _group("/graph"),
    ("GET", f"{API}/groups/{{gid}}/freezes"): _group("/freezes"),
    ("POST", f"{API}/groups/{{gid}}/freezes"): _group("/freezes", json={"date": "2030-01-01"}),
    ("DELETE", f"{API}/groups/{{gid}}/freezes/{{day}}"): lambda w, i, r: Call(
        f"{API}/groups/{w.frozen_group(i)}/freezes/{FREEZE_DAY.isoformat()}"
    ),
    ("GET", f"{API}/group-runs"): lambda w, i, r: Call(
        f"{API}/group-runs", marker=f'"id":{w.group_run(i)},'
    ),
    ("GET", f"{API}/group-runs/{{group_run_id}}"): lambda w, i, r: Call(
        f"{API}/group-runs/{w.group_run(i)}"
    ),
    ("POST", f"{API}/group-runs/{{group_run_id}}/terminate"): lambda w, i, r: Call(
        f"{API}/group-runs/{w.group_run(i)}/terminate"
    ),
    ("POST", f"{API}/tasks/{{tid}}/backfill"): _task("/backfill", json=_BACKFILL),
    ("POST", f"{API}/groups/{{gid}}/backfill"): _group("/backfill", json=_BACKFILL),
    ("GET", f"{API}/backfills"): lambda w, i, r: Call(
        f"{API}/backfills", marker=f'"id":{w.backfill(i)},'
    ),
    ("GET", f"{API}/backfills/{{backfill_id}}"): _backfill(""),
    ("POST", f"{API}/backfills/{{backfill_id}}/pause"): _backfill("/pause"),
    ("POST", f"{API}/backfills/{{backfill_id}}/resume"): _backfill("/resume", "paused"),
    ("POST", f"{API}/backfills/{{backfill_id}}/cancel"): _backfill("/cancel"),
    ("POST", f"{API}/backfills/{{backfill_id}}/approve"): _backfill("/approve", "pending_approval"),
    ("POST", f"{API}/backfills/{{backfill_id}}/reject"): _backfill("/reject", "pending_approval"),
    ("GET", f"{API}/users"): lambda w, i, r: Call(f"{API}/users", marker=w.target_user(i)),
    ("POST", f"{API}/users"): lambda w, i, r: Call(
        f"{API}/users",
        json={"username": f"made-by-{r}-{i}", "password": PASSWORD, "instances": [OWN]},
    ),
    ("GET", f"{API}/users/{{username}}"): lambda w, i, r: Call(f"{API}/users/{w.target_user(i)}"),
    ("PATCH", f"{API}/users/{{username}}"): lambda w, i, r: Call(
        f"{API}/users/{w.target_user(i)}", json={"timezone": "Europe/Paris"}
    ),
    ("DELETE", f"{API}/users/{{username}}"): lambda w, i, r: Call(
        f"{API}/users/{w.target_user(i)}"
    ),
    ("POST", f"{API}/users/{{username}}/password"): lambda w, i, r: Call(
        f"{API}/users/{w.target_user(i)}/password", json={"password": "Brand-New-Pass-2"}
    ),
    ("GET", f"{API}/tokens"): lambda w, i, r: Call(f"{API}/tokens"),
    ("POST", f"{API}/tokens"): lambda w, i, r: Call(f"{API}/tokens", json={"name": "walk"}),
    ("DELETE", f"{API}/tokens/{{token_id}}"): lambda w, i, r: Call(
        f"{API}/tokens/{w.user_token(i)}"
    ),
    ("GET", f"{API}/audit"): lambda w, i, r: Call(f"{API}/audit"),
    ("GET", f"{API}/export"): lambda w, i, r: Call(f"{API}/export", marker=w.task(i).name),
    ("GET", f"{API}/schema/export.json"): lambda w, i, r: Call(f"{API}/schema/export.json"),
    ("POST", f"{API}/import"): lambda w, i, r: Call(
        f"{API}/import",
        params={"dry_run": True},
        json={
            "format": "almanac/v1",
            "tasks": [{"name": "imported", "command": "true", "instance": i}],
        },
    ),
    ("POST", f"{API}/import/crontab"): lambda w, i, r: Call(
        f"{API}/import/crontab", json={"text": "0 1 * * * /bin/walk\n", "instance": i}
    ),
    ("GET", "/metrics"): lambda w, i, r: Call("/metrics"),
    ("POST", f"{API}/adhoc"): lambda w, i, r: Call(
        f"{API}/adhoc", json={"command": "true", "agents": [w.agent()], "instance": i}
    ),
    ("GET", f"{API}/adhoc/{{batch_id}}"): lambda w, i, r: Call(f"{API}/adhoc/{w.batch(i)}"),
    ("POST", f"{API}/adhoc/{{batch_id}}/kill"): lambda w, i, r: Call(
        f"{API}/adhoc/{w.batch(i)}/kill"
    ),
    ("GET", f"{API}/pools"): lambda w, i, r: (
        lambda name: Call(f"{API}/pools", marker=f'"name":"{name}"')
    )(w.pool(i)),
    ("POST", f"{API}/pools"): lambda w, i, r: Call(
        f"{API}/pools", json={"name": f"pool-{r}-{i}", "slots": 2, "instance": i}
    ),
    ("GET", f"{API}/pools/{{name}}"): lambda w, i, r: Call(
        f"{API}/pools/{w.pool(i)}", params={"instance": i}
    ),
    ("PATCH", f"{API}/pools/{{name}}"): lambda w, i, r: Call(
        f"{API}/pools/{w.pool(i)}", params={"instance": i}, json={"slots": 3}
    ),
    ("DELETE", f"{API}/pools/{{name}}"): lambda w, i, r: Call(
        f"{API}/pools/{w.pool(i)}", params={"instance": i}
    ),
    ("GET", f"{API}/quotas"): lambda w, i, r: Call(
        f"{API}/quotas", marker=f'"instance":"{w.quota(i)}"'
    ),
    ("GET", f"{API}/quotas/{{instance}}"): lambda w, i, r: Call(f"{API}/quotas/{w.quota(i)}"),
    ("PUT", f"{API}/quotas/{{instance}}"): lambda w, i, r: Call(
        f"{API}/quotas/{i}", json={"max_runs": 7}
    ),
    ("DELETE", f"{API}/quotas/{{instance}}"): lambda w, i, r: Call(f"{API}/quotas/{w.quota(i)}"),
    ("POST", f"{API}/definitions/plan"): lambda w, i, r: _definitions("plan", i, r),
    ("POST", f"{API}/definitions/apply"): lambda w, i, r: _definitions("apply", i, r),
    ("GET", f"{API}/sync"): lambda w, i, r: Call(f"{API}/sync"),
    ("POST", f"{API}/sync"): lambda w, i, r: Call(
        f"{API}/sync", json={"name": f"walk-{r}-{i}", "url": "/srv/defs.git"}, ok=frozenset({201})
    ),
    ("GET", f"{API}/sync/{{name}}"): lambda w, i, r: Call(f"{API}/sync/{w.sync_source()[0]}"),
    ("PATCH", f"{API}/sync/{{name}}"): lambda w, i, r: Call(
        f"{API}/sync/{w.sync_source()[0]}", json={"branch": "release"}
    ),
    ("DELETE", f"{API}/sync/{{name}}"): lambda w, i, r: Call(
        f"{API}/sync/{w.sync_source()[0]}", ok=frozenset({204})
    ),
    ("POST", f"{API}/sync/{{name}}"): lambda w, i, r: (
        lambda made: Call(f"{API}/sync/{made[0]}", headers={"X-Almanac-Sync-Token": made[1]})
    )(w.sync_source()),
    ("GET", "/sync"): lambda w, i, r: Call("/sync"),
    ("POST", f"{API}/sync/{{name}}/pull"): lambda w, i, r: Call(
        f"{API}/sync/{w.sync_source()[0]}/pull"
    ),
    ("POST", "/sync/{name}/pull"): lambda w, i, r: Call(f"/sync/{w.sync_source()[0]}/pull"),
    ("GET", f"{API}/integrations"): lambda w, i, r: (
        lambda iid: Call(f"{API}/integrations", marker=f'"id":{iid},')
    )(w.integration(i)),
    ("POST", f"{API}/integrations"): lambda w, i, r: Call(
        f"{API}/integrations",
        json={
            "name": f"hook-{r}-{i}",
            "kind": "webhook",
            "instance": i,
            "config": {"url": "http://127.0.0.1:9/"},
        },
    ),
    ("GET", f"{API}/variable-sets"): lambda w, i, r: (
        lambda name: Call(f"{API}/variable-sets", marker=name)
    )(w.variable_set(i)),
    ("POST", f"{API}/variable-sets"): lambda w, i, r: Call(
        f"{API}/variable-sets",
        json={"name": f"vars-{r}-{i}", "instance": i, "secrets": {"S": "walk-secret"}},
    ),
    ("GET", f"{API}/variable-sets/{{name}}"): lambda w, i, r: Call(
        f"{API}/variable-sets/{w.variable_set(i)}"
    ),
    ("PATCH", f"{API}/variable-sets/{{name}}"): lambda w, i, r: Call(
        f"{API}/variable-sets/{w.variable_set(i)}", json={"description": "edited"}
    ),
    ("DELETE", f"{API}/variable-sets/{{name}}"): lambda w, i, r: Call(
        f"{API}/variable-sets/{w.variable_set(i)}"
    ),
    ("GET", f"{API}/integrations/{{integration_id}}"): lambda w, i, r: Call(
        f"{API}/integrations/{w.integration(i)}"
    ),
    ("PATCH", f"{API}/integrations/{{integration_id}}"): lambda w, i, r: Call(
        f"{API}/integrations/{w.integration(i)}", json={"secret": "another-secret"}
    ),
    ("DELETE", f"{API}/integrations/{{integration_id}}"): lambda w, i, r: Call(
        f"{API}/integrations/{w.integration(i)}"
    ),
    ("POST", f"{API}/integrations/{{integration_id}}/test"): lambda w, i, r: Call(
        f"{API}/integrations/{w.integration(i)}/test"
    ),
    ("GET", f"{API}/alerts"): lambda w, i, r: (
        lambda rule: Call(f"{API}/alerts", marker=f'"id":{rule},')
    )(w.alert_rule(i)),
    ("POST", f"{API}/alerts"): lambda w, i, r: Call(
        f"{API}/alerts",
        json={"task": w.task(i).id, "events": ["failed"], "integration": w.integration(i)},
    ),
    ("GET", f"{API}/alerts/{{rule_id}}"): lambda w, i, r: Call(f"{API}/alerts/{w.alert_rule(i)}"),
    ("PATCH", f"{API}/alerts/{{rule_id}}"): lambda w, i, r: Call(
        f"{API}/alerts/{w.alert_rule(i)}", json={"active": False}
    ),
    ("DELETE", f"{API}/alerts/{{rule_id}}"): lambda w, i, r: Call(
        f"{API}/alerts/{w.alert_rule(i)}"
    ),
    ("GET", f"{API}/runs/{{run_id}}/alerts"): _run(suffix="/alerts"),
    ("GET", "/"): lambda w, i, r: Call("/"),
    ("GET", "/login"): lambda w, i, r: Call("/login", ok=frozenset({200, 303})),
    # without the form's double-submit token the form is refused, whoever sends it
    ("POST", "/login"): lambda w, i, r: Call(
        "/login", ok=frozenset({403}), data={"username": "walk-viewer", "password": PASSWORD}
    ),
    ("POST", "/logout"): lambda w, i, r: Call(
        "/logout", token=w.token_for(f"walk-{r}", "session"), ok=frozenset({303})
    ),
    ("GET", "/task-runs"): lambda w, i, r: Call("/task-runs", marker=w.run_name(w.run(i))),
    ("GET", "/task-runs/events"): lambda w, i, r: Call("/task-runs/events", stream=True),
    ("GET", "/task-runs/{run_id:int}"): lambda w, i, r: Call(f"/task-runs/{w.run(i)}"),
    ("POST", "/task-runs/{run_id:int}/{action}"): _page_action,
    ("GET", "/task-runs/{run_id:int}/log"): lambda w, i, r: Call(f"/task-runs/{w.run(i)}/log"),
    ("GET", "/task-runs/{run_id:int}/log/search"): lambda w, i, r: Call(
        f"/task-runs/{w.run(i)}/log/search", params={"q": "x"}
    ),
    ("GET", "/task-runs/{run_id:int}/log/download"): lambda w, i, r: Call(
        f"/task-runs/{w.run(i)}/log/download"
    ),
    ("GET", "/task-runs/{run_id:int}/events"): lambda w, i, r: Call(
        f"/task-runs/{w.run(i)}/events", stream=True
    ),
    ("GET", "/task-runs/{run_id:int}/outputs/{name:path}"): _page_output,
    ("GET", "/tasks"): lambda w, i, r: (
        lambda task: Call(  # the search box echoes q
            "/tasks", params={"q": task.name}, marker=f'"/tasks/{task.id}"'
        )
    )(w.task(i)),
    ("GET", "/tasks/new"): lambda w, i, r: Call("/tasks/new"),
    ("GET", "/tasks/schedule-preview"): lambda w, i, r: Call(
        "/tasks/schedule-preview", params={"kind": "cron", "cron": "0 9 * * *"}
    ),
    ("GET", "/tasks/{tid:int}"): lambda w, i, r: Call(f"/tasks/{w.task(i).id}"),
    ("GET", "/tasks/{tid:int}/history"): lambda w, i, r: Call(f"/tasks/{w.task(i).id}/history"),
    ("GET", "/groups/{gid:int}/history"): lambda w, i, r: Call(f"/groups/{w.group(i).id}/history"),
    ("POST", "/tasks/{tid:int}/history/{number:int}/rollback"): _rollback("task", ""),
    ("POST", "/groups/{gid:int}/history/{number:int}/rollback"): _rollback("group", ""),
    ("POST", "/tasks"): _page_create,
    ("POST", "/tasks/{tid:int}"): _page_edit,
    ("POST", "/tasks/{tid:int}/delete"): lambda w, i, r: (
        lambda tid: Call(f"/tasks/{tid}/delete", effect=lambda: w.task_row(tid) is None)
    )(w.task(i).id or 0),
    ("POST", "/tasks/{tid:int}/run-check"): lambda w, i, r: Call(
        f"/tasks/{w.task(i).id}/run-check", data={"business_date": "2026-12-01"}
    ),
    ("POST", "/groups/{gid:int}/run-check"): lambda w, i, r: Call(
        f"/groups/{w.group(i).id}/run-check", data={"business_date": "2026-12-01"}
    ),
    ("POST", "/tasks/{tid:int}/run"): lambda w, i, r: (
        lambda tid: Call(f"/tasks/{tid}/run", effect=lambda: w.runs_of(tid) == 1)
    )(w.task(i).id or 0),
    ("GET", "/tasks/import-export"): lambda w, i, r: Call("/tasks/import-export"),
    ("GET", "/tasks/export"): lambda w, i, r: Call("/tasks/export", marker=w.task(i).name),
    ("POST", "/tasks/import"): _page_import,
    ("POST", "/tasks/import-crontab"): _page_import_crontab,
    ("GET", "/dashboard/events"): lambda w, i, r: Call("/dashboard/events", stream=True),
    ("GET", "/agents"): lambda w, i, r: Call("/agents"),
    ("GET", "/health"): lambda w, i, r: Call("/health"),
    ("GET", "/agents/events"): lambda w, i, r: Call("/agents/events", stream=True),
    ("POST", "/agents/{name}/{action}"): lambda w, i, r: (
        lambda name: Call(f"/agents/{name}/drain", effect=lambda: w.draining(name))
    )(w.agent()),
    ("GET", "/variable-sets"): lambda w, i, r: Call("/variable-sets"),
    ("POST", "/variable-sets"): lambda w, i, r: (
        lambda name: Call(
            "/variable-sets",
            data={"name": name, "instance": i, "variables": "A=1"},
            ok=frozenset({303}),
            effect=lambda: w.exists(VariableSet, name=name, instance=i),
        )
    )(f"page-vars-{r}-{i}"),
    ("POST", "/variable-sets/{instance}/{name}"): lambda w, i, r: (
        lambda name: Call(
            f"/variable-sets/{i}/{name}",
            data={"description": "edited", "variables": "A=2"},
            ok=frozenset({303}),
            effect=lambda: w.exists(VariableSet, name=name, description="edited"),
        )
    )(w.variable_set(i)),
    ("POST", "/variable-sets/{instance}/{name}/delete"): lambda w, i, r: (
        lambda name: Call(
            f"/variable-sets/{i}/{name}/delete",
            ok=frozenset({303}),
            effect=lambda: not w.exists(VariableSet, name=name),
        )
    )(w.variable_set(i)),
    ("GET", "/calendars"): lambda w, i, r: Call("/calendars"),
    ("GET", "/pools"): lambda w, i, r: Call("/pools"),
    ("GET", "/pools/{instance}/{name}"): lambda w, i, r: Call(f"/pools/{i}/{w.pool(i)}"),
    ("GET", "/calendars/new"): lambda w, i, r: Call("/calendars/new"),
    ("GET", "/calendars/{name}"): lambda w, i, r: Call(f"/calendars/{w.calendar()}"),
    ("GET", "/calendars/{name}/edit"): lambda w, i, r: Call(f"/calendars/{w.calendar()}/edit"),
    ("POST", "/calendars"): lambda w, i, r: _page_calendar(w, i, r, "create"),
    ("POST", "/calendars/{name}"): lambda w, i, r: _page_calendar(w, i, r, "update"),
    ("POST", "/calendars/{name}/delete"): lambda w, i, r: _page_calendar(w, i, r, "delete"),
    ("GET", "/groups/new"): lambda w, i, r: Call("/groups/new"),
    ("GET", "/groups/{gid:int}"): lambda w, i, r: Call(f"/groups/{w.group(i).id}"),
    ("GET", "/groups/{gid:int}/edit"): lambda w, i, r: Call(f"/groups/{w.group(i).id}/edit"),
    ("GET", "/groups/{gid:int}/events"): lambda w, i, r: Call(
        f"/groups/{w.group(i).id}/events", stream=True
    ),
    ("GET", "/groups/{gid:int}/graph.json"): lambda w, i, r: Call(
        f"/groups/{w.group(i).id}/graph.json"
    ),
    ("GET", "/groups/{gid:int}/grid"): lambda w, i, r: Call(f"/groups/{w.group(i).id}/grid"),
    ("GET", "/groups/{gid:int}/runs"): lambda w, i, r: Call(f"/groups/{w.group(i).id}/runs"),
    ("GET", "/dashboard/group-runs"): lambda w, i, r: Call(
        "/dashboard/group-runs", marker=f'data-group-run="{w.group_run(i)}"'
    ),
    ("GET", "/groups/{gid:int}/heatmap"): lambda w, i, r: Call(f"/groups/{w.group(i).id}/heatmap"),
    ("GET", "/tasks/{tid:int}/heatmap"): lambda w, i, r: Call(f"/tasks/{w.task(i).id}/heatmap"),
    ("GET", "/group-runs/{group_run_id:int}/gantt"): lambda w, i, r: Call(
        f"/group-runs/{w.group_run(i)}/gantt"
    ),
    ("POST", "/groups"): lambda w, i, r: (
        lambda name: Call(
            "/groups",
            data={"name": name, "instance": i},
            effect=lambda: w.exists(TaskGroup, name=name),
        )
    )(f"pagegroup-{r}-{i}"),
    ("POST", "/groups/{gid:int}"): _page_group,
    ("POST", "/groups/{gid:int}/delete"): lambda w, i, r: (
        lambda gid: Call(f"/groups/{gid}/delete", effect=lambda: not w.exists(TaskGroup, id=gid))
    )(w.group(i).id),
    ("POST", "/groups/{gid:int}/edges"): lambda w, i, r: _page_edge(w, i, r, existing=False),
    ("POST", "/groups/{gid:int}/edges/delete"): lambda w, i, r: _page_edge(w, i, r, existing=True),
    ("POST", "/groups/{gid:int}/run"): lambda w, i, r: (
        lambda gid: Call(f"/groups/{gid}/run", effect=lambda: w.exists(GroupRun, group_id=gid))
    )(w.group(i).id),
    ("GET", "/tasks/{key:int}/backfill"): lambda w, i, r: Call(f"/tasks/{w.task(i).id}/backfill"),
    ("GET", "/groups/{key:int}/backfill"): lambda w, i, r: Call(
        f"/groups/{w.group(i).id}/backfill"
    ),
    ("POST", "/tasks/{key:int}/backfill/preview"): lambda w, i, r: Call(
        f"/tasks/{w.task(i).id}/backfill/preview", data=_BACKFILL
    ),
    ("POST", "/groups/{key:int}/backfill/preview"): lambda w, i, r: Call(
        f"/groups/{w.group(i).id}/backfill/preview", data=_BACKFILL
    ),
    ("POST", "/tasks/{key:int}/backfill"): lambda w, i, r: _page_backfill(w, w.task(i).id, "task"),
    ("POST", "/groups/{key:int}/backfill"): lambda w, i, r: _page_backfill(
        w, w.group(i).id, "group"
    ),
    ("GET", "/backfills/{backfill_id:int}"): lambda w, i, r: Call(f"/backfills/{w.backfill(i)}"),
    ("POST", "/backfills/{backfill_id:int}/{action}"): lambda w, i, r: (
        lambda key: Call(
            f"/backfills/{key}/pause", effect=lambda: w.exists(Backfill, id=key, status="paused")
        )
    )(w.backfill(i)),
    ("GET", "/adhoc"): lambda w, i, r: Call("/adhoc"),
    ("GET", "/adhoc/{batch_id}"): lambda w, i, r: Call(f"/adhoc/{w.batch(i)}"),
    ("GET", "/adhoc/{batch_id}/events"): lambda w, i, r: Call(
        f"/adhoc/{w.batch(i)}/events", stream=True
    ),
    ("POST", "/adhoc"): _page_adhoc,
    ("POST", "/adhoc/{batch_id}/kill"): _page_adhoc_kill,
    ("GET", "/password"): lambda w, i, r: Call("/password"),
    ("POST", "/password"): _page_password,
    ("GET", "/profile"): lambda w, i, r: Call("/profile"),
    ("POST", "/profile"): _page_profile,
    ("GET", "/approvals"): lambda w, i, r: Call("/approvals"),
    ("GET", "/approvals/count"): lambda w, i, r: Call("/approvals/count"),
    ("POST", "/approvals"): _page_approvals,
    ("POST", "/task-runs/bulk"): _page_bulk,
    ("GET", "/admin"): lambda w, i, r: Call("/admin"),
    ("POST", "/admin/users"): lambda w, i, r: (
        lambda name: Call(
            "/admin/users",
            data={"username": name, "password": PASSWORD, "instances": OWN},
            effect=lambda: w.exists(User, username=name),
        )
    )(f"page-made-{r}"),
    ("POST", "/admin/users/{username}"): lambda w, i, r: _page_user(w, i, r, "update"),
    ("POST", "/admin/users/{username}/delete"): lambda w, i, r: _page_user(w, i, r, "delete"),
    ("POST", "/admin/users/{username}/password"): lambda w, i, r: _page_user(w, i, r, "password"),
    ("POST", "/admin/tokens/{token_id:int}/revoke"): lambda w, i, r: (
        lambda tid: Call(
            f"/admin/tokens/{tid}/revoke",
            effect=lambda: not w.exists(ApiToken, id=tid, revoked_at=None),
        )
    )(w.user_token(i)),
    ("POST", "/admin/agent-tokens"): lambda w, i, r: (
        lambda name: Call(
            "/admin/agent-tokens",
            data={"name": name},
            effect=lambda: w.exists(AgentToken, name=name),
        )
    )(f"page-agent-{r}"),
    ("POST", "/admin/agent-tokens/{token_id:int}/revoke"): lambda w, i, r: (
        lambda tid: Call(
            f"/admin/agent-tokens/{tid}/revoke",
            effect=lambda: not w.exists(AgentToken, id=tid, revoked_at=None),
        )
    )(w.agent_token()),
    ("POST", "/admin/agent-tokens/{token_id:int}/scope"): lambda w, i, r: (
        lambda tid: Call(
            f"/admin/agent-tokens/{tid}/scope",
            data={"agent": f"page-walk-{r}"},
            effect=lambda: w.exists(AgentToken, id=tid, agent_name=f"page-walk-{r}"),
        )
    )(w.agent_token()),
    ("GET", "/alerts"): lambda w, i, r: (lambda rule: Call("/alerts", marker=f'id="rule-{rule}"'))(
        w.alert_rule(i)
    ),
    ("POST", "/alerts/rules"): lambda w, i, r: Call(
        "/alerts/rules",
        data={
            "target": f"task:{w.task(i).id}",
            "events": "failed",
            "integration": str(w.integration(i)),
        },
        ok=frozenset({303}),
    ),
    ("POST", "/alerts/rules/{rule_id:int}"): lambda w, i, r: Call(
        f"/alerts/rules/{w.alert_rule(i)}",
        data={"events": "succeeded", "integration": str(w.integration(i))},
        ok=frozenset({303}),
    ),
    ("POST", "/alerts/rules/{rule_id:int}/delete"): lambda w, i, r: Call(
        f"/alerts/rules/{w.alert_rule(i)}/delete", ok=frozenset({303})
    ),
    ("POST", "/alerts/integrations"): lambda w, i, r: Call(
        "/alerts/integrations",
        data={
            "name": f"page-hook-{r}-{i}",
            "kind": "webhook",
            "instance": i,
            "config": '{"url": "http://127.0.0.1:9/"}',
        },
        ok=frozenset({303}),
    ),
    ("POST", "/alerts/integrations/{integration_id:int}"): lambda w, i, r: (
        lambda iid: Call(
            f"/alerts/integrations/{iid}",
            data={"name": f"renamed-{iid}", "config": '{"url": "http://127.0.0.1:9/x"}'},
            ok=frozenset({303}),
        )
    )(w.integration(i)),
    ("POST", "/alerts/integrations/{integration_id:int}/delete"): lambda w, i, r: Call(
        f"/alerts/integrations/{w.integration(i)}/delete", ok=frozenset({303})
    ),
    ("GET", "/backfills"): lambda w, i, r: (
        lambda made: Call("/backfills", marker=f'id="backfill-{made}"')
    )(w.backfill(i)),
    ("GET", "/tasks/{key:int}/freezes"): lambda w, i, r: Call(f"/tasks/{w.task(i).id}/freezes"),
    ("GET", "/groups/{key:int}/freezes"): lambda w, i, r: Call(f"/groups/{w.group(i).id}/freezes"),
    ("POST", "/tasks/{key:int}/freezes"): lambda w, i, r: Call(
        f"/tasks/{w.task(i).id}/freezes", data={"date": "2030-01-01"}, ok=frozenset({303})
    ),
    ("POST", "/groups/{key:int}/freezes"): lambda w, i, r: Call(
        f"/groups/{w.group(i).id}/freezes", data={"date": "2030-01-01"}, ok=frozenset({303})
    ),
    ("POST", "/tasks/{key:int}/freezes/{day}/delete"): lambda w, i, r: Call(
        f"/tasks/{w.frozen_task(i)}/freezes/{FREEZE_DAY.isoformat()}/delete",
        ok=frozenset({303}),
    ),
    ("POST", "/groups/{key:int}/freezes/{day}/delete"): lambda w, i, r: Call(
        f"/groups/{w.frozen_group(i)}/freezes/{FREEZE_DAY.isoformat()}/delete",
        ok=frozenset({303}),
    ),
    ("POST", "/pools"): lambda w, i, r: Call(
        "/pools",
        data={"name": f"page-pool-{r}-{i}", "slots": "2", "instance": i},
        ok=frozenset({303}),
    ),
    ("POST", "/pools/{instance}/{name}"): lambda w, i, r: Call(
        f"/pools/{i}/{w.pool(i)}", data={"slots": "3"}, ok=frozenset({303})
    ),
    ("POST", "/pools/{instance}/{name}/delete"): lambda w, i, r: Call(
        f"/pools/{i}/{w.pool(i)}/delete", ok=frozenset({303})
    ),
}


_ROUTES: list[tuple[str, str]] = []


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route of the app, API and pages alike. Every app that
    create_app makes has the same routes: they are listed once per test process."""
    if not _ROUTES:
        _ROUTES.extend(_list_routes(app))
    return list(_ROUTES)


def _list_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            found += [(m, str(context.path)) for m in sorted(context.methods or ())]
    return found


def other_routes(app: FastAPI) -> list[str]:
    """What is neither an APIRoute nor known here: a new kind of door must be looked at."""
    known = {
        f"{API}/openapi.json",
        f"{API}/docs",
        "/docs/oauth2-redirect",
        "/static",
        f"{API}/agents/connect",
        # An agent's own token, for a run it holds (tests/variables/test_agent_inputs.py).
        f"{API}/agents/inputs/{{run_id}}/{{attempt}}/{{upstream_run}}/{{name:path}}",
    }
    paths = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, (Route, Mount, APIWebSocketRoute)) and not isinstance(route, APIRoute):
            paths.append(str(context.path))
    return [p for p in paths if p not in known]


@pytest.fixture
def walk(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, World]]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, local_agent=False)
    engine = make_engine(database_url)
    app = create_app(settings, engine=engine, start_scheduler=False)
    app.state.sse_lifetime = 0.2  # live streams end quickly here
    with TestClient(app, follow_redirects=False) as client:
        yield client, World(engine, tmp_path, client)
    engine.dispose()


def test_every_route_has_a_rule_and_a_call(walk: tuple[TestClient, World]) -> None:
    client, _ = walk
    routes = set(app_routes(client.app))  # type: ignore[arg-type]
    assert sorted(routes - RULES.keys()) == [], "routes without a rule: add them to RULES"
    assert sorted(RULES.keys() - CALLS.keys()) == [], "rules without a call"
    assert other_routes(client.app) == []  # type: ignore[arg-type]


def _expected(rule: Rule, role: str | None, own: bool, call: Call) -> frozenset[int]:
    if rule.role == PUBLIC:
        return call.ok
    if role is None:
        return frozenset({303}) if rule.page and not call.stream else frozenset({401})
    if not role_at_least(role, Role(rule.role)):
        return rule.denied
    toasted = rule.denied if rule.denied is TOASTED else frozenset()
    if not own and rule.scope == PATH:
        return frozenset({404}) | toasted
    if not own and rule.scope == BODY:
        return frozenset({422}) | toasted
    if not own and rule.scope == GLOBAL:
        return frozenset({403}) | toasted
    return call.ok


def _send(
    client: TestClient, method: str, call: Call, rule: Rule, role: str | None, world: World
) -> tuple[int, str]:
    headers = dict(call.headers)
    cookies: dict[str, str] = {}
    token = (call.token or world.tokens[role]) if role else None
    if rule.page and role is not None:
        session = call.token or world.sessions[role]
        cookies[SESSION_COOKIE] = session
        csrf_key = client.app.state.context.csrf_key  # type: ignore[attr-defined]
        headers[CSRF_HEADER] = csrf_for(session, csrf_key)
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    if call.stream:
        with client.stream(method, call.path, params=call.params, headers=headers) as response:
            return response.status_code, ""
    response = client.request(
        method, call.path, params=call.params, json=call.json, data=call.data, headers=headers
    )
    return response.status_code, response.text


def _area(path: str) -> str:
    """The part of the app a path belongs to: `runs` for /api/v1/runs/..., `page:tasks`."""
    parts = path.strip("/").split("/")
    if path.startswith(API + "/") and len(parts) > 2:
        return parts[2]
    return "page:" + (parts[0] or "home")


def _chunks(size: int = 20) -> dict[str, frozenset[tuple[str, str]]]:
    """The walk cut into parts of about `size` routes, whole areas each, so the parts run
    side by side (a single walk is thousands of calls, minutes on two cores)."""
    areas: dict[str, set[tuple[str, str]]] = {}
    for key in RULES:
        areas.setdefault(_area(key[1]), set()).add(key)
    chunks: dict[str, frozenset[tuple[str, str]]] = {}
    names: list[str] = []
    keys: set[tuple[str, str]] = set()
    for area in sorted(areas):
        names.append(area)
        keys |= areas[area]
        if len(keys) >= size:
            chunks["+".join(names)] = frozenset(keys)
            names, keys = [], set()
    if keys:
        chunks["+".join(names)] = frozenset(keys)
    return chunks


CHUNKS = _chunks()


def test_the_walks_parts_cover_every_rule_once() -> None:
    parts = list(CHUNKS.values())
    assert sum(len(part) for part in parts) == len(RULES)
    assert frozenset().union(*parts) == RULES.keys()


@pytest.mark.parametrize("part", sorted(CHUNKS))
def test_every_route_answers_by_role_and_instance(
    walk: tuple[TestClient, World], part: str
) -> None:
    client, world = walk
    wrong: list[str] = []
    present = set(app_routes(client.app))  # type: ignore[arg-type]
    walked = 0
    for (method, path), rule in RULES.items():
        if (method, path) not in present or (method, path) not in CHUNKS[part]:
            continue  # a rule written ahead of its route, or one of another part
        if rule.page and world.engine.dialect.name != "sqlite":
            continue  # pages call the API in-process: their rules do not depend on the database
        walked += 1
        for role in _roles_walked(rule, world.engine.dialect.name):
            for instance in (OWN, OTHER) if rule.scope else (OWN,):
                call = CALLS[(method, path)](world, instance, role or "viewer")
                if rule.scope == GLOBAL and instance == OWN and role and call.token is None:
                    call.token = world.unscoped(role, "session" if rule.page else "api")
                expected = _expected(rule, role, instance == OWN, call)
                audited = world.audit_count()
                status, text = _send(client, method, call, rule, role, world)
                if (
                    method != "GET"
                    and expected is call.ok
                    and status in OK
                    and (method, path) not in NOT_AUDITED
                    and world.audit_count() == audited
                ):
                    wrong.append(f"{method} {path} as {role}: changed without an audit row")
                listed = call.marker is not None and call.marker in text
                allowed = expected is call.ok
                if status not in expected:
                    wrong.append(
                        f"{method} {path} as {role} in {instance}: {status} "
                        f"(expected {sorted(expected)}) {text[:160]}"
                    )
                elif call.effect is not None and call.effect() != allowed:
                    wrong.append(
                        f"{method} {path} as {role} in {instance}: "
                        f"{'no effect' if allowed else 'took effect'}"
                    )
                elif call.marker and status in OK and listed != (instance == OWN):
                    wrong.append(
                        f"{method} {path} as {role}: {instance} object "
                        f"{'shown' if listed else 'missing'}"
                    )
    if walked == 0:
        pytest.skip("only pages here, and pages are walked on SQLite alone")
    assert wrong == [], "\n".join(wrong)


def _roles_walked(rule: Rule, dialect: str) -> tuple[str | None, ...]:
    """Every role on SQLite. On PostgreSQL the roles at the rule's boundary only (the weakest
    allowed and the one below it): who may call is decided in Python the same way on both
    backends; what the database decides, instance filters and effects, shows at the boundary."""
    everyone: tuple[str | None, ...] = (None, *ROLES)
    if dialect == "sqlite" or rule.role == PUBLIC:
        return everyone
    weakest = ROLES.index(rule.role)
    return tuple(ROLES[max(weakest - 1, 0) : weakest + 1])


def test_an_agents_socket_takes_agent_tokens_only(walk: tuple[TestClient, World]) -> None:
    client, world = walk
    for token in (world.tokens["superadmin"], "", "alm_agent_forged"):
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect(
                f"{API}/agents/connect", headers={"Authorization": f"Bearer {token}"}
            ) as ws:
                ws.receive_text()
        assert refused.value.code == 1008
