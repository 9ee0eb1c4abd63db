"""`almanac pool` and `almanac quota` against a real server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from click.testing import Result
from support import LiveServer

Cli = Callable[..., Result]


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    return shared_agent_ready


def test_pool_create_show_set_list_delete(almanac: Cli) -> None:
    name = f"cli-pool-{uuid.uuid4().hex[:6]}"
    made = almanac("pool", "create", name, "2", "--description", "nightly loads")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["slots"] == 2
    shown = almanac("pool", "show", name)
    assert shown.exit_code == 0, shown.output
    assert f"pool {name} (default): 0 of 2 used" in shown.stdout
    changed = almanac("pool", "set", name, "--slots", "5", "--placement", "pack")
    assert json.loads(changed.stdout)["slots"] == 5
    listed = almanac("pool", "list", "--json")
    assert [p["used"] for p in json.loads(listed.stdout) if p["name"] == name] == [0]
    bad = almanac("pool", "create", f"{name}-x", "0")
    assert bad.exit_code == 1 and "slots" in bad.stderr
    assert almanac("pool", "delete", name).exit_code == 0
    missing = almanac("pool", "show", name)
    assert missing.exit_code == 1 and "not found" in missing.stderr


def test_quota_set_list_delete(almanac: Cli) -> None:
    instance = f"cli-team-{uuid.uuid4().hex[:6]}"
    made = almanac("quota", "set", instance, "--max-runs", "4", "--max-gpus", "2")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["max_runs"] == 4
    listed = json.loads(almanac("quota", "list", "--json").stdout)
    assert [(q["max_runs"], q["max_gpus"]) for q in listed if q["instance"] == instance] == [(4, 2)]
    assert almanac("quota", "delete", instance).exit_code == 0
