"""The tutorials' commands, walked as written: each tutorial's `sh` blocks, taken from its
page, run in one bash against a real `almanac server` (only the URL and the token are this
test's), and what they print is checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_process import ROOT, ServerProcess, almanac_env

pytestmark = pytest.mark.timeout(300)
TUTORIALS = ROOT / "docs" / "tutorials"


def sh_blocks(page: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", (TUTORIALS / page).read_text(), flags=re.S)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    started = ServerProcess(tmp_path_factory.mktemp("tutorials") / "data").start()
    try:
        started.wait_for_agent()
        yield started
    finally:
        started.stop()


def walk(server: ServerProcess, page: str, folder: Path) -> str:
    """Run the page's blocks in order in one shell, with `almanac` on the PATH."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    launcher = bin_dir / "almanac"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} -m app.cli.main "$@"\n')
    launcher.chmod(0o755)
    env = almanac_env(
        ALMANAC_URL=server.url,
        ALMANAC_TOKEN=server.token,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    script = "set -euo pipefail\n" + "\n".join(sh_blocks(page))
    walked = subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert walked.returncode == 0, walked.stdout[-3000:] + walked.stderr[-3000:]
    return walked.stdout


def test_the_nightly_group_tutorial(server: ServerProcess, tmp_path: Path) -> None:
    out = walk(server, "nightly-group.md", tmp_path)
    assert re.search(r"2026-12-25 .*Christmas", out) and re.search(r"2026-12-31 .*closed", out)
    assert "nightly-extract" in out and "nightly-load" in out
    times = re.findall(r"^\d{4}-\d\d-\d\dT02:00:00\+0[12]:00$", out, flags=re.M)
    assert len(times) == 5
    assert re.search(r"group run \d+: SUCCESS", out)
    assert out.count("[SUCCESS]") >= 4


def test_the_agents_on_other_hosts_tutorial(server: ServerProcess, tmp_path: Path) -> None:
    out = walk(server, "agents-on-other-hosts.md", tmp_path)
    assert (tmp_path / "build-1.token").stat().st_mode & 0o077 == 0
    assert re.search(r"build-1 .*online", out)
    assert out.count("dispatched to build-1") == 2
    assert out.count("SUCCESS") >= 2
    unit = (tmp_path / "almanac-agent-build-1.service").read_text()
    assert "--drain" in unit and "User=almanac" in unit
    assert "is draining" in out


def test_the_backfill_tutorial(server: ServerProcess, tmp_path: Path) -> None:
    out = walk(server, "backfill.md", tmp_path)
    assert "dry run: 12 dates run, 7 skipped" in out
    assert "holiday: Epiphany" in out
    assert re.search(r"^12$", out, flags=re.M)  # the second plan: every date already succeeded
