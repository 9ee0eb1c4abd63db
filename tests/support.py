"""Helpers for tests: required services, fresh PostgreSQL databases, a live server."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher, profiles
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from app.bootstrap import upgrade_database
from app.clock import SystemClock
from app.db.engine import make_engine, session_scope
from app.db.tables import ApiToken, User
from app.security import hash_token, new_token
from app.server import create_app
from app.settings import Settings

REQUIRED = {s.strip() for s in os.environ.get("ALMANAC_REQUIRE_SERVICES", "").split(",") if s}
PG_URL = os.environ.get(
    "ALMANAC_TEST_DATABASE_URL_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/almanac_test"
)
ADMIN_PASSWORD = "test-admin-password-1"
_hashes: dict[str, str] = {}
_CHEAP_HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)


def password_hash(password: str) -> str:
    """A test user's stored hash: argon2 with its cheapest parameters. A hash carries its own
    parameters, so the server's real check verifies it in a millisecond instead of most of a
    second (the default cost, paid at every sign-in); what it checks is unchanged."""
    if password not in _hashes:
        _hashes[password] = _CHEAP_HASHER.hash(password)
    return _hashes[password]


def seed_user(
    engine: Engine,
    username: str = "admin",
    *,
    role: str = "superadmin",
    password: str = ADMIN_PASSWORD,
    instances: list[str] | None = None,
) -> str:
    """Create a user and an API token for it directly; returns the bearer token."""
    token = new_token("alm")
    now = SystemClock().now()
    with session_scope(engine) as session:
        user = User(
            username=username,
            password_hash=password_hash(password),
            role=role,
            instances=instances or ["*"],
            created_at=now,
        )
        session.add(user)
        session.flush()
        session.add(
            ApiToken(
                user_id=user.id or 0, name="test", token_hash=hash_token(token), created_at=now
            )
        )
    return token


@contextlib.contextmanager
def mounted_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A real small file system at `folder` (a tmpfs of `size`, e.g. "5m"), unmounted after.
    Needs root: the test is skipped otherwise."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def require(service: str, available: bool, why: str = "") -> None:
    if available:
        return
    message = f"{service} not available{': ' + why if why else ''}"
    if service in REQUIRED:
        pytest.fail(f"{message} (required by ALMANAC_REQUIRE_SERVICES)")
    pytest.skip(message)


def pg_admin_url() -> str:
    return str(make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False))


def postgres_error(url: str = PG_URL) -> str | None:
    try:
        engine = create_engine(make_url(url).set(database="postgres"))
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any connection failure means "not available"
        return str(exc).splitlines()[0]


def migrations_digest() -> str:
    """Names the schema the migrations make: a template built from other files is never used."""
    digest = hashlib.sha256()
    for path in sorted((Path(__file__).parents[1] / "migrations").rglob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


_sqlite_template: Path | None = None
_postgres_templates: dict[str, str] = {}


def migrated_sqlite(path: Path) -> str:
    """A SQLite database at `path` at the newest migration: a copy of one this test process
    migrated once (migrating costs half a second a test; the copy, a millisecond)."""
    global _sqlite_template
    if _sqlite_template is None:
        folder = Path(tempfile.mkdtemp(prefix="almanac-template-"))
        upgrade_database(f"sqlite:///{folder / 'template.db'}")
        _sqlite_template = folder / "template.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    # The backup API copies the committed pages, WAL included, whatever the journal holds.
    with (
        contextlib.closing(sqlite3.connect(_sqlite_template)) as source,
        contextlib.closing(sqlite3.connect(path)) as target,
    ):
        source.backup(target)
    path.chmod(0o600)
    return f"sqlite:///{path}"


def _postgres_template(admin_url: str) -> str:
    """A migrated database to clone, one per test process: named by its pid, so runs side by
    side never share one; those of processes that are gone are dropped here."""
    if admin_url not in _postgres_templates:
        name = f"almanac_tpl_{migrations_digest()}_{os.getpid()}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for (stale,) in connection.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'almanac_tpl_%'")
            ):
                pid = stale.rsplit("_", 1)[-1]
                if not pid.isdigit() or not Path(f"/proc/{pid}").exists() or stale == name:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = str(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
        upgrade_database(url)
        _postgres_templates[admin_url] = name
    return _postgres_templates[admin_url]


def fresh_postgres_database(admin_url: str, *, migrated: bool = True) -> str:
    """A new database for one test (tests never share rows): migrated to the newest schema
    by cloning a template, or empty."""
    name = f"almanac_t_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_postgres_template(admin_url)}"' if migrated else ""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{template}'))
    admin.dispose()
    return str(make_url(admin_url).set(database=name).render_as_string(hide_password=False))


_reused: dict[str, str] = {}
_template_shape: dict[str, tuple[str, frozenset[str]]] = {}


def reused_postgres_database(admin_url: str) -> str:
    """The database of this test process's PostgreSQL tests: cloned once, emptied after each
    test by `empty_postgres_database` (a clone costs half a second, emptying a tenth)."""
    if admin_url not in _reused:
        _reused[admin_url] = fresh_postgres_database(admin_url)
    return _reused[admin_url]


def empty_postgres_database(admin_url: str, url: str) -> None:
    """Rows gone, sequences back at 1, every session of the test ended; a database whose
    schema a test changed (a migration test going down and up) is cloned afresh instead."""
    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
    admin.dispose()
    expected = _template_shape.get(admin_url) or _shape(_template_url(admin_url))
    _template_shape[admin_url] = expected
    engine = create_engine(url)
    try:
        shape = _shape(url, engine)
        if shape != expected:
            raise LookupError(f"schema changed: {shape[0]} {sorted(shape[1] ^ expected[1])}")
        with engine.begin() as connection:
            # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE replaces every
            # table's files (half a second for thirty tables). Foreign keys are not checked
            # meanwhile (replica role: every table is emptied anyway).
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for table in sorted(shape[1]):
                connection.execute(text(f'DELETE FROM "{table}"'))
            sequences = connection.execute(
                text("SELECT sequence_name FROM information_schema.sequences")
            ).scalars()
            for sequence in list(sequences):
                connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
    except Exception:  # anything odd: a fresh clone, never a half-emptied database
        engine.dispose()
        drop_postgres_database(admin_url, url)
        _reused[admin_url] = fresh_postgres_database(admin_url)
    finally:
        engine.dispose()


def _template_url(admin_url: str) -> str:
    name = _postgres_template(admin_url)
    return str(make_url(admin_url).set(database=name).render_as_string(hide_password=False))


def _shape(url: str, engine: Engine | None = None) -> tuple[str, frozenset[str]]:
    """(migration version, tables other than alembic's) of a database."""
    own = engine or create_engine(url)
    try:
        with own.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            tables = connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version'"
                )
            ).scalars()
            return str(version), frozenset(tables)
    finally:
        if engine is None:
            own.dispose()


