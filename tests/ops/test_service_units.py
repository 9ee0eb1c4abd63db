"""`almanac agent install` / `almanac server install`: systemd units that systemd itself
accepts (`systemd-analyze verify`, no warning either), with the safety they promise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli.main import cli

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def _verify(unit: Path) -> None:
    if not Path(SYSTEMD_ANALYZE).exists():
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def _token(tmp_path: Path, mode: int = 0o600) -> Path:
    token = tmp_path / "agent.token"
    token.write_text("alm_agent_secret\n")
    token.chmod(mode)
    return token


def test_the_agent_unit_verifies_and_drains_as_an_unprivileged_user(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["agent", "install", "--server", "http://almanac:8080", "--token-file"]
        + [str(_token(tmp_path)), "--name", "worker-1", "--labels", "gpu=yes,zone=a"]
        + ["--output", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    unit = tmp_path / "almanac-agent-worker-1.service"
    assert "systemctl enable --now almanac-agent-worker-1.service" in result.output
    text = unit.read_text()
    _verify(unit)
    lines = set(text.splitlines())
    assert {"User=almanac", "Restart=on-failure", "KillMode=mixed", "NoNewPrivileges=yes"} <= lines
    # The token: a credential only the service's user reads, never on the command line.
    assert f"LoadCredential=agent.token:{tmp_path / 'agent.token'}" in lines
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    assert exec_start.endswith("--token-file %d/agent.token")
    assert "alm_agent_secret" not in text
    assert " --drain " in exec_start and "--labels gpu=yes,zone=a" in exec_start


def _message(output: str) -> str:
    """The error's words on one line (Rich draws it in a box; the box's edges and padding go)."""
    return " ".join(output.replace("\u2502", " ").split())


def test_the_agent_unit_refuses_a_token_others_can_read_and_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rich wraps the error at the terminal's width and folds a long temporary path: a wide
    # terminal (COLUMNS; typer's TERMINAL_WIDTH, read at import, would override it) keeps the
    # message on one line whatever runs the test.
    monkeypatch.setattr("typer.rich_utils.MAX_WIDTH", None)
    wide = {"COLUMNS": "1000"}
    shared = _token(tmp_path, 0o644)
    base = ["agent", "install", "--server", "http://a:8080", "--output", str(tmp_path)]
    refused = CliRunner().invoke(cli, [*base, "--token-file", str(shared)], env=wide)
    assert refused.exit_code == 2, refused.output
    assert f"{shared} can be read by others: chmod 600 {shared}" in _message(refused.output)
    shared.chmod(0o600)
    as_root = CliRunner().invoke(
        cli, [*base, "--token-file", str(shared), "--user", "root"], env=wide
    )
    assert as_root.exit_code == 2, as_root.output
    assert "a service runs as an unprivileged user" in _message(as_root.output)
    assert not list(tmp_path.glob("*.service"))


def test_the_server_unit_verifies(tmp_path: Path) -> None:
    settings = tmp_path / "almanac.env"
    settings.write_text("ALMANAC_DATABASE_URL=postgresql://almanac@db/almanac\n")
    result = CliRunner().invoke(
        cli,
        ["server", "install", "--host", "0.0.0.0", "--port", "9000", "--no-local-agent"]
        + ["--environment-file", str(settings), "--output", str(tmp_path / "s.service")],
    )
    assert result.exit_code == 0, result.output
    unit = tmp_path / "s.service"
    _verify(unit)
    text = unit.read_text()
    assert f"EnvironmentFile={settings}" in text and "User=almanac" in text
    assert "--port 9000 --data-dir /var/lib/almanac --no-local-agent" in text
    assert "postgresql://" not in text
