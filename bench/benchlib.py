"""What the benchmark scripts share: a free port, the admin login, percentiles."""

from __future__ import annotations

import socket
import time

import httpx

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
