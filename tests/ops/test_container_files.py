"""The Dockerfile and compose.yaml, checked in seconds without building (tests/ops/
test_containers.py builds and starts them, outside the default run): every path the Dockerfile
copies exists and is not ignored by .dockerignore, its base images are build arguments whose
defaults compose passes on unchanged, the commands it and the compose file run are real
`almanac` commands, and the compose file has PostgreSQL, a server and two draining agents."""

from __future__ import annotations

import fnmatch
import re
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
    # Base images: build arguments (a local image where no registry is), the usual defaults.
    defaults = dict(rest.split("=", 1) for word, rest in steps if word == "ARG" and "=" in rest)
    assert defaults["PYTHON_IMAGE"] == "python:3.11-slim"
    assert defaults["NODE_IMAGE"] == "node:20-slim"
    bases = [rest.split()[0] for word, rest in steps if word == "FROM"]
    assert bases == ["${NODE_IMAGE}", "${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    entrypoint = next(rest for word, rest in steps if word == "ENTRYPOINT")
    command = next(rest for word, rest in steps if word == "CMD")
    assert yaml.safe_load(entrypoint) == ["almanac"]
    _accepts(yaml.safe_load(command))


def _default(value: str) -> str:
    """`${NAME:-default}` → default (compose's substitution where NAME is unset)."""
    match = re.fullmatch(r"\$\{\w+:-([^}]+)\}", value)
    assert match, value
    return match.group(1)


def test_compose_runs_postgres_a_server_and_two_draining_agents() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert _default(services["db"]["image"]).startswith("postgres:")
    server = services["server"]
    build = server["build"]
    assert (ROOT / build["context"] / "Dockerfile").is_file()
    dockerfile_args = dict(
        rest.split("=", 1) for word, rest in _instructions() if word == "ARG" and "=" in rest
    )
    assert {k: _default(v) for k, v in build["args"].items()} == dockerfile_args
    assert server["environment"]["ALMANAC_DATABASE_URL"].startswith("postgresql://")
    assert server["depends_on"]["db"]["condition"] == "service_healthy"
    _accepts(server["command"])
    agents = [name for name in services if name.startswith("agent-")]
    assert len(agents) == 2
    for name in agents:
        agent = services[name]
        assert (agent["image"], agent["build"]) == (server["image"], build)
        command = agent["command"]
        _accepts(command)
        assert "--drain" in command
        token = command[command.index("--token-file") + 1]
        (secret,) = agent["secrets"]
        assert token == f"/run/secrets/{secret}"
        assert compose["secrets"][secret]["file"].startswith("./secrets/")
    for volume in {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}:
        assert volume in compose["volumes"]
