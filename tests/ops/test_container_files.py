"""The Dockerfile and compose.yaml, checked without building (no image registry is reachable
where the tests run, so `FROM python:3.11-slim` cannot be pulled): every path the Dockerfile
copies exists and is not ignored by .dockerignore, the commands it and the compose file run are
real `almanac` commands, and the compose file has PostgreSQL, a server and two draining agents."""

from __future__ import annotations

import fnmatch
import shlex
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from app.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _ignored(path: str) -> bool:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()]
    return any(p and fnmatch.fnmatch(path, p) for p in patterns if not p.startswith("#"))


def _accepts(args: list[str]) -> None:
    """`almanac ARGS --help` parses: the options exist."""
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, (args, result.output)


def test_the_dockerfile_copies_paths_that_exist_and_runs_real_commands() -> None:
    steps = _instructions()
    copied = [rest for word, rest in steps if word == "COPY" and not rest.startswith("--from")]
    assert copied
    for rest in copied:
        *sources, _target = shlex.split(rest)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
            assert not _ignored(source), f"COPY {source}: excluded by .dockerignore"
    assert [rest for word, rest in steps if word == "FROM"][-1] == "python:3.11-slim"
    entrypoint = next(rest for word, rest in steps if word == "ENTRYPOINT")
    command = next(rest for word, rest in steps if word == "CMD")
    assert yaml.safe_load(entrypoint) == ["almanac"]
    _accepts(yaml.safe_load(command))


def test_compose_runs_postgres_a_server_and_two_draining_agents() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    server = services["server"]
    assert (ROOT / server["build"] / "Dockerfile").is_file()
    assert server["environment"]["ALMANAC_DATABASE_URL"].startswith("postgresql://")
    assert server["depends_on"]["db"]["condition"] == "service_healthy"
    _accepts(server["command"])
    agents = [name for name in services if name.startswith("agent-")]
    assert len(agents) == 2
    for name in agents:
        agent = services[name]
        assert agent["image"] == server["image"]
        command = agent["command"]
        _accepts(command)
        assert "--drain" in command
        token = command[command.index("--token-file") + 1]
        (secret,) = agent["secrets"]
        assert token == f"/run/secrets/{secret}"
        assert compose["secrets"][secret]["file"].startswith("./secrets/")
    for volume in {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}:
        assert volume in compose["volumes"]
