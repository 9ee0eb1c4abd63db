"""Output files end to end: a real server, its built-in agent, real processes and containers.

A run's files reach the server before its end is reported; they are listed with their sizes
and digests, downloaded one by one or as a zip, per attempt, through the API and the CLI, and
no request can reach any other file.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from support import LiveServer, almanac_cli, require, wait_for

from app.agents.executors.docker import docker_available

IMAGE = "almanac-test-busybox:latest"
_names = itertools.count(1)


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The server this test process shares (tests/conftest.py): these tests keep to
    their own names."""
    return shared_agent_ready


def run_task(http: httpx.Client, command: str, **fields: Any) -> int:
    task = http.post("/tasks", json={"name": f"out-{next(_names)}", "command": command, **fields})
    assert task.status_code == 201, task.text
    run = http.post(f"/tasks/{task.json()['tid']}/run")
    assert run.status_code == 201, run.text
    return int(run.json()["id"])


def wait_end(
    http: httpx.Client, run_id: int, status: str = "SUCCESS", attempt: int = 1, timeout: float = 60
) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        run = http.get(f"/runs/{run_id}").json()
        done = run["status"] in ("SUCCESS", "FAILED", "TERMINATED") and run["attempt"] == attempt
        return dict(run) if done else None

    run = dict(wait_for(ended, timeout=timeout))
    assert run["status"] == status, run
    return run


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def http(agent_ready: LiveServer) -> Iterator[httpx.Client]:
    with agent_ready.client() as client:
        yield client


WRITER = """
cd "$ALMANAC_OUTPUT_DIR"
echo "report of run $ALMANAC_RUN_ID" > report.txt
mkdir -p plots/2026
head -c 700000 /dev/urandom > plots/2026/blob.bin
cp plots/2026/blob.bin {copy}
: > empty.txt
printf 'x' > 'name with spaces #1.txt'
ln -s /etc/passwd passwd-link
ln -s / root-link
mkfifo a-fifo
echo done
"""


def test_files_are_listed_downloaded_and_zipped_as_the_run_left_them(
    http: httpx.Client, agent_ready: LiveServer, tmp_path: Path
) -> None:
    copy = tmp_path / "blob-copy.bin"
    run_id = run_task(http, WRITER.format(copy=copy))
    run = wait_end(http, run_id)
    blob = copy.read_bytes()

    # The files are there as soon as the end is: they are sent before the final state.
    listing = http.get(f"/runs/{run_id}/outputs")
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert (body["run"], body["attempt"]) == (run_id, 1)
    report = f"report of run {run_id}\n".encode()
    expected = {
        "empty.txt": b"",
        "name with spaces #1.txt": b"x",
        "plots/2026/blob.bin": blob,
        "report.txt": report,
    }
    assert [(f["name"], f["size"], f["sha256"]) for f in body["outputs"]] == [
        (name, len(data), sha(data)) for name, data in sorted(expected.items())
    ]
    assert body["total_size"] == sum(len(d) for d in expected.values())

    for name, data in expected.items():
        response = http.get(f"/runs/{run_id}/outputs/{quote(name)}")
        assert response.status_code == 200, (name, response.text)
        assert response.content == data
        assert response.headers["content-type"] == "application/octet-stream"
        assert "attachment" in response.headers["content-disposition"]

    with http.stream("GET", f"/runs/{run_id}/outputs.zip") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        archive = b"".join(response.iter_bytes())
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        assert sorted(zipped.namelist()) == sorted(expected)
        assert {n: zipped.read(n) for n in zipped.namelist()} == expected

    # Stored where the design says, and nothing that was a link or a FIFO.
    stored = agent_ready.settings.data_dir / "outputs" / str(run_id) / "1"
    assert (stored / "plots" / "2026" / "blob.bin").read_bytes() == blob
    assert not any(p.is_symlink() for p in stored.rglob("*"))
    assert run["status"] == "SUCCESS"


