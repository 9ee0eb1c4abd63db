"""Import a crontab as tasks (app/io/crontab.py reads it): shown as a dry run, or created
in one transaction through the definitions import, so the same checks apply (instances,
agents, policies) and nothing is half-imported.

Each job line becomes a standalone task: an Almanac group shares one schedule, while every
crontab line has its own, so `group` only tags the tasks (label `group=NAME`)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from app.db.engine import session_scope
from app.db.tables import Task
from app.db.unit_of_work import record
from app.domain.roles import Role
from app.io.apply import apply_plan
from app.io.crontab import CrontabOptions, CrontabTask, CrontabTranslation, read_crontab
from app.io.importer import plan_import
from app.io.problems import ImportRefused, problem
from app.models.crontab_schemas import (
    CrontabImportReport,
    CrontabImportRequest,
    CrontabLineRefused,
    CrontabTaskPublic,
)
from app.models.io_schemas import FORMAT, ImportProblem
from app.services.actor import Actor
from app.services.policy_gate import enforce_tasks


def import_crontab(
    engine: Engine, *, actor: Actor, now: datetime, body: CrontabImportRequest, dry_run: bool
) -> CrontabImportReport:
    """ImportRefused (422, a problem per line) when a line cannot be translated and
    `skip_untranslatable` is off, or when a task breaks a rule; nothing is stored then."""
    actor.require(Role.ADMIN)
    actor = actor.through("import")  # its tasks' versions say where they came from
    with session_scope(engine) as session:
        taken = session.exec(select(Task.name).where(Task.instance == body.instance)).all()
        options = CrontabOptions(
            format=body.format, timezone=body.timezone, prefix=body.prefix, taken=frozenset(taken)
        )
        translation = read_crontab(body.text, options)
        report = _report(body, translation, dry_run)
        if translation.refused and not body.skip_untranslatable and not dry_run:
            raise ImportRefused(422, [_line_problem(r.line, r.reason) for r in translation.refused])
        if not translation.tasks:
            if not dry_run and not translation.refused:
                raise ImportRefused(422, [problem("text", "text", "no job lines found")])
            return report
        document = {"format": FORMAT, "tasks": [_item(t, body) for t in translation.tasks]}
        try:
            plan = plan_import(
                session, json.dumps(document).encode(), mode="merge", granted=actor.scope.names()
            )
            enforce_tasks(session, actor.role, plan.desired.of("task").values())
        except ImportRefused as refused:
            raise ImportRefused(refused.status, _by_line(refused.problems, translation)) from None
        if dry_run:
            return report
        applied = apply_plan(session, plan, now=now)
        record(session, *applied.definition_changes())
        report.applied = True
        actor.audit(
            session,
            at=now,
            action="definitions.import_crontab",
            target_kind="definitions",
            target_id=body.instance,
            after=report,
            detail=f"{len(report.tasks)} tasks, {len(report.untranslatable)} lines left out",
        )
    return report


def _item(task: CrontabTask, body: CrontabImportRequest) -> dict[str, Any]:
    return {
        "name": task.name,
        "command": task.command,
        "description": task.description,
        "schedule": task.schedule,
        "env": task.env,
        "run_as_user": task.run_as_user,
        "labels": {"group": body.group} if body.group else {},
        "instance": body.instance,
    }


def _report(
    body: CrontabImportRequest, translation: CrontabTranslation, dry_run: bool
) -> CrontabImportReport:
    tasks = [
        CrontabTaskPublic(
            line=t.line,
            name=t.name,
            command=t.command,
            schedule=t.schedule,
            env=t.env,
            run_as_user=t.run_as_user,
            description=t.description,
            notes=list(t.notes),
        )
        for t in translation.tasks
    ]
    refused = [
        CrontabLineRefused(line=r.line, text=r.text, reason=r.reason) for r in translation.refused
    ]
    if refused and not body.skip_untranslatable:
        message = (
            f"{len(refused)} line(s) cannot be translated: the import is refused unless "
            "untranslatable lines are skipped"
        )
    elif refused:
        message = f"{len(tasks)} task(s); {len(refused)} untranslatable line(s) left out"
    else:
        message = f"{len(tasks)} task(s)"
    if dry_run:
        message += " (dry run, nothing stored)"
    return CrontabImportReport(
        dry_run=dry_run,
        applied=False,
        instance=body.instance,
        tasks=tasks,
        untranslatable=refused,
        message=message,
    )


def _line_problem(line: int, reason: str) -> ImportProblem:
    return problem(f"line {line}", "line", reason)


def _by_line(problems: list[ImportProblem], translation: CrontabTranslation) -> list[ImportProblem]:
    """The import's problems named by crontab line instead of the document's item."""
    lines = {t.name: t.line for t in translation.tasks}
    found = []
    for item in problems:
        match = re.search(r"tasks\[(?:\d+\] ')?([^'\]]*)", item.item)
        line = lines.get(match.group(1)) if match else None
        label = f"line {line}" if line is not None else item.item
        found.append(problem(label, item.field, item.problem))
    return found
