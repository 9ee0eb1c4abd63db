"""The alert service: one asyncio task in the server that turns run endings into deliveries,
checks for late starts, and sends what is due, retrying with backoff. It never runs inside
a request: committed endings arrive through `notify` (subscribed by app/wiring.py) and a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from datetime import datetime, timedelta

import anyio
import httpx
from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from app.alerts.capture import Ending, snapshot
from app.alerts.evaluate import record_endings, record_late_starts
from app.alerts.senders import Outgoing, SendError, send
from app.clock import Clock
from app.db.alert_tables import AlertDelivery, AlertRule
from app.db.engine import session_scope
from app.db.tables import Integration, Run
from app.secrets import SecretError, decrypt_secret
from app.settings import Settings

log = logging.getLogger("almanac.alerts")


class AlertService:
    # Tunables (tests shorten them on the instance).
    poll_seconds = 1.0  # how often due deliveries are looked for without a wake-up
    late_check_seconds = 30.0
    backoff_seconds = 5.0  # first retry; doubles each try
    backoff_max_seconds = 900.0
    max_tries = 8
    claim_seconds = 120.0
    batch = 50
    catch_up = timedelta(minutes=15)

    def __init__(self, engine: Engine, clock: Clock, settings: Settings) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self._endings: deque[Ending] = deque()
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._running = False  # endings heard before the start are caught up by it

    # ---- start / stop ---------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._http = httpx.AsyncClient(follow_redirects=False)
        self._running = True
        self.notify(await anyio.to_thread.run_sync(self._recent_endings))
        self._task = asyncio.create_task(self._run(), name="alerts")

    async def stop(self) -> None:
        self._running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.aclose()

    def _recent_endings(self) -> list[Ending]:
        """Runs that ended shortly before this start: endings a stop may have left
        unrecorded (recording twice is harmless: a delivery exists once)."""
        since = self.clock.now() - self.catch_up
        with session_scope(self.engine) as session:
            runs = session.exec(
                select(Run)
                .where(col(Run.status).in_(["SUCCESS", "FAILED"]), col(Run.finished_at) >= since)
                .order_by(col(Run.id))
            ).all()
            return [
                Ending(run_id=r.id or 0, attempt=r.attempt, status=r.status, run=snapshot(r))
                for r in runs
            ]

    def notify(self, endings: list[Ending]) -> None:
        """Called on the committing thread: queue, wake the loop, return at once."""
        if not self._running:
            return
        with self._lock:
            self._endings.extend(endings)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    # ---- the loop ---------------------------------------------------------------------
    async def _run(self) -> None:
        next_late = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.tick(late=time.monotonic() >= next_late)
            except Exception:
                log.exception("alert tick failed")
            if time.monotonic() >= next_late:
                next_late = time.monotonic() + self.late_check_seconds

    async def tick(self, *, late: bool = False) -> int:
        """Record what the queued endings (and, with `late`, late runs) call for, then send
        every due delivery. Returns how many were sent."""
        with self._lock:
            endings = list(self._endings)
            self._endings.clear()
        if endings:
            await anyio.to_thread.run_sync(self._record, endings)
        if late:
            await anyio.to_thread.run_sync(self.check_late)
        return await self.deliver_due()

    def _record(self, endings: list[Ending]) -> None:
        with session_scope(self.engine) as session:
            record_endings(session, endings, now=self.clock.now())

    def check_late(self) -> int:
        with Session(self.engine, expire_on_commit=False) as session:
            return record_late_starts(session, now=self.clock.now())

    # ---- delivery --------------------------------------------------------------------
    async def deliver_due(self) -> int:
        claimed = await anyio.to_thread.run_sync(self._claim)
        if not claimed:
            return 0
        assert self._http is not None
        results = await asyncio.gather(*(self._send_one(o) for o in claimed))
        await anyio.to_thread.run_sync(self._finish, list(zip(claimed, results, strict=True)))
        return sum(1 for r in results if r is None)

    async def _send_one(self, outgoing: Outgoing) -> str | None:
        assert self._http is not None
        try:
            await send(self._http, outgoing)
        except SendError as exc:
            return str(exc) or type(exc).__name__
        except Exception as exc:  # a bad stored config must not stop the others
            log.exception("alert delivery %s failed", outgoing.delivery_id)
            return f"{type(exc).__name__}: {exc}"
        return None

    def _claim(self) -> list[Outgoing]:
        now = self.clock.now()
        found: list[Outgoing] = []
        with session_scope(self.engine) as session:
            due = session.exec(
                select(AlertDelivery)
                .where(
                    AlertDelivery.status == "pending",
                    col(AlertDelivery.next_try_at) <= now,
                    or_(
                        col(AlertDelivery.claimed_until).is_(None),
                        col(AlertDelivery.claimed_until) < now,
                    ),
                )
                .order_by(col(AlertDelivery.id))
                .limit(self.batch)
            ).all()
            for delivery in due:
                if not self._take(session, delivery, now):
                    continue
                outgoing = self._outgoing(session, delivery)
                if outgoing is not None:
                    found.append(outgoing)
        return found

    def _take(self, session: Session, delivery: AlertDelivery, now: datetime) -> bool:
        """Hold the delivery for this server (another replica may be looking at it too)."""
        result = session.exec(
            update(AlertDelivery)
            .where(
                col(AlertDelivery.id) == delivery.id,
                col(AlertDelivery.status) == "pending",
                or_(
                    col(AlertDelivery.claimed_until).is_(None),
                    col(AlertDelivery.claimed_until) < now,
                ),
            )
            .values(claimed_until=now + timedelta(seconds=self.claim_seconds))
        )
        return bool(result.rowcount)

    def _outgoing(self, session: Session, delivery: AlertDelivery) -> Outgoing | None:
        integration = session.get(Integration, delivery.integration_id)
        if integration is None:
            delivery.status, delivery.last_error = "failed", "integration deleted"
            return None
        rule = session.get(AlertRule, delivery.rule_id)
        if integration.instance is not None and (
            rule is None or rule.instance != integration.instance
        ):
            # never send one instance's alerts through another instance's channel
            delivery.status, delivery.last_error = "failed", "integration of another instance"
            return None
        secret = None
        if integration.secret_encrypted:
            try:
                secret = decrypt_secret(integration.secret_encrypted, self.settings.data_dir)
            except SecretError as exc:
                delivery.status, delivery.last_error = "failed", str(exc)
                return None
        return Outgoing(
            delivery_id=delivery.id or 0,
            kind=integration.kind,
            config=dict(integration.config),
            secret=secret,
            payload=dict(delivery.payload),
        )

    def _finish(self, results: list[tuple[Outgoing, str | None]]) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            for outgoing, error in results:
                delivery = session.get(AlertDelivery, outgoing.delivery_id)
                if delivery is None:
                    continue
                delivery.tries += 1
                delivery.claimed_until = None
                if error is None:
                    delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
                    continue
                delivery.last_error = error[:2000]
                if delivery.tries >= self.max_tries:
                    delivery.status = "failed"
                    log.warning(
                        "alert delivery %s given up after %d tries: %s",
                        delivery.id,
                        delivery.tries,
                        error,
                    )
                else:
                    delay = min(
                        self.backoff_seconds * 2 ** (delivery.tries - 1), self.backoff_max_seconds
                    )
                    delivery.next_try_at = now + timedelta(seconds=delay)
