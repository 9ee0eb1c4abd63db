"""Which rules an event of a run matches, recorded as pending deliveries (once per rule, run,
attempt and event: the table's unique key makes a second recording impossible)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from app.alerts.capture import Ending, snapshot
from app.alerts.events import AlertEvent, ending_events, message
from app.db.alert_tables import AlertDelivery, AlertRule
from app.db.tables import GroupRun, Run, Task
from app.domain.states import RunStatus

# A run that never started is "late" only this long after its trigger: older ones were
# surely alerted already, or predate the rule.
LATE_HORIZON = timedelta(days=1)
NOT_STARTED = (
    RunStatus.IDLE,
    RunStatus.ACTIVE,
    RunStatus.TRIGGER,
    RunStatus.STARTED,
    RunStatus.PENDING_APPROVAL,
)


def _group_ids(session: Session, run: Run) -> set[int]:
    gids = set()
    if run.task_id is not None:
        task = session.get(Task, run.task_id)
        if task is not None and task.group_id is not None:
            gids.add(task.group_id)
    if run.group_run_id is not None:
        group_run = session.get(GroupRun, run.group_run_id)
        if group_run is not None:
            gids.add(group_run.group_id)
    return gids


def rules_for(session: Session, run: Run) -> Sequence[AlertRule]:
    """Active rules on the run's task or on a group it belongs to."""
    conditions = []
    if run.task_id is not None:
        conditions.append(col(AlertRule.task_id) == run.task_id)
    gids = _group_ids(session, run)
    if gids:
        conditions.append(col(AlertRule.group_id).in_(sorted(gids)))
    if not conditions:
        return []
    return session.exec(
        select(AlertRule).where(col(AlertRule.active), or_(*conditions)).order_by(col(AlertRule.id))
    ).all()


def _exists(session: Session, rule: AlertRule, run_id: int, attempt: int, event: str) -> bool:
    return (
        session.exec(
            select(AlertDelivery.id).where(
                AlertDelivery.rule_id == rule.id,
                AlertDelivery.run_id == run_id,
                AlertDelivery.attempt == attempt,
                AlertDelivery.event == event,
            )
        ).first()
        is not None
    )


def _delivery(
    rule: AlertRule, event: AlertEvent, run: dict[str, object], attempt: int, now: datetime
) -> AlertDelivery:
    text = message(event, run, late_minutes=rule.late_minutes)
    return AlertDelivery(
        rule_id=rule.id or 0,
        integration_id=rule.integration_id,
        run_id=int(str(run["id"])),
        attempt=attempt,
        event=event.value,
        status="pending",
        next_try_at=now,
        payload={"event": event.value, "text": text, "rule": rule.id, "run": run},
        created_at=now,
    )


def record_endings(session: Session, endings: Iterable[Ending], *, now: datetime) -> int:
    """Deliveries for the rules matching each ended attempt; returns how many were made."""
    if session.exec(select(AlertRule.id).where(col(AlertRule.active)).limit(1)).first() is None:
        return 0  # no rules at all: the common case costs one query per batch
    made = 0
    for ending in endings:
        run = session.get(Run, ending.run_id)
        if run is None:
            continue
        retried = run.attempt > ending.attempt and ending.status == "FAILED"
        reason = ending.run.get("reason")
        events = ending_events(ending.status, str(reason) if reason else None, retried)
        for rule in rules_for(session, run):
            for event in sorted(events & {AlertEvent(e) for e in rule.events}):
                if not _exists(session, rule, ending.run_id, ending.attempt, event.value):
                    session.add(_delivery(rule, event, ending.run, ending.attempt, now))
                    made += 1
        session.flush()
    return made


def late_candidates(session: Session, *, now: datetime) -> list[tuple[AlertRule, Run]]:
    """(rule, run) pairs where the run is not RUNNING `late_minutes` after its trigger."""
    found = []
    rules = [
        r
        for r in session.exec(select(AlertRule).where(col(AlertRule.active))).all()
        if AlertEvent.LATE_START.value in r.events and r.late_minutes
    ]
    for rule in rules:
        cutoff = now - timedelta(minutes=rule.late_minutes or 0)
        stmt = select(Run).where(
            col(Run.status).in_(list(NOT_STARTED)),
            col(Run.started_at).is_(None),
            Run.attempt == 1,  # a retry is not a late start
            col(Run.trigger_time) <= cutoff,
            col(Run.trigger_time) > cutoff - LATE_HORIZON,
        )
        if rule.task_id is not None:
            stmt = stmt.where(Run.task_id == rule.task_id)
        else:
            members = select(Task.id).where(Task.group_id == rule.group_id)
            runs_of_group = select(GroupRun.id).where(GroupRun.group_id == rule.group_id)
            stmt = stmt.where(
                or_(col(Run.task_id).in_(members), col(Run.group_run_id).in_(runs_of_group))
            )
        found += [(rule, run) for run in session.exec(stmt.order_by(col(Run.id))).all()]
    return found


def record_late_starts(engine_session: Session, *, now: datetime) -> int:
    """One delivery per late run and rule, each committed on its own: another server may
    record the same one at the same moment, and the unique key lets only one through."""
    made = 0
    for rule, run in late_candidates(engine_session, now=now):
        if _exists(engine_session, rule, run.id or 0, 0, AlertEvent.LATE_START.value):
            continue
        engine_session.add(_delivery(rule, AlertEvent.LATE_START, snapshot(run), 0, now))
        try:
            engine_session.commit()
            made += 1
        except IntegrityError:
            engine_session.rollback()
    return made
