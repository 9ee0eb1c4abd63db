"""`almanac backup` while a real server runs a burst of runs, and `almanac restore` of it into
a server that shows every run that had finished; what restore refuses."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from server_process import ServerProcess, almanac
from support import drop_postgres_database, fresh_postgres_database, wait_for

from app.bootstrap import alembic_config

BURST = 12
TERMINAL = {"SUCCESS", "FAILED", "TERMINATED", "SKIPPED"}

pytestmark = pytest.mark.timeout(480)  # two server starts and a burst, on a busy machine


def _finished(http_runs: list[dict[str, object]]) -> dict[int, str]:
    return {int(str(r["id"])): str(r["status"]) for r in http_runs if r["status"] in TERMINAL}


def test_a_backup_taken_during_a_burst_restores_every_finished_run(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    backup = tmp_path / "backups" / "almanac.db"
    try:
        server.wait_for_agent()
        with server.client() as http:
            tid = http.post(
                "/tasks", json={"name": "burst", "command": "echo run $ALMANAC_RUN_ID"}
            ).json()["tid"]

            def force_all() -> None:
                with server.client() as own:
                    for _ in range(BURST):
                        assert own.post(f"/tasks/{tid}/run").status_code in (200, 201)

            forcing = threading.Thread(target=force_all)
            forcing.start()

            def runs() -> list[dict[str, object]]:
                page = http.get("/runs", params={"task": tid, "page_size": 500}).json()
                return list(page["items"])

            wait_for(lambda: len(_finished(runs())) >= 3, timeout=60)
            finished_before = _finished(runs())
            made = almanac("backup", "-o", str(backup), "--data-dir", str(server.data_dir))
            assert made.returncode == 0, made.stderr
            assert "secret.key" in made.stdout
            forcing.join(timeout=60)
            wait_for(lambda: len(_finished(runs())) == BURST, timeout=240)

            refused = almanac("restore", str(backup), "--data-dir", str(server.data_dir))
            assert refused.returncode == 1
            assert "a server is running" in refused.stderr
    finally:
        server.stop()
    assert backup.stat().st_mode & 0o777 == 0o600

    restored = almanac("restore", str(backup), "--data-dir", str(server.data_dir))
    assert restored.returncode == 0, restored.stderr
    assert list(server.data_dir.glob("almanac.db.before-restore-*"))

    again = ServerProcess(server.data_dir).start()
    try:
        with again.client() as http:
            items = http.get("/runs", params={"task": tid, "page_size": 500}).json()["items"]
            shown = {int(r["id"]): r["status"] for r in items}
            for run_id, status in finished_before.items():
                assert shown.get(run_id) == status == "SUCCESS"
                logs = http.get(f"/runs/{run_id}/logs", params={"stream": "stdout"}).json()
                assert logs["lines"] == [f"run {run_id}"]
    finally:
        again.stop()


def test_restore_refuses_what_is_not_an_almanac_database(tmp_path: Path) -> None:
    text_file = tmp_path / "notes.db"
    text_file.write_text("hello")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE things (id INTEGER)")
    data = tmp_path / "data"
    for path, says in ((text_file, "not a SQLite database"), (other, "not an Almanac database")):
        refused = almanac("restore", str(path), "--data-dir", str(data))
        assert refused.returncode == 1
        assert says in refused.stderr
    assert not (data / "almanac.db").exists()


def test_restore_upgrades_an_older_schema_to_this_version(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    command.upgrade(alembic_config(f"sqlite:///{old}"), "0009")
    data = tmp_path / "data"
    restored = almanac("restore", str(old), "--data-dir", str(data))
    assert restored.returncode == 0, restored.stderr
    assert "schema 0009" in restored.stdout
    with sqlite3.connect(data / "almanac.db") as db:
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert version == head != "0009"


@pytest.mark.postgres
def test_a_postgres_backup_is_a_pg_dump_that_pg_restore_reads(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("the PostgreSQL client tools are not installed")
    url = fresh_postgres_database(postgres_admin_url)
    try:
        dump = tmp_path / "almanac.dump"
        made = almanac("backup", "-o", str(dump), "--database-url", url)
        assert made.returncode == 0, made.stderr
        assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
        listed = subprocess.run(
            ["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True
        )
        assert "TABLE public run " in listed.stdout
        assert "TABLE public alembic_version " in listed.stdout
        refused = almanac("restore", str(dump), "--database-url", url)
        assert refused.returncode == 1 and "pg_restore" in refused.stderr
    finally:
        drop_postgres_database(postgres_admin_url, url)
