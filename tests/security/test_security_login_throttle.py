"""The login throttle under real concurrency (a real uvicorn server on SQLite and PostgreSQL):
every parallel try is counted, a right password inside a burst of wrong ones waits like
them, a source address is locked while the account is only slowed; common passwords are
refused."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from sqlalchemy import Engine, func
from sqlmodel import col, select
from support import free_port, seed_user, wait_for

import app.security
from app.api.routes.auth import THROTTLE
from app.clock import FrozenClock
from app.db.engine import make_engine, session_scope
from app.db.login_tables import LoginSource
from app.db.tables import ApiToken, User
from app.security import password_problem, source_key
from app.server import create_app
from app.settings import Settings

GOOD = "Correct-Horse-9"
WRONG = "Wrong-Horse-9"
HERE, ELSEWHERE = "127.0.0.1", "127.0.0.2"  # two client addresses on the loopback


@dataclass
class Server:
    url: str
    engine: Engine
    clock: FrozenClock
    admin: httpx.Client

    def client(self, source: str = HERE) -> httpx.Client:
        """A client whose connections leave from `source` (what the server sees)."""
        return httpx.Client(
            base_url=self.url + "/api/v1",
            timeout=60,
            transport=httpx.HTTPTransport(local_address=source),
        )

    def login(self, password: str, source: str = HERE, username: str = "kim") -> httpx.Response:
        with self.client(source) as http:
            return http.post("/auth/token", json={"username": username, "password": password})

    def account(self) -> User:
        with session_scope(self.engine) as session:
            return session.exec(select(User).where(User.username == "kim")).one()

    def source_failures(self, source: str = HERE) -> int:
        with session_scope(self.engine) as session:
            row = session.get(LoginSource, source)
            return row.failures if row else 0

    def kim_tokens(self) -> int:
        with session_scope(self.engine) as session:
            kim = self.account()
            return int(
                session.exec(
                    select(func.count())
                    .select_from(ApiToken)
                    .where(col(ApiToken.user_id) == kim.id)
                ).one()
            )


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real (small) argon2 cost: the check takes milliseconds, as a real one does, so
    parallel tries overlap for real."""
    monkeypatch.setattr(
        app.security, "_hasher", PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
    )


