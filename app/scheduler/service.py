"""The scheduler core. APScheduler is only a wake-up timer: one date job per distinct trigger
instant of the IDLE occurrences in the database (rebuilt at start, updated on every edit)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime

import anyio
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.clock import Clock
from app.db.engine import session_scope
from app.db.run_commands import apply
from app.db.runs import get_run
from app.db.tables import Task, TaskGroup
from app.domain import run_commands as c
from app.domain.events import DefinitionChanged, DispatchWanted
from app.domain.states import RunStatus
from app.hub.hub import AgentHub
from app.metrics import Metrics
from app.models.definition_schemas import SyncResult
from app.notify import ChangeFeed
from app.protocol.frames import StartBatch, StartRun
from app.scheduler.admission import load_held, ready_page
from app.scheduler.backfills import backfill_pass
from app.scheduler.definition_changes import from_message, pending_instants, to_message
from app.scheduler.dispatch import dispatch_pending
from app.scheduler.firing import FIRE_BATCH, FireResult, fire_due, plan_next
from app.scheduler.group_planner import (
    fire_due_groups,
    pending_group_triggers,
    plan_groups,
    plan_unplanned_groups,
)
from app.scheduler.leader import Leadership, NotLeader
from app.scheduler.maintenance import maintenance_pass
from app.scheduler.planner import pending_triggers, plan_tasks
from app.scheduler.pulse import Pulse
from app.scheduler.retention import prune_expired
from app.services.sync_pull import sync_due
from app.settings import Settings

log = logging.getLogger("almanac.scheduler")

# How often the leader looks for git sync sources due for a poll (each has its own interval).
SYNC_TICK_SECONDS = 10


class SchedulerService:
    """Every replica dispatches to its own agents; only the leader fires schedules."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        hub: AgentHub,
        settings: Settings,
        *,
        feed: ChangeFeed | None = None,
        leadership: Leadership | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.hub = hub
        self.settings = settings
        self.feed = feed or ChangeFeed(engine)
        self.leadership = leadership or Leadership(engine)
        self.metrics = metrics or Metrics(engine, hub)
        self._timer = AsyncIOScheduler(timezone="UTC")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fire = asyncio.Event()
        self._dispatch = asyncio.Event()
        self._dispatching = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._fire_task: asyncio.Task[None] | None = None
        # When this server began to lead: silent agents get a full timeout from then.
        self.started_at: datetime | None = None
        self.pulse = Pulse()

    @property
    def role(self) -> str:
        return self.leadership.role

    # ---- start / stop --------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.started_at = self.clock.now()
        self.feed.subscribe(self._on_message)
        await self.feed.start()
        self._timer.start(paused=True)
        self._tasks = [
            asyncio.create_task(self._dispatch_loop()),
            asyncio.create_task(self.leadership.run(self._elected, self._lost)),
        ]
        self._dispatch.set()

    async def stop(self) -> None:
        for task in [*self._tasks, *([self._fire_task] if self._fire_task else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.feed.stop()
        if self._timer.running:
            self._timer.shutdown(wait=False)

    async def _elected(self) -> None:
        self.started_at = self.clock.now()  # agents get a full timeout to find us
        await self._load_timers()
        self._timer.add_job(
            self._maintenance_tick,
            "interval",
            seconds=1,
            id="maintenance",
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )
        if self.settings.retention_days is not None:
            self._timer.add_job(
                self._prune,
                "interval",
                hours=1,
                id="retention",
                max_instances=1,
                coalesce=True,
                replace_existing=True,
                next_run_time=self.clock.now(),
            )
        self._timer.add_job(
            self._sync_tick,
            "interval",
            seconds=SYNC_TICK_SECONDS,
            id="definitions-sync",
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )
        self._fire_task = asyncio.create_task(self._fire_loop())
        self._timer.resume()
        self._fire.set()  # occurrences that fell due while nobody led

    async def _lost(self) -> None:
        self._timer.pause()
        self._timer.remove_all_jobs()
        if self._fire_task is not None:
            self._fire_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fire_task
            self._fire_task = None

    async def _load_timers(self) -> None:
        began = time.monotonic()
        try:
            triggers, group_triggers = await anyio.to_thread.run_sync(self._rebuild)
        except NotLeader:
            return
        for at in {*triggers.values(), *group_triggers.values()}:
            self._wake_at(at)
        log.info(
            "scheduler loaded %d timers in %.3f s",
            len(triggers) + len(group_triggers),
            time.monotonic() - began,
        )

    def _rebuild(self) -> tuple[dict[int, datetime], dict[int, datetime]]:
        """Plan every schedule that has no IDLE occurrence yet; return all triggers."""
        now = self.clock.now()
        with session_scope(self.engine) as session:
            self.leadership.fence(session)
            planned = pending_triggers(session)
            stmt = select(Task).where(
                col(Task.active), col(Task.schedule).is_not(None), col(Task.group_id).is_(None)
            )
            unplanned = [task for task in session.exec(stmt).all() if task.id not in planned]
            plan_tasks(session, unplanned, now=now)
            planned_groups = pending_group_triggers(session)
            groups = select(TaskGroup).where(
                col(TaskGroup.active), col(TaskGroup.schedule).is_not(None)
            )
            unplanned_groups = [g for g in session.exec(groups).all() if g.id not in planned_groups]
            plan_unplanned_groups(session, unplanned_groups, now=now)
            session.flush()
            return pending_triggers(session), pending_group_triggers(session)

    # ---- after commit (any thread; subscribed by app/wiring.py) -----------------------
    def committed(self, events: Sequence[DefinitionChanged | DispatchWanted]) -> None:
        """Edited definitions move their timers; ready runs wake dispatch."""
        if any(isinstance(e, DispatchWanted) for e in events):
            self.wake_dispatch()
        changes = [e for e in events if isinstance(e, DefinitionChanged)]
        if not changes or self._loop is None:
            return
        if self.leadership.is_leader:
            self._loop.call_soon_threadsafe(self._refresh_soon, changes)
        if self.feed.postgres:  # the leader may be another replica
            for change in changes:
                self.feed.publish(to_message(change))

    def wake_dispatch(self) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._dispatch.set)
        if self.feed.postgres:  # the agent for the run may be connected elsewhere
            self.feed.publish("dispatch")

    def _on_message(self, message: str) -> None:
        if message == "dispatch":
            self._dispatch.set()
        elif not self.leadership.is_leader:
            return
        elif message == "resync":
            asyncio.create_task(self._load_timers())
        elif (change := from_message(message)) is not None:
            self._refresh_soon([change])

    def _refresh_soon(self, changes: list[DefinitionChanged]) -> None:
        asyncio.create_task(self._refresh(changes))

    async def _refresh(self, changes: list[DefinitionChanged]) -> None:
        """Re-read the changed definitions' next occurrences: each gets its wake-up."""
        instants = await anyio.to_thread.run_sync(pending_instants, self.engine, changes)
        if self.leadership.is_leader:
            for at in instants:
                self._wake_at(at)

    def wake_ups(self) -> list[datetime]:
        """The instants the timer wakes the fire loop at, soonest first."""
        jobs = self._timer.get_jobs()
        return sorted(job.trigger.run_date for job in jobs if isinstance(job.trigger, DateTrigger))

    def _wake_at(self, at: datetime | None) -> None:
        """Wake up at `at`. Jobs are per instant, not per schedule (a thousand tasks due in
        one second are one wake-up); a job left where nothing is due any more wakes for nothing."""
        if at is None:
            return
        job_id = f"at:{at.isoformat()}"
        if self._timer.get_job(job_id) is None:
            self._timer.add_job(
                self._fire.set, DateTrigger(run_date=at), id=job_id, misfire_grace_time=None
            )

    # ---- loops -----------------------------------------------------------------------
    async def _fire_loop(self) -> None:
        while True:
            await self._fire.wait()
            self._fire.clear()
            task_ids: set[int] = set()
            group_ids: set[int] = set()
            # Firing and dispatching in one pass per slice, before anything is re-planned: a
            # burst goes out to the agents without waiting for (or sharing the CPU with)
            # planning, and its first slice is on its way while the next is fired.
            while True:
                try:
                    async with self._dispatching:
                        result, fired_groups, sends = await anyio.to_thread.run_sync(self._fire_due)
                except NotLeader:  # the lock is gone: nothing was fired, `lost` follows
                    break
                for delay in result.delays:
                    self.metrics.trigger_delay.observe(delay)
                self.pulse.fired(self.clock.now(), result.delays)
                if (result.activated or fired_groups) and self.feed.postgres:
                    self.feed.publish("dispatch")  # for agents connected to other replicas
                await self._send(sends)
                task_ids.update(result.task_ids)
                group_ids.update(fired_groups)
                if result.handled < FIRE_BATCH:
                    break
            try:
                replanned, groups = await anyio.to_thread.run_sync(
                    self._plan_next, sorted(task_ids), sorted(group_ids)
                )
            except NotLeader:
                continue
            for at in {*replanned.values(), *groups.values()}:
                self._wake_at(at)

    def fire_once(self, now: datetime) -> tuple[FireResult, list[int]]:
        """One firing pass at `now` (tests step it); the runs made ACTIVE wait for dispatch."""
        result, groups, _ = self._fire_due(now, claim=False)
        self._plan_next(sorted(result.task_ids), sorted(groups), now)
        return result, groups

    def _fire_due(
        self, now: datetime | None = None, *, claim: bool = True
    ) -> tuple[FireResult, list[int], list[tuple[str, StartRun]]]:
        with session_scope(self.engine) as session:
            self.leadership.fence(session)
            now = now or self.clock.now()
            result, groups = fire_due(session, now=now), fire_due_groups(session, now=now)
            wanted = claim and (result.activated or groups)
            sends = self._claim_in(session, now) if wanted else []
            return result, groups, sends

    def _plan_next(
        self, task_ids: list[int], gids: list[int], now: datetime | None = None
    ) -> tuple[dict[int, datetime | None], dict[int, datetime | None]]:
        with session_scope(self.engine) as session:
            self.leadership.fence(session)
            now = now or self.clock.now()
            return plan_next(session, task_ids, now=now), plan_groups(session, gids, now=now)

    async def _dispatch_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):  # retries wait on not_before
                    await self._dispatch.wait()
            self._dispatch.clear()
            try:
                await self.dispatch_once()
            except Exception:
                log.exception("dispatch failed")

    async def dispatch_once(self, now: datetime | None = None) -> int:
        """One dispatch pass at `now` (tests step it): how many starts were sent."""
        if not self.hub.connections:
            return 0
        async with self._dispatching:  # one pass at a time: a run is claimed by one pass
            sends = await anyio.to_thread.run_sync(self._claim, now)
        await self._send(sends)
        return len(sends)

    async def _send(self, sends: list[tuple[str, StartRun]]) -> None:
        """One frame per agent: a burst costs each side one message, not one per run."""
        by_agent: dict[str, list[StartRun]] = {}
        for agent, message in sends:
            log.info(
                "run %d dispatched to %s",
                message.run_id,
                agent,
                extra={"run_id": message.run_id, "attempt": message.attempt, "agent": agent},
            )
            by_agent.setdefault(agent, []).append(message)
        for agent, starts in by_agent.items():
            frame = starts[0] if len(starts) == 1 else StartBatch(runs=starts)
            if not await self.hub.send(agent, frame):
                await anyio.to_thread.run_sync(
                    self._undo_dispatch, [start.run_id for start in starts], agent
                )

    def _claim(self, now: datetime | None = None) -> list[tuple[str, StartRun]]:
        with session_scope(self.engine) as session:
            return self._claim_in(session, now or self.clock.now())

    def _claim_in(self, session: Session, now: datetime) -> list[tuple[str, StartRun]]:
        if not self.hub.connections:
            return []
        first = ready_page(session, now=now)
        if not first:  # most passes after a run ended: what the agents hold is not read
            return []
        held = load_held(session)  # one read of the runs on agents for the whole pass
        slots = self.hub.slots(held.running, held.allocated, session)
        return dispatch_pending(
            session,
            now=now,
            agents=slots,
            held=held,
            first=first,
            observe_hop=self.metrics.dependency_hop.observe,
            policy=self.settings.placement_policy,
        )

    def _undo_dispatch(self, run_ids: list[int], agent: str) -> None:
        with session_scope(self.engine) as session:
            for run_id in run_ids:
                run = get_run(session, run_id, lock=True)
                if run.status == RunStatus.TRIGGER and run.agent == agent:
                    apply(session, run, c.SendFailed(agent), now=self.clock.now())

    async def _prune(self) -> None:
        with contextlib.suppress(NotLeader):
            now = self.clock.now()
            fence = self.leadership.fence
            await anyio.to_thread.run_sync(
                lambda: prune_expired(self.engine, self.settings, now, fence)
            )

    async def _sync_tick(self) -> None:
        with contextlib.suppress(NotLeader):
            await anyio.to_thread.run_sync(self.sync_once)

    def sync_once(self, now: datetime | None = None) -> list[SyncResult]:
        """One git sync poll at `now` (leader only): every source whose interval passed is
        fetched, and a new commit planned and applied (app/services/sync_pull.py)."""
        with session_scope(self.engine) as session:
            self.leadership.fence(session)
        return sync_due(self.engine, data_dir=self.settings.data_dir, now=now or self.clock.now())

    async def _maintenance_tick(self) -> None:
        try:
            changed = await anyio.to_thread.run_sync(self.maintenance_once)
            started = await anyio.to_thread.run_sync(self.backfill_once)
        except NotLeader:
            return
        self.pulse.maintained(self.clock.now())
        if started:
            self.wake_dispatch()  # the agents may be connected to another replica
        elif changed:
            self._dispatch.set()

    def maintenance_once(self, now: datetime | None = None) -> bool:
        """One maintenance pass at `now` (the clock's by default; tests step it): expire
        unacknowledged dispatches and declare silent agents lost, the two ways a run can get
        stuck. True when a run changed (dispatch then looks again)."""
        now = now or self.clock.now()
        with session_scope(self.engine) as session:
            self.leadership.fence(session)  # leader-only work, fenced on the lock
            return maintenance_pass(
                session,
                now=now,
                settings=self.settings,
                leading_since=self.started_at or now,
                connected=set(self.hub.connections),
            )

    def backfill_once(self, now: datetime | None = None) -> int:
        """One backfill pass at `now` (tests step it): how many dates started (see backfills.py)."""
        with session_scope(self.engine) as session:
            self.leadership.fence(session)
            return backfill_pass(session, now=now or self.clock.now())
