"""The `almanac` command driven against a real server with its built-in agent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result
from support import LiveServer
from typer.testing import CliRunner

from app.cli.main import cli

Cli = Callable[..., Result]


@pytest.fixture
def almanac(agent_ready: LiveServer) -> Cli:
    """`almanac(*args, input=None)`: run the CLI as a person would, against the server."""
    runner = CliRunner()
    env = {"ALMANAC_URL": agent_ready.url, "ALMANAC_TOKEN": agent_ready.token, "COLUMNS": "200"}

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), env=env, input=input)

    return invoke


@pytest.fixture
def agent_name(agent_ready: LiveServer) -> str:
    with agent_ready.client() as http:
        return str(next(a["name"] for a in http.get("/agents").json() if a["connected"]))
