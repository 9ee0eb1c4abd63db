"""The composition root: builds the app from settings, a clock and an engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from app import __version__, web
from app.alerts.service import AlertService
from app.api import errors
from app.api.body_limit import BodySizeLimit
from app.api.docs_login import DocsNeedLogin
from app.api.routes import (
    adhoc,
    agent_inputs,
    agents,
    alerts,
    approvals,
    audit,
    auth,
    backfills,
    calendars,
    definitions,
    group_dag,
    group_freezes,
    group_runs,
    groups,
    health,
    integrations,
    io,
    metrics,
    outputs,
    policies,
    pools,
    run_actions,
    runs,
    sync,
    tasks,
    tokens,
    users,
    variable_sets,
    versions,
)
from app.clock import Clock, SystemClock
from app.context import AppContext
from app.control_relay import ControlRelay
from app.db.engine import make_engine
from app.db.sealing import bind_box
from app.env_secrets import box_for
from app.hub.hub import AgentHub
from app.hub.local_agent import LocalAgentSupervisor
from app.scheduler.lifecycle import apply_state
from app.scheduler.service import SchedulerService
from app.secrets import derived_key
from app.settings import Settings
from app.web.security_headers import SecurityHeaders
from app.web_relay import relay
from app.wiring import wire_subscribers

API_PREFIX = "/api/v1"


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    start_scheduler: bool = True,
) -> FastAPI:
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.resolved_database_url())
    bind_box(engine, lambda: box_for(settings.data_dir))  # env values sealed at rest
    hub = AgentHub(
        engine, clock, heartbeat_interval=settings.heartbeat_interval_seconds, reports=apply_state
    )
    scheduler = SchedulerService(engine, clock, hub, settings)
    hub.on_change = scheduler.wake_dispatch
    context = AppContext(
        settings=settings,
        engine=engine,
        clock=clock,
        hub=hub,
        scheduler=scheduler,
        controls=ControlRelay(hub, scheduler.feed),
        csrf_key=derived_key(settings.data_dir, "csrf"),
        started_at=clock.now(),
    )
    alert_service = AlertService(engine, clock, settings)  # run endings -> alert deliveries

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        local: LocalAgentSupervisor | None = None
        await alert_service.start()
        if start_scheduler:
            await scheduler.start()
        if settings.local_agent:
            url = settings.public_url or f"http://{_loopback(settings.host)}:{settings.port}"
            local = LocalAgentSupervisor(settings, engine, clock, url)
            await local.start()
        try:
            yield
        finally:
            if local is not None:
                await local.stop()
            await hub.stop_flusher()  # the heartbeats noted since the last flush
            await scheduler.stop()
            await alert_service.stop()

    app = FastAPI(
        title="Almanac",
        version=__version__,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.context = context
    app.state.alerts = alert_service
    errors.install(app)
    app.add_middleware(BodySizeLimit)  # 413 over 5 MB
    docs = f"{API_PREFIX}/docs"
    app.add_middleware(DocsNeedLogin, paths=(f"{API_PREFIX}/openapi.json", docs))
    app.add_middleware(SecurityHeaders, docs_path=docs)  # CSP, no framing, no-store
    for module in (
        health,
        auth,
        tasks,
        runs,
        run_actions,
        outputs,
        agents,
        calendars,
        groups,
        group_dag,
        group_freezes,
        group_runs,
        users,
        tokens,
        audit,
        approvals,
        io,
        adhoc,
        integrations,
        alerts,
        policies,
        variable_sets,
        agent_inputs,
        backfills,
        pools,
        definitions,
        sync,
        versions,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(metrics.router)  # /metrics, where Prometheus looks
    web.install(app)  # the web UI: pages, /static, live events
    bus = app.state.events
    wire_subscribers(  # who hears each transaction's events once it commits
        engine,
        scheduler=scheduler,
        bus=bus,
        relay=relay(bus, scheduler.feed),  # live pages see every replica's changes
        alerts=alert_service.notify,
    )
    return app


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
