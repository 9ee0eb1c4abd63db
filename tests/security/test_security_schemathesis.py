"""Schemathesis against /api/v1/openapi.json with an admin token: whatever it sends, no answer
is a 5xx and none breaks its documented schema. Bounded: a few examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine, update
from sqlmodel import col
from support import migrated_sqlite, seed_user

from app.db.engine import make_engine, session_scope
from app.db.tables import ApiToken, User
from app.server import create_app
from app.settings import Settings


@dataclass
class Target:
    app: FastAPI
    engine: Engine
    token: str

    def restore_admin(self) -> None:
        """Undo what a generated request may have done to the caller itself."""
        with session_scope(self.engine) as session:
            session.exec(
                update(User)
                .where(col(User.username) == "admin")
                .values(
                    role="superadmin",
                    instances=["*"],
                    disabled=False,
                    must_change_password=False,
                    failed_logins=0,
                    locked_until=None,
                )
            )
            session.exec(
                update(ApiToken)
                .where(col(ApiToken.user_id) == 1)
                .values(revoked_at=None, expires_at=None)
            )


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    url = migrated_sqlite(data_dir / "almanac.db")
    engine = make_engine(url)
    token = seed_user(engine)
    settings = Settings(data_dir=data_dir, database_url=url, local_agent=False)
    yield Target(create_app(settings, engine=engine, start_scheduler=False), engine, token)
    engine.dispose()


@pytest.fixture(scope="module")
def api_schema(target: Target) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi(  # the description needs a login too
        "/api/v1/openapi.json", target.app, headers={"Authorization": f"Bearer {target.token}"}
    )


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the OpenAPI document (no database needed)."""
    app = create_app(Settings(database_url="sqlite://", local_agent=False), start_scheduler=False)
    return [
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    ]


Operation = APIOperation[Any, Any, Any, Any]


def _operation(schema: schemathesis.BaseSchema, method: str, path: str) -> Operation:
    for result in schema.get_all_operations():
        if isinstance(result, Ok) and (result.ok().method.upper(), result.ok().path) == (
            method,
            path,
        ):
            return result.ok()
    pytest.skip(f"schemathesis cannot load {method} {path} from the document")


@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_5xx_and_no_response_off_its_schema(
    method: str, path: str, target: Target, api_schema: schemathesis.BaseSchema
) -> None:
    operation = _operation(api_schema, method, path)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=10,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case[Any]) -> None:
        target.restore_admin()
        case.call_and_validate(
            headers={"Authorization": f"Bearer {target.token}"},
            checks=[not_a_server_error, response_schema_conformance],
        )

    check()
