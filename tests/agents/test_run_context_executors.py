"""The start frame a dispatched run gets (placeholders expanded, ALMANAC_* set), run by the
real process executor and by the Docker executor: each param one argument, same context."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from support import require

from app.agents.executors.base import RunSpec
from app.agents.executors.docker import DockerExecutor, docker_available
from app.agents.executors.process import ProcessExecutor
from app.db.tables import Run
from app.domain.placeholders import PlaceholderContext
from app.domain.states import RunStatus, TriggerKind
from app.protocol.frames import StartRun
from app.scheduler.dispatch import start_message
from tests.agents.test_docker_executor import IMAGE, RecordingSink, finish

EVIL = "; rm -rf / #"
COMMAND = (
    "sh -c 'echo $#' argv0 ${param.who} ${business_date+1b:%d.%m.%Y}; "
    'echo "$ALMANAC_BUSINESS_DATE|$ALMANAC_TRIGGER_TIME|$ALMANAC_TASK|$ALMANAC_GROUP|'
    '$ALMANAC_GROUP_RUN_ID|$ALMANAC_INSTANCE|$ALMANAC_PARAM_WHO|$GREETING"'
)
EXPECTED = b"2\n2026-03-06|2026-03-06T22:00:00+00:00|load|nightly|17|prod|; rm -rf / #|hi load\n"


def _start(run_id: int, image: str | None) -> StartRun:
    spec: dict[str, Any] = {"command": COMMAND, "image": image, "env": {"GREETING": "hi ${task}"}}
    run = Run(
        id=run_id,
        attempt=1,
        status=RunStatus.ACTIVE,
        trigger_kind=TriggerKind.SCHEDULE,
        trigger_time=datetime(2026, 3, 6, 22, 0, tzinfo=UTC),
        group_run_id=17,
        instance="prod",
        spec=spec,
        business_date=date(2026, 3, 6),  # a Friday: +1b is Monday 9 March
        params={"who": EVIL},
    )
    context = PlaceholderContext(
        business_date=date(2026, 3, 6),
        task="load",
        group="nightly",
        run_id=run_id,
        params={"who": EVIL},
    )
    return start_message(run, None, context)


def _spec(start: StartRun, tmp_path: Path) -> RunSpec:
    return RunSpec(
        run_id=start.run_id,
        attempt=start.attempt,
        command=start.command,
        output_dir=tmp_path / "out",
        image=start.image,
        env=start.env,
    )


async def test_the_process_executor_runs_the_expanded_start(tmp_path: Path) -> None:
    start = _start(901, None)
    sink = RecordingSink()
    execution = await ProcessExecutor().start(_spec(start, tmp_path), sink)
    outcome = await execution.wait()
    assert outcome.exit_code == 0, sink.text("stderr")
    assert sink.text("stdout") == EXPECTED


@pytest.mark.docker
async def test_the_docker_executor_runs_the_same_start(tmp_path: Path) -> None:
    require("docker", docker_available(), "no Docker engine answered a ping")
    start = _start(902_000 + (id(tmp_path) % 1000), IMAGE)
    executor = DockerExecutor(stop_grace_seconds=1, pull_timeout=20)
    try:
        sink = RecordingSink()
        execution = await executor.start(_spec(start, tmp_path), sink)
        outcome = await finish(execution)
    finally:
        executor.close()
    assert outcome.exit_code == 0, sink.text("stderr")
    assert sink.text("stdout") == EXPECTED
