"""The package as a user installs it: `python -m build` makes a wheel; the wheel goes into a
fresh virtualenv; `almanac server` from it, with no Node.js on its PATH and no checkout in
sight, serves the UI in Chromium and runs a task on its built-in agent.

Offline on purpose: the wheel is built without build isolation (the project's own setuptools)
and installed with `--no-deps --no-index`; the fresh virtualenv sees the project's installed
dependencies through a path file (a plain path: the project's editable Almanac, which lives
behind a `.pth` hook there, is not activated). Installing the dependencies from PyPI instead
would test PyPI, and take minutes. Borrowing them would hide a dependency the wheel forgot to
declare, so the virtualenv checks (tests/packaging/declared_dependencies.py) that the wheel's
declared requirements, transitively, are installed in versions that satisfy them, and that every
package its code imports comes from one of them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright
from support import free_port, require, wait_for

import app

# Building, installing and starting a server from scratch takes a minute on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ALMANAC_CHROMIUM_PATH") or "/usr/bin/chromium"
NODE_TOOLS = {"node", "nodejs", "npm", "npx", "corepack"}
PASSWORD = "wheel-admin-password-1"


def _build(source: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _path_without_node(folder: Path) -> str:
    """A PATH with every program of ours but Node.js's: links in one folder."""
    folder.mkdir()
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(entry):
            continue
        for program in os.scandir(entry):
            link = folder / program.name
            if program.name in NODE_TOOLS or link.exists() or link.is_symlink():
                continue
            if program.is_file() and os.access(program.path, os.X_OK):
                link.symlink_to(program.path)
    return str(folder)


def _fresh_venv(folder: Path, wheel: Path) -> Path:
    """A virtualenv of the base interpreter with the wheel in it, then the project's
    dependencies on its path (after: pip must not see the project's own Almanac)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    # Away from the checkout and its PYTHONPATH, or pip finds almanac "already installed"
    # there (the build's almanac.egg-info).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
        + ["--no-deps", "--no-index", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=300,
        cwd=folder,
        env=env,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = [p for p in site.getsitepackages() if os.path.isdir(p)]
    (Path(purelib) / "_project_dependencies.pth").write_text("\n".join(deps) + "\n")
    return python


def _clean_env(path: str, home: Path) -> dict[str, str]:
    keep = ("LANG", "LC_ALL", "TZ", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(PATH=path, HOME=str(home), ALMANAC_ADMIN_PASSWORD=PASSWORD)
    return env


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """(the virtualenv's bin folder, an environment without Node.js) with the wheel in it."""
    dist = tmp_path / "dist"
    built = _build(ROOT, dist)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheels = list(dist.glob("almanac-*.whl"))
    assert [w.name for w in wheels] == [f"almanac-{app.__version__}-py3-none-any.whl"]
    assert list(dist.glob("almanac-*.tar.gz")), "the source distribution is built too"

    python = _fresh_venv(tmp_path / "venv", wheels[0])
    bin_dir = python.parent
    path = os.pathsep.join([str(bin_dir), _path_without_node(tmp_path / "bin")])
    env = _clean_env(path, tmp_path)
    yield bin_dir, env


def test_the_build_fails_clearly_without_the_front_end_assets(tmp_path: Path) -> None:
    source = tmp_path / "src"
    skip = shutil.ignore_patterns("vendor", "__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "app", source / "app", ignore=skip)
    shutil.copytree(ROOT / "migrations", source / "migrations", ignore=skip)
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "alembic.ini"):
        shutil.copy2(ROOT / name, source / name)
    built = _build(source, tmp_path / "dist")
    assert built.returncode != 0
    assert "front-end assets missing from app/web/static/vendor/" in built.stdout + built.stderr
    assert not list((tmp_path / "dist").glob("*.whl"))


def test_the_wheel_serves_the_ui_and_runs_a_task_without_node(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    require("chromium", os.path.exists(CHROMIUM))
    bin_dir, env = installed
    assert shutil.which("node", path=env["PATH"]) is None
    assert shutil.which("npm", path=env["PATH"]) is None
    work = tmp_path / "work"  # no checkout here: `app` can only come from the virtualenv
    work.mkdir()

    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import app, app.bootstrap as b; "
         "print(app.__file__); print(b.migrations_folder())"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(p.startswith(str(tmp_path / "venv")) for p in where), where
    declared = subprocess.run(
        [str(bin_dir / "python"), str(ROOT / "tests" / "packaging" / "declared_dependencies.py")],
        cwd=work, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    problems = declared.stdout + declared.stderr
    assert declared.returncode == 0 and not problems, "the wheel's dependencies:\n" + problems
    version = subprocess.run(
        [str(bin_dir / "almanac"), "--version"], cwd=work, env=env, capture_output=True, text=True
    )
    assert version.stdout.strip() == f"almanac {app.__version__}"

    policy = work / "agent-policy.json"  # commands run as the test's user (tmp is private)
    policy.write_text('{"default_user": null}')
    port = free_port()
    server = subprocess.Popen(
        [str(bin_dir / "almanac"), "server", "--port", str(port), "--data-dir", "data"]
        + ["--local-agent-policy", str(policy)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_for(lambda: _health(base), timeout=60)
        assert health["version"] == app.__version__
        token = httpx.post(
            base + "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
        ).json()["access_token"]
        http = httpx.Client(
            base_url=base + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        wait_for(lambda: any(a["status"] == "online" for a in http.get("/agents").json()))
        tid = http.post(
            "/tasks", json={"name": "from-the-wheel", "command": "echo hello from the wheel"}
        ).json()["tid"]
        run_id = http.post(f"/tasks/{tid}/run").json()["id"]
        run = wait_for(
            lambda: (r := http.get(f"/runs/{run_id}").json())["status"] == "SUCCESS" and r,
            timeout=60,
        )
        assert run["exit_code"] == 0
        logs = http.get(f"/runs/{run_id}/logs", params={"stream": "stdout"}).json()
        assert logs["lines"] == ["hello from the wheel"]
        _the_ui_in_chromium(base, run_id)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _health(base: str) -> dict[str, str] | None:
    try:
        response = httpx.get(base + "/api/v1/health", timeout=2)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


def _the_ui_in_chromium(base: str, run_id: int) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(base + f"/task-runs/{run_id}")
            expect(page).to_have_url(re.compile(r"/login\?next="))
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(re.compile(rf"/task-runs/{run_id}$"))
            expect(page.locator("#version")).to_have_text(app.__version__)
            expect(page.locator("main")).to_contain_text("SUCCESS")
            # The vendored front end came with the wheel: htmx and the graph library loaded.
            assert page.evaluate("typeof window.htmx") == "object"
            vendor = httpx.get(base + "/static/vendor/cytoscape.min.js")
            assert vendor.status_code == 200 and len(vendor.content) > 100_000
        finally:
            browser.close()
