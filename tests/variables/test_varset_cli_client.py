"""`almanac varset` and `client.variable_sets` against a live server: secrets go in, only
their names come out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import LiveServer

from app.client import Almanac

SECRET = "cli-secret-4471"


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    return shared_agent_ready


def _cli(live: LiveServer, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ALMANAC_URL=live.url, ALMANAC_TOKEN=live.token)
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", "varset", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_and_client(agent_ready: LiveServer) -> None:
    made = _cli(agent_ready, "create", "cli-set", "--var", "A=1", "--secret", "S", stdin=SECRET)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["secrets"] == {"S": "set"} and SECRET not in made.stdout
    changed = _cli(agent_ready, "set", "cli-set", "--secret", "T=other", "--description", "d")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout)["secrets"] == {"S": "set", "T": "set"}
    listed = _cli(agent_ready, "list")
    assert listed.returncode == 0 and "cli-set" in listed.stdout
    client = Almanac(url=agent_ready.url, token=agent_ready.token)
    shown = client.variable_sets.get("cli-set")
    assert shown["variables"] == {"A": "1"} and shown["description"] == "d"
    client.variable_sets.update("cli-set", secrets={"S": None})  # T removed, S kept
    assert client.variable_sets.get("cli-set")["secrets"] == {"S": "set"}
    made_by_client = client.variable_sets.create("client-set", secrets={"K": SECRET})
    assert SECRET not in json.dumps(made_by_client)
    client.variable_sets.delete("client-set")
    assert _cli(agent_ready, "delete", "cli-set").returncode == 0
    assert "cli-set" not in _cli(agent_ready, "list", "--json").stdout
