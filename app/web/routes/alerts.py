"""Alerts (/alerts): alert rules (everyone reads those of their instances; operators create,
change and delete them) and, for admins, the integrations they send through. An
integration's secret is write-only: a value typed replaces it, nothing ever shows it back.
Every change goes through the alerts and integrations services (roles, scopes, audit)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.alerts.events import AlertEvent
from app.alerts.schemas import (
    AlertRuleCreate,
    AlertRuleUpdate,
    IntegrationCreate,
    IntegrationUpdate,
)
from app.domain.roles import Role, role_at_least
from app.errors import AlmanacError
from app.services import alerts, groups, integrations, tasks
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump
from app.web.form_errors import checked, refusal_errors
from app.web.forms import FormErrors
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1)]
EVENTS = [e.value for e in AlertEvent]


async def _page(
    request: Request,
    api: Calls,
    *,
    form: str | None = None,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The page; `form` names the form whose `values` and `errors` it shows again."""
    admin = role_at_least(api.session.user.role, Role.ADMIN)
    channels = dump(await api.read(integrations.list_integrations)) if admin else []
    owned = dump(await api.read(tasks.list_tasks, page_size=1000))
    teams = dump(await api.read(groups.list_groups, page_size=1000))
    context = {
        "active": "alerts",
        "rules": dump(await api.read(alerts.list_rules)),
        "integrations": channels,
        "target_options": [
            ("", "Choose a task or group…"),
            *((f"task:{t['tid']}", f"task {t['name']}") for t in owned),
            *((f"group:{g['gid']}", f"group {g['name']}") for g in teams),
        ],
        "integration_options": [("", "Choose…"), *((str(c["id"]), c["name"]) for c in channels)],
        "events": EVENTS,
        "admin": admin,
        "form": form,
        "values": values or {},
        "errors": errors or {},
    }
    return render(
        request, "alerts/page.html", context, session=api.session, status_code=status_code
    )


def _allow(api: Calls, role: Role) -> None:
    """The role the API route asks, checked before the form is read (a viewer's post is a
    403 whatever it holds, as on the API)."""
    try:
        api.actor.require(role)
    except AlmanacError as exc:
        raise ApiError.of(exc) from exc


async def _values(request: Request) -> dict[str, Any]:
    form = await request.form()
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    values["events"] = [v for v in form.getlist("events") if isinstance(v, str)]
    return values


def _late(values: Mapping[str, Any], errors: dict[str, str]) -> float | None:
    text = str(values.get("late_minutes", "")).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        errors["late_minutes"] = "must be a number of minutes"
        return None


def _integration_id(values: Mapping[str, Any], errors: dict[str, str]) -> int | None:
    text = str(values.get("integration", "")).strip()
    if not text.isdigit():
        errors["integration"] = "choose an integration"
        return None
    return int(text)


