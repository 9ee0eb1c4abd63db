"""The Python client against a real server with its built-in agent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import LiveServer

from app.client import Almanac


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The server this test process shares (tests/conftest.py): these tests keep to
    their own names."""
    return shared_agent_ready


@pytest.fixture
def client(agent_ready: LiveServer) -> Iterator[Almanac]:
    with Almanac(agent_ready.url, agent_ready.token) as api:
        yield api


@pytest.fixture
def agent_name(client: Almanac) -> str:
    return str(next(a["name"] for a in client.agents() if a["connected"]))
