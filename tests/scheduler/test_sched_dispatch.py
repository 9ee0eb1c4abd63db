"""Choosing an agent: target, labels, Docker, free slots; and the reason when none fits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session

from app.db.engine import session_scope
from app.db.pool_tables import InstanceQuota, Pool
from app.db.runs import create_run, get_run, new_run
from app.domain.placement import AgentSlot
from app.domain.placer import choose_agent
from app.domain.states import RunStatus, TriggerKind
from app.scheduler.admission import load_held
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


def _active(session: Session, spec: dict[str, object], **fields: object) -> int:
    run = create_run(
        session, at=NOW, status=RunStatus.ACTIVE, trigger_kind=TriggerKind.MANUAL, spec=spec
    )
    for name, value in fields.items():
        setattr(run, name, value)
    session.flush()
    return run.id or 0


def test_runs_before_and_after_a_start_in_one_page_keep_order_and_reasons(engine: Engine) -> None:
    """A page is judged from plain rows until a run may start; the rest are claimed then.
    Both halves record why they wait, and a slot taken by the start is seen behind it."""
    with session_scope(engine) as session:
        head = _active(session, {"command": "true", "target": "nowhere"}, reason="stale")
        first = _active(session, {"command": "true", "target": "a1"})
        second = _active(session, {"command": "true", "target": "a1"})
        tail = _active(session, {"command": "true", "target": "nowhere"})
    with session_scope(engine) as session:
        sends = dispatch_pending(session, now=NOW, agents=[_slot("a1", max_runs=1)])
    assert [message.run_id for _, message in sends] == [first]
    with session_scope(engine) as session:
        runs = {i: get_run(session, i) for i in (head, first, second, tail)}
    assert runs[first].status == RunStatus.TRIGGER.value
    assert runs[head].reason == "waiting for agent nowhere to be online"
    assert runs[tail].reason == "waiting for agent nowhere to be online"
    assert runs[second].status == RunStatus.ACTIVE.value
    assert runs[second].reason == "waiting for a free slot: a1 has no free slot"


def test_a_higher_priority_run_is_judged_first(engine: Engine) -> None:
    with session_scope(engine) as session:
        old = _active(session, {"command": "true"})
        urgent = _active(session, {"command": "true"}, priority=5, queue_rank=-5)
    with session_scope(engine) as session:
        sends = dispatch_pending(session, now=NOW, agents=[_slot("a1", max_runs=1)])
    assert [message.run_id for _, message in sends] == [urgent]
    with session_scope(engine) as session:
        assert get_run(session, old).reason == "waiting for a free slot: a1 has no free slot"


def test_one_read_of_the_runs_on_agents_gives_agents_gates_and_tasks(engine: Engine) -> None:
    """Runs without pool or lock are counted by kind towards their instance's usage; those
    with a pool or lock are held one by one (by id); each agent's runs and allocation."""
    lock = [{"name": "db", "mode": "shared"}]
    with session_scope(engine) as session:
        session.add(Pool(name="p", slots=3, instance="team"))
        session.add(InstanceQuota(instance="team", max_runs=10))
        on_a = {"status": RunStatus.RUNNING, "agent": "a", "instance": "team"}
        alloc = {"cores": 2, "memory": 0, "gpus": [0]}
        for gpu in (0, 1):
            _active(
                session,
                {"command": "true", "cpus": 2, "gpu_count": 1},
                allocation={**alloc, "gpus": [gpu]},
                **on_a,
            )
        pooled = _active(session, {"command": "true", "pool": "p", "cpus": 1}, **on_a)
        locked = _active(session, {"command": "true", "locks": lock}, **{**on_a, "agent": "b"})
        _active(session, {"command": "true", "cpus": 8})  # ACTIVE: holds nothing
    with Session(engine) as session:
        held = load_held(session)
    assert held.running == {"a": 3, "b": 1}
    assert held.allocated["a"].gpus == {0, 1} and held.allocated["a"].cores == 4
    assert "b" not in held.allocated
    use = held.gates.usage["team"]
    assert (use.runs, use.cores, use.gpus) == (4, 5.0, 2)
    assert held.gates.pools[("team", "p")].holders == {pooled: 1}
    assert held.gates.locks[("team", "db")].shared == [locked]


def test_many_runs_that_wait_alike_get_their_reason_in_one_write(engine: Engine) -> None:
    with session_scope(engine) as session:
        ids = [_active(session, {"command": "true", "target": "nowhere"}) for _ in range(12)]
        _active(session, {"command": "true", "target": "elsewhere"}, reason="old")
    updates: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(engine) as session:
            assert dispatch_pending(session, now=NOW, agents=[_slot("a1")]) == []
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(updates) == 2  # the twelve alike in one, the odd one out in another
    with session_scope(engine) as session:
        reasons = {get_run(session, i).reason for i in ids}
    assert reasons == {"waiting for agent nowhere to be online"}


def test_a_run_that_fails_at_dispatch_gives_back_its_pool_slot(engine: Engine) -> None:
    """Admitted (its slot counted at once for the runs behind it in the page), then failed on
    a placeholder without a value: it holds nothing, and the run behind it starts, in that
    pass or the next one."""
    with session_scope(engine) as session:
        session.add(Pool(name="p", slots=1))
        broken = _active(session, {"command": "echo ${param.since}", "pool": "p"})
        good = _active(session, {"command": "true", "pool": "p"})
    started = []
    for _ in range(2):
        with session_scope(engine) as session:
            sends = dispatch_pending(session, now=NOW, agents=[_slot("a1")])
        started += [message.run_id for _, message in sends]
    assert started == [good]
    with session_scope(engine) as session:
        assert get_run(session, broken).status == RunStatus.FAILED.value


def test_a_pass_sees_what_its_own_transaction_made_ready(engine: Engine) -> None:
    """The firing loop makes runs ACTIVE and dispatches in one transaction: the plain-row
    reads see the session's changes not yet flushed."""
    with session_scope(engine) as session:
        run = new_run(
            at=NOW, status=RunStatus.ACTIVE, trigger_kind=TriggerKind.MANUAL, spec={"command": "x"}
        )
        session.add(run)
        sends = dispatch_pending(session, now=NOW, agents=[_slot("a1")])
        assert [message.run_id for _, message in sends] == [run.id]
