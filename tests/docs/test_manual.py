"""The user manual builds with `mkdocs build --strict` (a broken link or a page missing from
the nav fails), and its tutorial's commands are the README tour's, which
tests/ops/test_readme_tour.py runs against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_the_manual_builds_strictly(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    for page in ("index.html", "operations/backups/index.html", "tutorials/first-task/index.html"):
        assert (tmp_path / page).is_file(), page


def test_the_first_task_tutorial_is_the_tested_tour() -> None:
    readme = (ROOT / "README.md").read_text()
    tour = readme.split("## Five-minute tour", 1)[1].split("\n## ", 1)[0]
    tutorial = (ROOT / "docs" / "tutorials" / "first-task.md").read_text()
    assert _sh_blocks(tutorial) == _sh_blocks(tour) != []
