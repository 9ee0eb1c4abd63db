"""Login throttling: failures in a row slow an account down (capped, 429 with Retry-After);
an admin's unlock or reset clears the wait."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient
from support import seed_user

import app.security
from app.api.routes.auth import THROTTLE
from app.clock import FrozenClock
from app.db.engine import make_engine
from app.server import create_app
from app.settings import Settings

GOOD = "Correct-Horse-9"


@pytest.fixture
def frozen_api(
    database_url: str, tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setattr(app.security, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    settings = Settings(data_dir=tmp_path, database_url=database_url, local_agent=False)
    engine = make_engine(database_url)
    token = seed_user(engine)
    with TestClient(
        create_app(settings, engine=engine, clock=clock, start_scheduler=False)
    ) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        assert (
            client.post(
                "/api/v1/users",
                json={"username": "kim", "password": GOOD, "must_change_password": False},
            ).status_code
            == 201
        )
        yield client
    engine.dispose()


def _try(api: TestClient, password: str) -> tuple[int, str | None]:
    response = api.post("/api/v1/auth/token", json={"username": "kim", "password": password})
    return response.status_code, response.headers.get("retry-after")


def test_failures_slow_down_and_a_good_password_clears(
    frozen_api: TestClient, clock: FrozenClock
) -> None:
    api = frozen_api
    assert [_try(api, "wrong-pass-1") for _ in range(3)] == [(401, None)] * 3
    assert _try(api, GOOD) == (429, "1")  # even the right password waits its turn
    clock.advance(timedelta(seconds=1))
    assert _try(api, "wrong-pass-1") == (401, None)  # 4th failure: wait 2 s
    assert _try(api, "wrong-pass-1") == (429, "2")
    clock.advance(timedelta(seconds=2))
    assert _try(api, "wrong-pass-1") == (401, None)  # 5th: wait 4 s, never a lock
    assert _try(api, GOOD) == (429, "4")
    clock.advance(timedelta(seconds=4))
    assert _try(api, GOOD) == (200, None)
    assert _try(api, "wrong-pass-1") == (401, None)  # the count started again
    assert _try(api, "wrong-pass-1") == (401, None)


def test_the_wait_grows_to_a_cap_and_the_account_is_never_locked(
    frozen_api: TestClient, clock: FrozenClock
) -> None:
    api = frozen_api
    waits = []
    for _ in range(THROTTLE.source_limit - 1):  # below the limit of the (one) test address
        assert _try(api, "wrong-pass-1") == (401, None)
        until = api.get("/api/v1/users/kim").json()["locked_until"]
        waits.append(
            0
            if until is None
            else round((datetime.fromisoformat(until) - clock.now()).total_seconds())
        )
        if waits[-1]:
            assert _try(api, GOOD) == (429, str(waits[-1]))
        clock.advance(timedelta(seconds=waits[-1]))
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60]
    assert _try(api, GOOD) == (200, None)


def test_an_admin_unlocks_and_a_reset_clears_the_wait(
    frozen_api: TestClient, clock: FrozenClock
) -> None:
    api = frozen_api
    for failures in range(1, 6):
        assert _try(api, "wrong-pass-1") == (401, None)
        clock.advance(timedelta(seconds=THROTTLE.wait_after(failures) if failures < 5 else 0))
    assert _try(api, GOOD) == (429, "4")
    assert api.get("/api/v1/users/kim").json()["locked_until"] is not None
    assert api.patch("/api/v1/users/kim", json={"unlock": True}).status_code == 200
    assert api.get("/api/v1/users/kim").json()["locked_until"] is None
    assert _try(api, GOOD)[0] == 200
    for _ in range(3):
        _try(api, "wrong-pass-1")
    assert _try(api, GOOD)[0] == 429
    assert (
        api.post(
            "/api/v1/users/kim/password",
            json={"password": "Brand-New-Pass-2", "must_change_password": False},
        ).status_code
        == 204
    )
    assert _try(api, "Brand-New-Pass-2")[0] == 200


def test_unknown_and_disabled_accounts_answer_like_a_wrong_password(frozen_api: TestClient) -> None:
    api = frozen_api
    assert _try(api, "wrong-pass-1")[0] == 401
    unknown = api.post("/api/v1/auth/token", json={"username": "nobody", "password": GOOD})
    assert unknown.status_code == 401
    assert api.patch("/api/v1/users/kim", json={"disabled": True}).status_code == 200
    disabled = api.post("/api/v1/auth/token", json={"username": "kim", "password": GOOD})
    assert disabled.status_code == 401
    assert disabled.json()["detail"] == unknown.json()["detail"] == "wrong username or password"