def _rule_payload(
    values: Mapping[str, Any], creating: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {
        "events": values.get("events") or [],
        "late_minutes": _late(values, errors),
        "active": "active" in values,
    }
    integration = _integration_id(values, errors)
    if integration is not None:
        payload["integration"] = integration
    if creating:
        kind, _, key = str(values.get("target", "")).partition(":")
        if kind in ("task", "group") and key.isdigit():
            payload[kind] = int(key)
        else:
            errors["target"] = "choose a task or a group"
    return payload, errors


async def _refused(
    request: Request, api: Calls, form: str, values: Mapping[str, Any], exc: Exception
) -> Response:
    """The page again with the form as typed and every problem beside its field."""
    if isinstance(exc, FormErrors):
        return await _page(
            request, api, form=form, values=values, errors=exc.errors, status_code=422
        )
    assert isinstance(exc, ApiError)
    if exc.status_code not in (409, 422):
        raise exc
    flat = {k: str(v) for k, v in values.items() if isinstance(v, str)}
    errors = refusal_errors(exc, flat)
    return await _page(
        request, api, form=form, values=values, errors=errors, status_code=exc.status_code
    )


@router.get("/alerts")
async def alerts_page(request: Request, api: CallsDep) -> Response:
    return await _page(request, api)


@router.post("/alerts/rules")
async def create_rule(request: Request, api: CallsDep, session: WriteSessionDep) -> Response:
    _allow(api, Role.OPERATOR)
    values = await _values(request)
    try:
        payload, unreadable = _rule_payload(values, creating=True)
        body = checked(AlertRuleCreate, payload, unreadable, {})
        await api.command(alerts.create_rule, body=body)
    except (FormErrors, ApiError) as exc:
        return await _refused(request, api, "rule-new", values, exc)
    return RedirectResponse("/alerts", status_code=303)


@router.post("/alerts/rules/{rule_id:int}")
async def update_rule(
    request: Request, rule_id: Id, api: CallsDep, session: WriteSessionDep
) -> Response:
    _allow(api, Role.OPERATOR)
    values = await _values(request)
    try:
        payload, unreadable = _rule_payload(values, creating=False)
        body = checked(AlertRuleUpdate, payload, unreadable, {})
        await api.command(alerts.update_rule, rule_id=rule_id, body=body)
    except (FormErrors, ApiError) as exc:
        return await _refused(request, api, f"rule-{rule_id}", values, exc)
    return RedirectResponse("/alerts", status_code=303)


@router.post("/alerts/rules/{rule_id:int}/delete")
async def delete_rule(
    request: Request, rule_id: Id, api: CallsDep, session: WriteSessionDep
) -> Response:
    _allow(api, Role.OPERATOR)
    await api.command(alerts.delete_rule, rule_id=rule_id)
    return RedirectResponse("/alerts", status_code=303)


def _config(values: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any] | None:
    text = str(values.get("config", "")).strip()
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        errors["config"] = f"line {exc.lineno}: not JSON ({exc.msg})"
        return None
    if not isinstance(config, dict):
        errors["config"] = 'a JSON object, e.g. {"url": "https://example.com/hook"}'
        return None
    return config


def _integration_payload(
    values: Mapping[str, Any], creating: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {"name": str(values.get("name", "")).strip()}
    config = _config(values, errors)
    if config is not None:
        payload["config"] = config
    secret = str(values.get("secret", ""))
    if secret:
        payload["secret"] = secret
    elif not creating and "remove_secret" in values:
        payload["secret"] = ""
    if creating:
        payload["kind"] = str(values.get("kind", ""))
        instance = str(values.get("instance", "")).strip()
        payload["instance"] = instance or None
    return payload, errors


def _without_secret(values: Mapping[str, Any]) -> dict[str, Any]:
    """What a refused form shows again: never the secret typed."""
    return {k: v for k, v in values.items() if k != "secret"}


@router.post("/alerts/integrations")
async def create_integration(request: Request, api: CallsDep, session: WriteSessionDep) -> Response:
    _allow(api, Role.ADMIN)
    values = await _values(request)
    data_dir = api.context.settings.data_dir
    try:
        payload, unreadable = _integration_payload(values, creating=True)
        body = checked(IntegrationCreate, payload, unreadable, {})
        await api.command(integrations.create_integration, data_dir=data_dir, body=body)
    except (FormErrors, ApiError) as exc:
        return await _refused(request, api, "integration-new", _without_secret(values), exc)
    return RedirectResponse("/alerts#integrations", status_code=303)


@router.post("/alerts/integrations/{integration_id:int}")
async def update_integration(
    request: Request, integration_id: Id, api: CallsDep, session: WriteSessionDep
) -> Response:
    _allow(api, Role.ADMIN)
    values = await _values(request)
    data_dir = api.context.settings.data_dir
    form = f"integration-{integration_id}"
    try:
        payload, unreadable = _integration_payload(values, creating=False)
        body = checked(IntegrationUpdate, payload, unreadable, {})
        await api.command(
            integrations.update_integration,
            data_dir=data_dir,
            integration_id=integration_id,
            body=body,
        )
    except (FormErrors, ApiError) as exc:
        return await _refused(request, api, form, _without_secret(values), exc)
    return RedirectResponse("/alerts#integrations", status_code=303)


@router.post("/alerts/integrations/{integration_id:int}/delete")
async def delete_integration(
    request: Request, integration_id: Id, api: CallsDep, session: WriteSessionDep
) -> Response:
    _allow(api, Role.ADMIN)
    try:
        await api.command(integrations.delete_integration, integration_id=integration_id)
    except ApiError as exc:  # still used by rules (409): said beside it, not a toast
        return await _refused(request, api, f"integration-{integration_id}", {}, exc)
    return RedirectResponse("/alerts#integrations", status_code=303)
