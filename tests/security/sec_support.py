"""Shared pieces of the security tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user


@dataclass
class Api:
    """A real app on a real database (both backends), no agent, with the superadmin's token."""

    client: TestClient
    engine: Engine
    data_dir: Path

    def token(
        self, username: str, role: str = "viewer", instances: list[str] | None = None
    ) -> dict[str, str]:
        token = seed_user(self.engine, username, role=role, instances=instances)
        return {"Authorization": f"Bearer {token}"}
