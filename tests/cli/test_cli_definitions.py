"""`almanac plan -f` / `almanac apply -f` on a folder in a real git checkout, and
`almanac export --format yaml`, against a live server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import Result
from support import LiveServer
from typer.testing import CliRunner

from app.cli.main import cli

GROUP = """\
format: almanac/v1
groups:
  - name: cli-etl
    schedule: {kind: cron, cron: "0 2 * * *"}
"""
TASKS = """\
format: almanac/v1
tasks:
  - {name: cli-a, command: "echo a", group: cli-etl}
  - {name: cli-b, command: "echo b", group: cli-etl}
dependencies:
  - {group: cli-etl, upstream: cli-a, downstream: cli-b}
"""


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-C",
            str(folder),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_plan_apply_and_yaml_export(live_server: LiveServer, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"ALMANAC_URL": live_server.url, "ALMANAC_TOKEN": live_server.token, "COLUMNS": "200"}

    def almanac(*args: str) -> Result:
        return runner.invoke(cli, list(args), env=env)

    checkout = tmp_path / "repo"
    (checkout / "defs" / "etl").mkdir(parents=True)
    (checkout / "defs" / "etl" / "group.yaml").write_text(GROUP)
    (checkout / "defs" / "etl" / "tasks.yml").write_text(TASKS)
    (checkout / "defs" / "README.md").write_text("not a definition")
    _git(checkout, "init", "-q", "-b", "main")
    _git(checkout, "add", ".")
    _git(checkout, "commit", "-q", "-m", "etl")
    head = _git(checkout, "rev-parse", "HEAD")
    folder = str(checkout / "defs")

    planned = almanac("plan", "-f", folder)
    assert planned.exit_code == 0, planned.output
    assert planned.stdout.splitlines()[0] == "+ group cli-etl  (etl/group.yaml)"
    assert planned.stdout.endswith("Plan: 4 to create, 0 to update, 0 to delete, 0 unchanged.\n")
    as_json = json.loads(almanac("plan", "-f", folder, "--json").stdout)
    assert (as_json["source"], as_json["commit"]) == ("file:defs", head)

    applied = almanac("apply", "-f", folder)
    assert applied.exit_code == 0, applied.output
    assert "Applied as file:defs." in applied.stdout
    again = almanac("apply", "-f", folder)
    assert again.stdout.startswith("No changes.\n")

    exported = almanac("export", "--format", "yaml")
    assert exported.exit_code == 0
    (tmp_path / "all.yaml").write_text(exported.stdout)
    assert "name: cli-etl" in exported.stdout
    replan = almanac("plan", "-f", str(tmp_path / "all.yaml"), "--source", "file:defs")
    assert replan.stdout.startswith("No changes.\n"), replan.stdout

    (checkout / "defs" / "etl" / "tasks.yml").write_text(TASKS + "  - {group: cli-etl\n")
    refused = almanac("apply", "-f", folder)
    assert refused.exit_code == 1
    assert "etl/tasks.yml:8:1" in refused.stdout
    assert "nothing was changed" in refused.stdout