@pytest.fixture
def server(database_url: str, tmp_path: Path, clock: FrozenClock, hasher: None) -> Iterator[Server]:
    """A real uvicorn server in a thread, on the app's injected (frozen) clock."""
    settings = Settings(
        host=HERE, port=free_port(), data_dir=tmp_path, local_agent=False, database_url=database_url
    )
    engine = make_engine(database_url)
    token = seed_user(engine)
    app_ = create_app(settings, engine=engine, clock=clock, start_scheduler=False)
    uv = uvicorn.Server(
        uvicorn.Config(app_, host=HERE, port=settings.port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    url = f"http://{HERE}:{settings.port}"
    admin = httpx.Client(
        base_url=url + "/api/v1", timeout=60, headers={"Authorization": f"Bearer {token}"}
    )
    wait_for(lambda: uv.started)
    assert (
        admin.post(
            "/users", json={"username": "kim", "password": GOOD, "must_change_password": False}
        ).status_code
        == 201
    )
    try:
        yield Server(url, engine, clock, admin)
    finally:
        admin.close()
        uv.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


def _burst(count: int, attempt: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """`count` tries released together by a barrier, each on its own connection."""
    barrier = threading.Barrier(count)

    def one(i: int) -> httpx.Response:
        barrier.wait()
        return attempt(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_forty_parallel_wrong_logins_are_all_counted(server: Server) -> None:
    answers = _burst(40, lambda _: server.login(WRONG))
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {401, 429}, statuses
    checked = statuses[401]
    # Each try is counted before its password is checked: exactly `slow_after` pass the
    # gate before it closes (the clock stands still), and none of them is lost.
    assert checked == THROTTLE.slow_after, statuses
    assert server.account().failed_logins == checked
    assert server.source_failures() == checked  # the refused tries were never checked
    assert {r.headers["retry-after"] for r in answers if r.status_code == 429} == {"1"}


def test_the_right_password_inside_a_burst_waits_like_the_wrong_ones(server: Server) -> None:
    with ThreadPoolExecutor(39) as pool:
        wrong = [pool.submit(server.login, WRONG) for _ in range(39)]
        # The wrong ones are counted when they pass the gate, before their hash is checked.
        wait_for(lambda: server.account().failed_logins >= THROTTLE.slow_after)
        right = server.login(GOOD)
        answers = [f.result() for f in wrong]
    assert Counter(r.status_code for r in answers) == {
        401: THROTTLE.slow_after,
        429: 39 - THROTTLE.slow_after,
    }
    assert right.status_code == 429, right.text
    assert "account" in right.json()["detail"]
    assert server.kim_tokens() == 0
    # Slowed, not locked: after the wait the holder gets in.
    wait = int(right.headers["retry-after"])
    assert wait <= THROTTLE.max_delay
    server.clock.advance(timedelta(seconds=wait))
    assert server.login(GOOD).status_code == 200
    assert server.account().failed_logins == 0


def test_a_source_is_locked_while_the_account_is_only_slowed(server: Server) -> None:
    for _ in range(THROTTLE.source_limit):
        server.clock.advance(timedelta(seconds=THROTTLE.max_delay))  # the account's wait
        assert server.login(WRONG).status_code == 401
    locked = server.login(GOOD)  # the right password, from the address that failed
    assert locked.status_code == 429 and "address" in locked.json()["detail"]
    assert int(locked.headers["retry-after"]) == THROTTLE.source_lock_seconds
    # Another address: the account asks it to wait its (capped) delay, then lets it in.
    slowed = server.login(GOOD, ELSEWHERE)
    assert slowed.status_code == 429 and "account" in slowed.json()["detail"]
    server.clock.advance(timedelta(seconds=int(slowed.headers["retry-after"])))
    assert server.login(GOOD, ELSEWHERE).status_code == 200
    assert server.login(GOOD).status_code == 429  # the locked address stays locked
    audit = server.admin.get("/audit", params={"action": "auth.lockout"}).json()["items"]
    assert [(e["target_kind"], e["target_id"], e["actor"]) for e in audit] == [
        ("source", HERE, None)
    ]
    server.clock.advance(timedelta(seconds=THROTTLE.source_lock_seconds))
    assert server.login(GOOD).status_code == 200


def test_failures_on_many_accounts_lock_the_source(server: Server) -> None:
    """Spraying names from one address: unknown names count on the address too."""
    for i in range(THROTTLE.source_limit):
        assert server.login(WRONG, username=f"guess-{i}").status_code == 401
    assert server.login(GOOD).status_code == 429
    assert server.login(GOOD, ELSEWHERE).status_code == 200
    assert server.account().failed_logins == 0


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("Password123!", "carol"),
        ("P@ssw0rd123", "carol"),
        ("QWERTYUIOP1", "carol"),
        ("Carol-2024-01", "carol"),
        ("carol.summer2025", "carol"),
        ("Welcome2026", "carol"),
    ],
)
def test_common_passwords_are_refused(password: str, username: str) -> None:
    problem = password_problem(password, username)
    assert problem is not None and "common" in problem


def test_common_passwords_are_refused_on_create_change_and_reset(server: Server) -> None:
    admin = server.admin
    created = admin.post("/users", json={"username": "carol", "password": "Password123!"})
    assert created.status_code == 422
    assert created.json()["detail"].startswith("password:") and "common" in created.json()["detail"]
    assert admin.get("/users/carol").status_code == 404  # nothing changed
    named = admin.post("/users", json={"username": "carol", "password": "Carol-12345"})
    assert named.status_code == 422 and "username" in named.json()["detail"]
    reset = admin.post("/users/kim/password", json={"password": "Qwerty123456"})
    assert reset.status_code == 422 and reset.json()["detail"].startswith("password:")
    token = server.login(GOOD).json()["access_token"]
    with server.client() as http:
        changed = http.post(
            "/auth/password",
            headers={"Authorization": f"Bearer {token}"},
            json={"current_password": GOOD, "password": "Iloveyou123!"},
        )
    assert changed.status_code == 422 and changed.json()["detail"].startswith("password:")
    assert server.login(GOOD).status_code == 200  # the password is unchanged


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::9", "2001:db8:1:2::/64"),
        (None, "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_the_source_of_a_try_is_its_address_or_ipv6_64(address: str | None, key: str) -> None:
    assert source_key(address) == key
