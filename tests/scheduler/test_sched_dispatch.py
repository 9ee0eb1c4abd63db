"""Choosing an agent: target, labels, Docker, free slots; and the reason when none fits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event

from app.db.engine import session_scope
from app.db.runs import create_run, get_run
from app.domain.placement import AgentSlot
from app.domain.placer import choose_agent
from app.domain.states import RunStatus, TriggerKind
from app.scheduler.dispatch import dispatch_pending

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _slot(
    name: str, *, running: int = 0, max_runs: int | None = None, docker: bool = False, **labels: str
) -> AgentSlot:
    return AgentSlot(name=name, labels=labels, max_runs=max_runs, running=running, docker=docker)


@pytest.mark.parametrize(
    ("spec", "agents", "expected"),
    [
        ({"target": "b"}, [_slot("a"), _slot("b", running=5)], "b"),
        ({"target": "c"}, [_slot("a")], "waiting for agent c to be online"),
        ({}, [], "waiting for an online agent"),
        ({}, [_slot("a", running=2), _slot("b", running=1)], "b"),
        ({"labels": {"gpu": "yes"}}, [_slot("a"), _slot("b", gpu="yes")], "b"),
        (
            {"labels": {"gpu": "yes"}},
            [_slot("a")],
            "waiting for an online agent with labels gpu=yes",
        ),
        ({"image": "img"}, [_slot("a"), _slot("b", docker=True)], "b"),
        ({"image": "img"}, [_slot("a")], "waiting for an online agent with Docker"),
        ({}, [_slot("a", running=1, max_runs=1)], "waiting for a free slot: a has no free slot"),
    ],
)
def test_choose_agent(spec: dict[str, object], agents: list[AgentSlot], expected: str) -> None:
    choice = choose_agent(spec, agents)
    assert (choice if isinstance(choice, str) else choice.name) == expected


def test_dispatch_marks_trigger_and_records_why_others_wait(engine: Engine) -> None:
    with session_scope(engine) as session:
        ids = [
            create_run(
                session,
                at=NOW,
                status=RunStatus.ACTIVE,
                trigger_kind=TriggerKind.MANUAL,
                spec={"command": "true", "target": target},
            ).id
            or 0
            for target in ("a1", "nowhere")
        ]
    with session_scope(engine) as session:
        sends = dispatch_pending(session, now=NOW, agents=[_slot("a1")])
    assert [(agent, message.run_id) for agent, message in sends] == [("a1", ids[0])]
    with session_scope(engine) as session:
        sent, waiting = get_run(session, ids[0]), get_run(session, ids[1])
    assert sent.status == RunStatus.TRIGGER.value and sent.agent == "a1"
    assert waiting.status == RunStatus.ACTIVE.value
    assert waiting.reason == "waiting for agent nowhere to be online"


def test_a_pass_over_runs_that_still_wait_writes_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        for _ in range(5):
            create_run(
                session,
                at=NOW,
                status=RunStatus.ACTIVE,
                trigger_kind=TriggerKind.MANUAL,
                spec={"command": "true", "target": "nowhere"},
            )
    with session_scope(engine) as session:
        dispatch_pending(session, now=NOW, agents=[_slot("a1")])  # records why they wait
    writes: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(engine) as session:
            assert dispatch_pending(session, now=NOW, agents=[_slot("a1")]) == []
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert writes == []
