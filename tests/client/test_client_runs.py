"""RunHandle against a real server: wait, logs, agent, time, outputs, kill, sync_context."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from support import wait_for

from app.client import Almanac


def test_a_forced_run_is_watched_to_its_end(
    client: Almanac, agent_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    task = client.tasks.create(name="hello", command="echo out; echo err >&2")
    assert client.tasks.get(task["tid"])["name"] == "hello"
    assert [t["name"] for t in client.tasks.list() if t["tid"] == task["tid"]] == ["hello"]
    run = client.tasks.run(task["tid"])
    assert run.wait(timeout=60) == "SUCCESS"
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == f"run {run.id}: SUCCESS"
    assert all(line.startswith(f"run {run.id}: ") for line in printed)
    assert len(printed) == len(set(printed))  # each status change once
    assert run.status == "SUCCESS" and run.done
    assert run.get_agent() == agent_name
    seconds = run.get_computation_time()
    assert seconds is not None and seconds >= 0
    assert run.logs() == "out\n" and run.logs("stderr") == "err\n"
    assert client.runs.get(run.id).status == "SUCCESS"


def test_outputs_are_listed_and_downloaded(client: Almanac, tmp_path: Path) -> None:
    run = client.adhoc.submit(
        'mkdir -p "$ALMANAC_OUTPUT_DIR/sub" && echo one > "$ALMANAC_OUTPUT_DIR/a.txt" '
        '&& echo two > "$ALMANAC_OUTPUT_DIR/sub/b.txt"',
        str(next(a["name"] for a in client.agents())),
    )
    assert run.wait(timeout=60, on_change=lambda _s: None) == "SUCCESS"
    names = wait_for(lambda: sorted(o["name"] for o in run.outputs()), timeout=30)
    assert names == ["a.txt", "sub/b.txt"]
    saved = run.download_outputs(dest=tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in saved) == names
    assert (tmp_path / "sub" / "b.txt").read_text() == "two\n"
    [only] = run.download_outputs(["a.txt"], dest=tmp_path / "one")
    assert only.read_text() == "one\n"


def test_kill_ends_a_running_run(client: Almanac) -> None:
    task = client.tasks.create(name="sleeper-1", command="sleep 60")
    run = client.tasks.run(task["tid"])
    wait_for(lambda: run.refresh().status == "RUNNING", timeout=30)
    run.kill()
    assert run.wait(timeout=30, on_change=lambda _s: None) == "TERMINATED"


def test_an_exception_in_sync_context_kills_the_run(client: Almanac) -> None:
    task = client.tasks.create(name="sleeper-2", command="sleep 60")
    run = client.tasks.run(task["tid"])
    with pytest.raises(RuntimeError), run.sync_context():
        wait_for(lambda: run.refresh().status == "RUNNING", timeout=30)
        raise RuntimeError("the caller gave up")
    assert run.wait(timeout=30, on_change=lambda _s: None) == "TERMINATED"


def test_ctrl_c_in_sync_context_kills_the_run(client: Almanac) -> None:
    task = client.tasks.create(name="sleeper-3", command="sleep 60")
    run = client.tasks.run(task["tid"])
    # Python's own Ctrl+C handler, whatever an earlier test in this process left in place
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), run.sync_context():
            wait_for(lambda: run.refresh().status == "RUNNING", timeout=30)
            signal.raise_signal(signal.SIGINT)  # what Ctrl+C delivers
    finally:
        signal.signal(signal.SIGINT, previous)
    assert run.wait(timeout=30, on_change=lambda _s: None) == "TERMINATED"


def test_sync_context_leaves_a_finished_run_alone(client: Almanac) -> None:
    task = client.tasks.create(name="quick", command="true")
    with client.tasks.run(task["tid"]).sync_context() as run:
        assert run.wait(timeout=60, on_change=lambda _s: None) == "SUCCESS"
    assert run.refresh().status == "SUCCESS"