def drop_postgres_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A real server (uvicorn in a thread) with its built-in agent as a child process."""

    url: str
    settings: Settings
    engine: Engine
    server: uvicorn.Server
    thread: threading.Thread
    token: str = ""

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + "/api/v1",
            timeout=30,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_live_server(
    data_dir: Path,
    *,
    database_url: str | None = None,
    port: int | None = None,
    local_agent: bool = True,
    **settings_overrides: Any,
) -> LiveServer:
    """`settings_overrides` are more Settings fields, e.g. heartbeat_timeout_seconds=2."""
    fields: dict[str, Any] = {"heartbeat_interval_seconds": 1.0, **settings_overrides}
    data_dir.mkdir(parents=True, exist_ok=True)
    if local_agent and "local_agent_policy" not in fields:
        fields["local_agent_policy"] = as_agent_user_policy(data_dir)
    settings = Settings(
        host="127.0.0.1",
        port=port or free_port(),
        data_dir=data_dir,
        database_url=database_url,
        local_agent=local_agent,
        **fields,
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    sqlite_file = make_url(url).database if url.startswith("sqlite") else None
    if sqlite_file and not Path(sqlite_file).exists():
        migrated_sqlite(Path(sqlite_file))
    upgrade_database(url)
    engine = make_engine(url)
    token = seed_user(engine) if not _has_users(engine) else ""
    app = create_app(settings, engine=engine)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        lifespan="on",
        ws_max_size=64 * 1024 * 1024,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{settings.port}"
    live = LiveServer(url=base, settings=settings, engine=engine, server=server, thread=thread)
    _wait_until_serving(live)
    if not token:  # a restart on an existing database: log in as the person would
        response = httpx.post(
            base + "/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        token = response.json()["access_token"]
    live.token = token
    return live


# `almanac agent` started by a test runs commands that name no user as itself (the test's
# user), not as `nobody`: its spool sits in pytest's private tmp folder, closed to `nobody`.
AS_THE_TEST_USER = ("--default-user", "")


def as_agent_user_policy(folder: Path) -> Path:
    """A policy file for a test agent: commands that name no user run as the agent's own
    (the test's) user, so they may touch the test's files; everything else stays default."""
    path = folder / "test-agent-policy.json"
    path.write_text('{"default_user": null}')
    return path


def _has_users(engine: Engine) -> bool:
    with session_scope(engine) as session:
        return session.exec(select(User.id)).first() is not None


def _wait_until_serving(live: LiveServer) -> None:
    with httpx.Client(timeout=1) as http:
        for _ in range(300):
            if live.server.started:
                try:
                    if http.get(live.url + "/api/v1/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            live.thread.join(timeout=0.05)
    raise RuntimeError("server did not start")


@dataclass(frozen=True)
class CliOutcome:
    returncode: int
    stdout: str
    stderr: str


def almanac_cli(live: LiveServer, *args: str, **env: str) -> CliOutcome:
    """The `almanac` command run in this process (typer's runner) against `live`, with no
    other ALMANAC_ setting: the command's own code without an interpreter start (a second or
    more each, under load). test_e2e_walking_skeleton.py runs it as a real process."""
    from typer.testing import CliRunner

    from app.cli.main import cli

    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ALMANAC_")}
    cleared.update(ALMANAC_URL=live.url, ALMANAC_TOKEN=live.token, **env)
    result = CliRunner().invoke(cli, list(args), env=cleared)
    return CliOutcome(result.exit_code, result.stdout, result.stderr)


def wait_for(predicate: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll a condition of a real system (never a schedule) until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
