"""`almanac export` and `almanac import`: files, dry runs, refusals, mirror's question."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from support import LiveServer

Cli = Callable[..., Result]

DOC = {
    "format": "almanac/v1",
    "groups": [{"name": "etl"}],
    "tasks": [
        {"name": "extract", "command": "true", "group": "etl"},
        {"name": "load", "command": "true", "group": "etl"},
        {"name": "solo", "command": "echo solo"},
    ],
    "dependencies": [{"group": "etl", "upstream": "extract", "downstream": "load"}],
}


def test_import_then_export_round_trips(
    almanac: Cli, agent_ready: LiveServer, tmp_path: Path
) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps(DOC))
    dry = almanac("import", str(source), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Would change" in dry.output and "extract" in dry.output
    assert (
        "create 5, update 0, delete 0, unchanged 0 (merge, dry run, nothing changed)" in dry.output
    )
    applied = almanac("import", str(source))
    assert applied.exit_code == 0 and "(merge, applied)" in applied.output
    out = tmp_path / "out.json"
    assert almanac("export", "-o", str(out)).exit_code == 0
    with agent_ready.client() as http:
        assert out.read_text() == http.get("/export").text
    again = almanac("import", str(out), "--json")
    assert json.loads(again.stdout)["summary"]["unchanged"] == 5
    printed = almanac("export")
    assert printed.stdout == out.read_text()


def test_a_refused_file_lists_each_problem(almanac: Cli, tmp_path: Path) -> None:
    bad = {
        **DOC,
        "dependencies": [
            *DOC["dependencies"],  # type: ignore[list-item]
            {"group": "etl", "upstream": "load", "downstream": "extract"},
        ],
    }
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(bad))
    result = almanac("import", str(source))
    assert result.exit_code == 1
    assert "Refused: nothing was changed" in result.output
    assert "dependencies[1] (etl: load -> extract)" in result.output
    assert "dependency cycle: extract -> load -> extract" in result.output
    source.write_text(json.dumps(DOC)[:40])
    truncated = almanac("import", str(source), "--json")
    assert truncated.exit_code == 1
    assert json.loads(truncated.stdout)["errors"][0]["field"] == "body"
    assert almanac("task", "list", "--json").stdout.strip() == "[]"


def test_mirror_asks_before_deleting(almanac: Cli, tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps(DOC))
    assert almanac("import", str(source)).exit_code == 0
    smaller = {**DOC, "tasks": DOC["tasks"][:2]}  # type: ignore[index]
    source.write_text(json.dumps(smaller))
    declined = almanac("import", str(source), "--mode", "mirror", input="n\n")
    assert declined.exit_code == 1 and "Mirror deletes" in declined.output
    assert "solo" in almanac("task", "list").output
    accepted = almanac("import", str(source), "--mode", "mirror", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "solo" not in almanac("task", "list").output
