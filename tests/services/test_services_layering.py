"""The rooms hold: the web pages reach data only through app/services (no table, no query,
no HTTP to their own API), and the services import nothing of the rooms above them."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def _imports(path: Path) -> list[tuple[str, tuple[str, ...], bool]]:
    """(module, names, only for type checking) of every import in the file."""
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if test is not None and "TYPE_CHECKING" in ast.unparse(test):
            typing_only.update(id(inner) for inner in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = tuple(alias.name for alias in node.names)
            found.append((node.module, names, id(node) in typing_only))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, (), id(node) in typing_only))
    return found


def _web_modules() -> list[Path]:
    return sorted((APP / "web").rglob("*.py"))


def test_no_web_module_reads_tables_or_queries() -> None:
    offenders = [
        f"{path.relative_to(APP)}: {module} {names}"
        for path in _web_modules()
        for module, names, typing_only in _imports(path)
        if (module == "app.db.tables" and not typing_only)
        or (module.startswith("sqlmodel") and "select" in names)
        or (module.startswith("sqlalchemy") and "select" in names)
    ]
    assert offenders == []


def test_no_web_module_calls_its_own_api_over_http() -> None:
    offenders = [
        f"{path.relative_to(APP)}: {module}"
        for path in _web_modules()
        for module, _, _ in _imports(path)
        if module.split(".")[0] in ("httpx", "requests") or module == "fastapi.testclient"
    ]
    assert offenders == []


def test_no_web_module_runs_a_query_on_a_session() -> None:
    offenders = [
        f"{path.relative_to(APP)}: {needle}"
        for path in _web_modules()
        for needle in ("session.exec(", "session.get(", "session.execute(", "select(")
        if needle in path.read_text()
    ]
    assert offenders == []


def test_services_import_no_room_above_them() -> None:
    offenders = [
        f"{path.relative_to(APP)}: {module}"
        for path in sorted((APP / "services").rglob("*.py"))
        for module, _, _ in _imports(path)
        if module.split(".")[:2] in (["app", "api"], ["app", "web"], ["app", "server"])
    ]
    assert offenders == []
