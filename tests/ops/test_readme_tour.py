"""The README's five-minute tour, walked as written: its shell blocks, taken from README.md,
run in bash against a real `almanac server` (only the port and the password differ)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from server_process import PASSWORD, ROOT, ServerProcess, almanac_env

pytestmark = pytest.mark.timeout(300)


def tour_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Five-minute tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def _newcomer_folder(tmp_path: Path) -> Path:
    """A folder whose `.venv/bin/almanac` is this checkout's CLI, as after scripts/start.sh."""
    folder = tmp_path / "checkout"
    launcher = folder / ".venv" / "bin" / "almanac"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} -m app.cli.main "$@"\n')
    launcher.chmod(0o755)
    return folder


def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    blocks = tour_blocks()
    assert len(blocks) == 2
    server = ServerProcess(tmp_path / "data").start()
    try:
        server.wait_for_agent()
        script = "set -euo pipefail\n" + "\n".join(blocks)
        script = script.replace("127.0.0.1:8080", f"127.0.0.1:{server.port}")
        script = script.replace("<the printed password>", PASSWORD)
        env = almanac_env(
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        )
        walked = subprocess.run(
            ["bash", "-x", "-c", script],
            cwd=_newcomer_folder(tmp_path),
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        server.stop()
    out = walked.stdout
    assert walked.returncode == 0, walked.stdout[-3000:] + walked.stderr[-3000:]
    assert "created task 1 (hello)" in out
    # `task run 1 --wait`: run 2, every state with its time (microseconds).
    assert out.count("run 2 ACTIVE") == 1
    states = re.findall(r"^  ([A-Z_]+) +(\S+)", out, flags=re.M)
    first = [s for s, _ in states[:5]]
    assert first == ["ACTIVE", "TRIGGER", "STARTED", "RUNNING", "SUCCESS"]
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", at) for _, at in states[:5])
    # `run show 2`, `run logs 2`, `run logs 2 --stderr`.
    assert re.search(r"^run 2 SUCCESS  task=hello", out, flags=re.M)
    assert "\nhello\n" in out and "\noops\n" in out
    # The curl part: the second task's run, waited for, shown, and its df output.
    assert '"name":"disk"' in out.replace(" ", "")
    assert "Filesystem" in out
    # The server's own log stays quiet at INFO: no line per maintenance tick or internal call.
    server_log = server.log.read_text()
    assert "apscheduler" not in server_log and "httpx" not in server_log
    assert "agent" in server_log  # it still says what matters (an agent connected)
