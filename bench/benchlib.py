"""What the benchmark scripts share: a free port, the admin login, percentiles, and a
scratch PostgreSQL database."""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

# A benchmark measures the checkout it lives in, not whichever copy of `app` is installed
# (bench/ scripts import benchlib before `app`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ADMIN = os.environ.get(
    "ALMANAC_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "bench-password-1"  # the admin password the benchmark servers are started with


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def login(base: str, timeout: float = 60) -> str:
    """A bearer token for `admin`, waiting for the server to answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.post(
                base + "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
            )
            return str(response.json()["access_token"])
        except (httpx.TransportError, KeyError, ValueError):
            time.sleep(0.1)
    raise SystemExit("server did not start")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def scratch_database() -> str:
    """The URL of a new, empty PostgreSQL database (drop it with `drop_database`)."""
    name = f"almanac_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()
