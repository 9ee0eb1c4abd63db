"""What the benchmark scripts share: a free port, the admin login, percentiles, and a
scratch PostgreSQL database."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

# This checkout's `app`, not whichever one the virtual environment was installed from.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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


# ---- what the scale benchmarks share (bench_throughput_curve, bench_concurrency, ...) ----


def machine() -> str:
    """The machine a figure was taken on: cores, CPU model, memory."""
    import psutil

    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores, {model}, {memory:.0f} GiB RAM"


def load() -> str:
    """The load average now (the machine is shared: say how busy it was beside a figure)."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def goal(label: str, value: float, limit: float, unit: str, why: str = "") -> bool:
    """Print a figure against its goal (under `limit`); True when it is met."""
    met = value < limit
    verdict = "met" if met else f"NOT MET{': ' + why if why else ''}"
    print(f"  goal {label}: {value:.1f} {unit} (goal < {limit:g} {unit}) -> {verdict}")
    return met


def start_server(
    data: Path,
    port: int,
    *,
    database_url: str | None = None,
    local_agent: bool = True,
    profile: Path | None = None,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """A real `almanac server` on `port`; under cProfile (written at exit) with `profile`."""
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    command += ["-m", "app.cli.main", "server", "--port", str(port), "--data-dir", str(data)]
    if database_url:
        command += ["--database-url", database_url]
    if not local_agent:
        command.append("--no-local-agent")
    out = open(log, "w") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(
        command,
        env=dict(os.environ, ALMANAC_ADMIN_PASSWORD=PASSWORD),
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    process.send_signal(signal.SIGINT)  # a clean exit, so a profile is written
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def print_profile(path: Path, top: int = 20) -> None:
    """The functions the profiled server spent its time in, by own time and by cumulative."""
    import pstats

    if not path.exists():
        print(f"  (no profile written at {path})")
        return
    stats = pstats.Stats(str(path))
    for key in ("tottime", "cumulative"):
        print(f"  --- server cProfile, top {top} by {key} ---")
        buffer = io.StringIO()
        stats.stream = buffer  # type: ignore[attr-defined]
        stats.sort_stats(key).print_stats(top)
        lines = [ln for ln in buffer.getvalue().splitlines() if ln.strip()]
        start = next((i for i, ln in enumerate(lines) if "ncalls" in ln), 0)
        for line in lines[start : start + top + 1]:
            print("   " + line[:150])


class Sampler:
    """The CPU share (of one core) and RSS of processes, sampled every second on a thread."""

    def __init__(self, *pids: int, children: bool = False) -> None:
        import psutil

        self.processes = [psutil.Process(pid) for pid in pids]
        self.children = children
        self.cpu: list[float] = []
        self.rss: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _all(self) -> list[Any]:
        found = list(self.processes)
        if self.children:
            for process in self.processes:
                with contextlib.suppress(Exception):
                    found += process.children(recursive=True)
        return found

    def _times(self) -> tuple[float, float]:
        cpu = rss = 0.0
        for process in self._all():
            with contextlib.suppress(Exception):
                times = process.cpu_times()
                cpu += times.user + times.system
                rss += process.memory_info().rss
        return cpu, rss

    def _run(self) -> None:
        before, _ = self._times()
        last = time.monotonic()
        while not self._stop.wait(1.0):
            cpu, rss = self._times()
            now = time.monotonic()
            self.cpu.append((cpu - before) / (now - last) * 100)
            self.rss.append(rss / 2**20)
            before, last = cpu, now

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        if not self.cpu:
            return "no samples"
        mean = sum(self.cpu) / len(self.cpu)
        return (
            f"CPU mean {mean:.0f} % of a core (max {max(self.cpu):.0f} %), "
            f"RSS max {max(self.rss):.0f} MiB"
        )
