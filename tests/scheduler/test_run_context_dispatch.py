"""Run context through the stepped loops: a scheduled run's business date is its local date,
the start frame carries the expanded command and the ALMANAC_* environment, a param stays
one shell word in a real process, a re-run keeps its params, a missing value fails the run."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from app.db.engine import session_scope
from app.db.policies import save as save_policy
from app.db.run_commands import apply
from app.db.runs import create_run, get_run, task_spec
from app.db.sealing import box_of
from app.db.tables import Calendar, DependencyEdge, Run, Task, TaskGroup, User
from app.db.variable_set_tables import VariableSet
from app.db.variable_sets import PINNED
from app.domain import run_commands as c
from app.domain import run_spec
from app.domain.run_policy import RunPolicy
from app.domain.states import RunStatus, TriggerKind
from app.env_secrets import EnvValues
from app.scheduler.group_runs import start_group_run
from app.scheduler.planner import plan_tasks
from app.services.actor import Actor
from app.services.run_controls import rerun
from tests.scheduler.test_stepped_runs import World
from tests.scheduler.test_stepped_runs import world as world

EVIL = "; rm -rf /"


def _task(world: World, schedule: dict[str, object], command: str, **fields: object) -> int:
    with session_scope(world.engine) as session:
        task = Task(name="ctx", command=command, schedule=schedule, target="fake", **fields)
        session.add(task)
        session.flush()
        plan_tasks(session, [task], now=world.clock.now())
        return task.id or 0


def _shell(command: str) -> str:
    """What a real shell prints running `command` (as the process executor runs it)."""
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=True)
    return done.stdout


def _operator() -> Actor:
    return Actor(User(id=1, username="op", role="operator", password_hash="x", instances=["*"]))


async def test_a_new_york_run_at_2330_has_its_local_date_and_sees_its_context(
    world: World,
) -> None:
    world.at(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    params = [
        {"name": "region", "type": "string", "default": EVIL},
        {"name": "n", "type": "integer", "default": 3},
    ]
    schedule = {"kind": "times", "times": ["23:30"], "timezone": "America/New_York"}
    command = "sh -c 'echo $#' argv0 ${param.region} ${business_date-1b:%Y%m%d} ${task}"
    _task(world, schedule, command, params=params, env={"DAY": "${business_date}"})
    agent = world.agent()
    await agent.connect()
    # 23:30 in New York on 2 March is 04:30 UTC on 3 March.
    due = world.at(datetime(2026, 3, 3, 4, 30, tzinfo=UTC))
    run_id = world.fire()
    run = world.run(run_id)
    assert run.business_date == date(2026, 3, 2)
    assert run.params == {"region": EVIL, "n": 3}

    assert await world.scheduler.dispatch_once(due) == 1
    await agent.settle()
    [start] = agent.starts
    assert start.env["ALMANAC_BUSINESS_DATE"] == "2026-03-02"
    assert start.env["ALMANAC_TRIGGER_TIME"] == "2026-03-03T04:30:00+00:00"
    assert start.env["ALMANAC_TASK"] == "ctx"
    assert start.env["ALMANAC_GROUP"] == "" and start.env["ALMANAC_INSTANCE"] == "default"
    assert start.env["ALMANAC_PARAM_REGION"] == EVIL and start.env["ALMANAC_PARAM_N"] == "3"
    assert start.env["DAY"] == "2026-03-02"
    # The command as sent, run by a real shell: the param is one argument, the date went
    # back one business day (Monday 2 March -> Friday 27 February).
    assert _shell(start.command) == "3\n"
    echoed = _shell(start.command.replace("sh -c 'echo $#' argv0", "printf '%s|'"))
    assert echoed == f"{EVIL}|20260227|ctx|"

    world.at(due + timedelta(seconds=5))
    await agent.finish(run_id, exit_code=1)
    assert world.run(run_id).status == "FAILED"
    # A re-run keeps the values; one with new values takes them (and keeps the others).
    rerun(world.engine, actor=_operator(), now=world.clock.now(), run_id=run_id)
    assert world.run(run_id).params == {"region": EVIL, "n": 3}
    assert await world.scheduler.dispatch_once(world.clock.now()) == 1
    await agent.settle()
    assert agent.starts[-1].env["ALMANAC_PARAM_REGION"] == EVIL
    await agent.finish(run_id, exit_code=0, attempt=2)
    rerun(world.engine, actor=_operator(), now=world.clock.now(), run_id=run_id, params={"n": 9})
    again = world.run(run_id)
    assert again.params == {"region": EVIL, "n": 9} and again.spec["params"]["n"] == 9
    assert again.business_date == date(2026, 3, 2)


async def test_a_placeholder_without_a_value_fails_the_run_at_dispatch(world: World) -> None:
    params = [{"name": "since", "type": "date", "required": True}]
    schedule = {"kind": "times", "times": ["09:00"], "timezone": "UTC"}
    _task(world, schedule, "echo ${param.since}", params=params)
    agent = world.agent()
    await agent.connect()
    due = world.at(world.clock.now() + timedelta(hours=1))
    run_id = world.fire()
    assert await world.scheduler.dispatch_once(due) == 0
    run = world.run(run_id)
    assert run.status == "FAILED" and "param.since" in (run.reason or "")
    assert agent.starts == []


async def test_an_approved_run_still_runs_its_approved_spec_expanded(world: World) -> None:
    params = [{"name": "p", "type": "string", "default": "x"}]
    _task(world, {"kind": "times", "times": ["09:00"]}, "echo ${param.p}", params=params)
    agent = world.agent()
    await agent.connect()
    with session_scope(world.engine) as session:
        task = session.exec(select(Task)).one()
        run = create_run(
            session,
            at=world.clock.now(),
            status=RunStatus.PENDING_APPROVAL,
            trigger_kind=TriggerKind.MANUAL,
            spec=task_spec(task),
            task=task,
            params={"p": "y z"},
        )
        run_id = run.id or 0
    with session_scope(world.engine) as session:
        pending = get_run(session, run_id)
        assert pending.spec["params"] == {"p": "y z"}  # the approver sees the values
        approve = c.Approve("approved by op", run_spec.digest(pending.spec))
        apply(session, pending, approve, now=world.clock.now())
    assert await world.scheduler.dispatch_once(world.clock.now()) == 1
    await agent.settle()
    assert agent.starts[-1].command == "echo 'y z'"
    with session_scope(world.engine) as session:
        assert session.exec(select(Run.status).where(Run.id == run_id)).one() == "RUNNING"


async def test_a_downstream_reads_its_upstreams_result_and_the_group_values(world: World) -> None:
    with session_scope(world.engine) as session:
        calendar = Calendar(name="ctx-cal", skip_weekends=True, extra_dates=["2026-03-06"])
        group = TaskGroup(
            name="nightly",
            schedule={"kind": "cron", "cron": "0 6 * * *", "calendar": "ctx-cal"},
            params=[{"name": "region", "type": "string", "default": "EU"}],
        )
        session.add_all([calendar, group])
        session.flush()
        extract = Task(name="extract", command="true", group_id=group.id, target="fake")
        load = Task(
            name="load",
            command="load ${upstream.extract.file} ${param.region} ${business_date-1b}",
            group_id=group.id,
            target="fake",
        )
        session.add_all([extract, load])
        session.flush()
        session.add(DependencyEdge(group_id=group.id or 0, upstream_id=extract.id or 0,
                                   downstream_id=load.id or 0))  # fmt: skip
        session.flush()
        group_run = start_group_run(
            session,
            group,
            now=world.clock.now(),
            kind=TriggerKind.MANUAL,
            business_date=date(2026, 3, 9),  # a Monday; Friday the 6th is closed
            params={"region": "US"},
        )
        group_run_id = group_run.id
    agent = world.agent()
    await agent.connect()
    assert await world.scheduler.dispatch_once(world.clock.now()) == 1
    await agent.settle()
    [first] = agent.starts
    assert first.env["ALMANAC_GROUP"] == "nightly"
    assert first.env["ALMANAC_GROUP_RUN_ID"] == str(group_run_id)
    assert first.env["ALMANAC_PARAM_REGION"] == "US"
    # What its results file said, reported with its end.
    await agent.finish(first.run_id, exit_code=0, results={"file": "/data/a b.csv"})
    assert await world.scheduler.dispatch_once(world.clock.now()) == 1
    await agent.settle()
    second = agent.starts[-1]
    assert second.command == "load '/data/a b.csv' US 2026-03-05"
    assert second.env["ALMANAC_BUSINESS_DATE"] == "2026-03-09"


async def test_a_fan_out_reads_its_upstreams_once_a_pass_and_each_run_gets_them(
    world: World,
) -> None:
    """Twelve downstreams of one root placed in one pass: each start carries the root's
    result, and the pass reads the group's edges and the group run's runs once, not once a
    run (a fan-out of 200 spent most of its dispatch time there)."""
    from sqlalchemy import event

    with session_scope(world.engine) as session:
        group = TaskGroup(name="fan")
        session.add(group)
        session.flush()
        root = Task(name="root", command="true", group_id=group.id, target="fake")
        leaves = [
            Task(name=f"leaf-{i}", command="use ${upstream.root.file}", group_id=group.id,
                 target="fake")
            for i in range(12)
        ]  # fmt: skip
        session.add_all([root, *leaves])
        session.flush()
        session.add_all(
            DependencyEdge(group_id=group.id or 0, upstream_id=root.id or 0,
                           downstream_id=leaf.id or 0)
            for leaf in leaves
        )  # fmt: skip
        session.flush()
        start_group_run(session, group, now=world.clock.now(), kind=TriggerKind.MANUAL)
    agent = world.agent()
    await agent.connect()
    assert await world.scheduler.dispatch_once(world.clock.now()) == 1
    await agent.settle()
    [first] = agent.starts
    await agent.finish(first.run_id, exit_code=0, results={"file": "/data/x.csv"})
    statements: list[str] = []

    def seen(conn: object, cursor: object, sql: str, *args: object) -> None:
        statements.append(sql)

    event.listen(world.engine, "before_cursor_execute", seen)
    try:
        assert await world.scheduler.dispatch_once(world.clock.now()) == 12
    finally:
        event.remove(world.engine, "before_cursor_execute", seen)
    await agent.settle()
    fanned = agent.starts[1:]
    assert len(fanned) == 12
    assert {start.command for start in fanned} == {"use /data/x.csv"}
    assert all(start.env["ALMANAC_UPSTREAM_ROOT_FILE"] == "/data/x.csv" for start in fanned)
    edges = [sql for sql in statements if "FROM dependency_edge" in sql]
    outputs = [sql for sql in statements if "FROM run_output" in sql]
    assert len(edges) <= 2, edges  # once for the pass (the settling may read them too)
    assert len(outputs) == 1, outputs


def _data_policy(world: World) -> None:
    """The default instance may mount /data and below, nothing else."""
    with session_scope(world.engine) as session:
        policy = RunPolicy.from_dict({"users": ["*"], "mounts": ["/data"]})
        save_policy(session, "instance", "default", policy, by="admin", at=world.clock.now())


async def test_a_param_that_climbs_out_of_an_allowed_mount_is_refused_at_dispatch(
    world: World,
) -> None:
    """The policy judged `/data/${param.sub}` at save; filled in with `../etc` it is /etc."""
    _data_policy(world)
    params = [{"name": "sub", "type": "string", "default": "../etc"}]
    schedule = {"kind": "times", "times": ["09:00"], "timezone": "UTC"}
    _task(world, schedule, "ls /in", params=params, mounts=["/data/${param.sub}:/in:ro"])
    agent = world.agent()
    await agent.connect()
    due = world.at(world.clock.now() + timedelta(hours=1))
    run_id = world.fire()
    assert await world.scheduler.dispatch_once(due) == 0
    run = world.run(run_id)
    assert run.status == "FAILED" and run.agent is None and run.allocation is None
    assert run.reason == (
        "refused by the policy of instance 'default': mounts[0]: "
        "'/data/../etc:/in:ro' (placeholders filled in): host path '/etc' is not allowed"
    )
    assert agent.starts == []
    # What it held is free again: a harmless value of the same task starts at once.
    with session_scope(world.engine) as session:
        task = session.exec(select(Task)).one()
        create_run(session, at=due, status=RunStatus.ACTIVE, trigger_kind=TriggerKind.MANUAL,
                   spec=task_spec(task), task=task, params={"sub": "in/2026"})  # fmt: skip
    assert await world.scheduler.dispatch_once(due) == 1
    await agent.settle()
    assert agent.starts[-1].mounts == ["/data/in/2026:/in:ro"]


async def test_a_climb_that_lands_back_inside_still_fails(world: World) -> None:
    """`..` after a symlink climbs where normalising does not see it: a value may not add
    one."""
    _data_policy(world)
    params = [{"name": "sub", "type": "string", "default": "link/../data"}]
    schedule = {"kind": "times", "times": ["09:00"], "timezone": "UTC"}
    _task(world, schedule, "true", params=params, mounts=["/data/${param.sub}:/in"])
    agent = world.agent()
    await agent.connect()
    due = world.at(world.clock.now() + timedelta(hours=1))
    run_id = world.fire()
    assert await world.scheduler.dispatch_once(due) == 0
    reason = world.run(run_id).reason or ""
    assert reason.startswith("refused by the policy of instance 'default': mounts[0]: ")
    assert reason.endswith("climbs with '..'")


async def test_a_value_that_adds_a_colon_to_a_mount_is_refused_without_any_policy(
    world: World,
) -> None:
    """No mount policy at all: a value still may not move the target or drop `:ro`."""
    params = [{"name": "sub", "type": "string", "default": "x:/etc:rw"}]
    schedule = {"kind": "times", "times": ["09:00"], "timezone": "UTC"}
    _task(world, schedule, "true", params=params, mounts=["/data/${param.sub}:/in:ro"])
    agent = world.agent()
    await agent.connect()
    due = world.at(world.clock.now() + timedelta(hours=1))
    run_id = world.fire()
    assert await world.scheduler.dispatch_once(due) == 0
    run = world.run(run_id)
    assert run.status == "FAILED" and run.allocation is None
    assert run.reason == (
        "refused: mounts[0]: '/data/x:/etc:rw:/in:ro' (placeholders filled in): a value added a ':'"
    )
    assert agent.starts == []


async def test_a_start_frame_carries_the_filled_in_mounts_and_workdir(world: World) -> None:
    """Placeholders in mounts and workdir reach the agent filled in: the date, a param. A
    mount written outside the policy (only an admin may save one) is not judged again."""
    _data_policy(world)
    world.at(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    params = [{"name": "region", "type": "string", "default": "eu west"}]
    schedule = {"kind": "times", "times": ["09:00"], "timezone": "UTC"}
    _task(
        world,
        schedule,
        "pwd",
        params=params,
        mounts=[
            "/data/${param.region}/${business_date-1}:/in:ro",
            "/data/out:/out",
            "/srv/${task}:/srv",
        ],
        workdir="/work/${task}/${business_date-1b}",
    )
    agent = world.agent()
    await agent.connect()
    due = world.at(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday
    world.fire()
    assert await world.scheduler.dispatch_once(due) == 1
    await agent.settle()
    [start] = agent.starts
    assert start.mounts == ["/data/eu west/2026-03-01:/in:ro", "/data/out:/out", "/srv/ctx:/srv"]
    assert start.workdir == "/work/ctx/2026-02-27"


async def test_a_group_runs_mounts_and_workdir_take_its_group_and_upstream_results(
    world: World,
) -> None:
    """In a group run, `${group}`, `${business_date}` and an upstream's result fill in a
    downstream's mount and workdir as the start frame carries them; the policy judges the
    filled-in mount (here inside /data) and lets it go."""
    _data_policy(world)
    with session_scope(world.engine) as session:
        group = TaskGroup(name="etl")
        session.add(group)
        session.flush()
        extract = Task(name="extract", command="true", group_id=group.id, target="fake")
        load = Task(
            name="load",
            command="true",
            group_id=group.id,
            target="fake",
            workdir="/work/${group}/${business_date}",
            mounts=["/data/${upstream.extract.folder}:/in:ro"],
        )
        session.add_all([extract, load])
        session.flush()
        session.add(DependencyEdge(group_id=group.id or 0, upstream_id=extract.id or 0,
                                   downstream_id=load.id or 0))  # fmt: skip
        session.flush()
        start_group_run(session, group, now=world.clock.now(), kind=TriggerKind.MANUAL,
                        business_date=date(2026, 3, 9))  # fmt: skip
    agent = world.agent()
    await agent.connect()
    assert await world.scheduler.dispatch_once(world.clock.now()) == 1
    await agent.settle()
    [first] = agent.starts
    assert first.workdir is None and first.mounts == []
    await agent.finish(first.run_id, exit_code=0, results={"folder": "eu/2026-03-09"})
    assert await world.scheduler.dispatch_once(world.clock.now()) == 1
    await agent.settle()
    second = agent.starts[-1]
    assert second.workdir == "/work/etl/2026-03-09"
    assert second.mounts == ["/data/eu/2026-03-09:/in:ro"]


async def test_a_variable_set_of_the_group_reaches_its_tasks_command_and_environment(
    world: World,
) -> None:
    """A set attached to the group only: its task's `${var.NAME}` is filled in (one shell
    word), `ALMANAC_VAR_NAME` is set for plain and secret variables alike, and the run's
    stored spec holds them pinned and sealed, never in plain text."""
    secret = "vs-secret-4471"
    with session_scope(world.engine) as session:
        sealed = box_of(session).seal(EnvValues(secrets={"TOKEN": secret}))
        session.add(VariableSet(name="eu", variables={"REGION": "eu west"}, secrets_sealed=sealed))
        group = TaskGroup(name="vars", variable_sets=["eu"])
        session.add(group)
        session.flush()
        session.add(
            Task(name="use", command="load ${var.REGION}", group_id=group.id, target="fake")
        )
        session.flush()
        start_group_run(session, group, now=world.clock.now(), kind=TriggerKind.MANUAL)
    agent = world.agent()
    await agent.connect()
    assert await world.scheduler.dispatch_once(world.clock.now()) == 1
    await agent.settle()
    [start] = agent.starts
    assert start.command == "load 'eu west'"
    assert start.env["ALMANAC_VAR_REGION"] == "eu west"
    assert start.env["ALMANAC_VAR_TOKEN"] == secret
    run = world.run(start.run_id)
    assert run.status == "RUNNING"
    assert secret not in json.dumps(run.spec) and "eu west" not in json.dumps(run.spec)
    with session_scope(world.engine) as session:
        pinned = box_of(session).open(str(run.spec[PINNED]))
    assert pinned.env == {"REGION": "eu west"} and pinned.secrets == {"TOKEN": secret}