def test_no_request_reaches_a_file_outside_the_run(
    http: httpx.Client, agent_ready: LiveServer
) -> None:
    run_id = run_task(http, 'echo safe > "$ALMANAC_OUTPUT_DIR/ok.txt"')
    wait_end(http, run_id)
    assert (agent_ready.settings.data_dir / "almanac.db").exists()  # a tempting target
    base = f"{agent_ready.url}/api/v1/runs/{run_id}/outputs/"
    attempts = [
        "..%2F..%2F..%2Falmanac.db",
        "%2E%2E/%2E%2E/%2E%2E/almanac.db",
        "%2Fetc%2Fpasswd",
        "ok.txt%2F..%2F..%2F..%2F..%2Falmanac.db",
        "..%5C..%5Calmanac.db",
        "missing.txt",
    ]
    headers = {"Authorization": f"Bearer {agent_ready.token}"}
    with httpx.Client(headers=headers) as raw:
        for tail in attempts:
            response = raw.get(base + tail)
            assert response.status_code in (404, 422), (tail, response.status_code)
            assert "detail" in response.json()
            assert b"SQLite" not in response.content
        unsafe = raw.get(base + "%2E%2E/x")
        assert unsafe.status_code == 422 and "name" in unsafe.json()["detail"]
        assert raw.get(base + "ok.txt").content == b"safe\n"
    assert http.get("/runs/999999/outputs").status_code == 404
    assert http.get(f"/runs/{run_id}/outputs", params={"attempt": 0}).status_code == 422


def test_each_attempt_keeps_its_own_files(http: httpx.Client) -> None:
    command = 'echo "attempt $ALMANAC_ATTEMPT" > "$ALMANAC_OUTPUT_DIR/which.txt"; exit 3'
    run_id = run_task(http, command, retry_attempts=1, retry_delay_seconds=0)
    wait_end(http, run_id, "FAILED", attempt=2)
    for attempt in (1, 2):
        listing = http.get(f"/runs/{run_id}/outputs", params={"attempt": attempt}).json()
        assert [f["name"] for f in listing["outputs"]] == ["which.txt"]
        got = http.get(f"/runs/{run_id}/outputs/which.txt", params={"attempt": attempt})
        assert got.text == f"attempt {attempt}\n"
    assert http.get(f"/runs/{run_id}/outputs").json()["attempt"] == 2  # the latest


def test_a_run_without_files_lists_none(http: httpx.Client) -> None:
    run_id = run_task(http, "echo nothing to keep")
    wait_end(http, run_id)
    listing = http.get(f"/runs/{run_id}/outputs").json()
    assert listing["outputs"] == [] and listing["total_size"] == 0
    with zipfile.ZipFile(io.BytesIO(http.get(f"/runs/{run_id}/outputs.zip").content)) as z:
        assert z.namelist() == []


def test_a_container_writes_to_outputs(http: httpx.Client) -> None:
    require("docker", docker_available(), "no Docker engine answered a ping")
    run_id = run_task(
        http,
        'echo "from $HOSTNAME" > /outputs/c.txt; mkdir /outputs/d; seq 1 1000 > /outputs/d/n.txt',
        image=IMAGE,
    )
    wait_end(http, run_id)
    names = [f["name"] for f in http.get(f"/runs/{run_id}/outputs").json()["outputs"]]
    assert names == ["c.txt", "d/n.txt"]
    numbers = http.get(f"/runs/{run_id}/outputs/d/n.txt").text
    assert numbers == "".join(f"{i}\n" for i in range(1, 1001))


def test_the_cli_lists_and_downloads_outputs(
    http: httpx.Client, agent_ready: LiveServer, tmp_path: Path
) -> None:
    run_id = run_task(
        http, 'cd "$ALMANAC_OUTPUT_DIR"; echo one > one.txt; mkdir sub; echo two > sub/two.txt'
    )
    wait_end(http, run_id)

    listed = almanac_cli(agent_ready, "run", "outputs", str(run_id), "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"sub/two.txt"' in listed.stdout and '"size": 4' in listed.stdout

    everything = tmp_path / "all"
    got = almanac_cli(agent_ready, "run", "download", str(run_id), "-o", str(everything))
    assert got.returncode == 0, got.stderr
    assert (everything / "one.txt").read_text() == "one\n"
    assert (everything / "sub" / "two.txt").read_text() == "two\n"

    single = tmp_path / "single"
    got = almanac_cli(
        agent_ready, "run", "download", str(run_id), "--name", "sub/two.txt", "-o", str(single)
    )
    assert got.returncode == 0, got.stderr
    assert [p.relative_to(single).as_posix() for p in single.rglob("*") if p.is_file()] == [
        "sub/two.txt"
    ]

    missing = almanac_cli(
        agent_ready, "run", "download", str(run_id), "--name", "nope.txt", "-o", str(single)
    )
    assert missing.returncode == 1 and "not found" in missing.stderr
