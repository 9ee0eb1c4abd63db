"""Definition files as users write them: YAML or JSON, split any way, every problem at once
with file, line and column; export -> apply -> export is identical in both forms."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user

Call = Callable[..., Any]
API = "/api/v1"

GROUP = """\
# The nightly ETL: comments are for people.
format: almanac/v1
groups:
  - name: etl   # one group per file
    schedule:
      kind: times
      times: ["02:00"]
      days: mon-fri
"""

TASKS = """\
format: almanac/v1
tasks:
  - name: extract
    command: echo extract
    group: etl
  - name: load
    command: echo load
    group: etl
    schedule:
      kind: cron
      cron: "61 * * * *"
"""


def test_malformed_yaml_names_file_line_and_column(apply: Call) -> None:
    broken = "format: almanac/v1\ntasks:\n  - name: a\n    command: [unclosed\n"
    response = apply({"good.yaml": GROUP, "bad.yaml": broken})
    assert response.status_code == 400
    [found] = response.json()["errors"]
    assert (found["file"], found["line"]) == ("bad.yaml", 5)
    assert found["column"] == 1
    assert "bad.yaml" in response.json()["detail"]


def test_malformed_json_names_file_line_and_column(apply: Call) -> None:
    response = apply({"a.json": '{"format": "almanac/v1",\n  "tasks": [}\n'})
    assert response.status_code == 400
    [found] = response.json()["errors"]
    assert (found["file"], found["line"], found["column"]) == ("a.json", 2, 13)


def test_every_problem_of_every_file_at_once(apply: Call, api: TestClient) -> None:
    json_tasks = (
        '{"format": "almanac/v1",\n'
        ' "tasks": [\n'
        '   {"name": "extract", "command": "echo again", "group": "etl"},\n'
        '   {"name": "x", "command": "true", "schedule": {"kind": "cron", "cron": "* *"}}\n'
        " ]}\n"
    )
    response = apply({"etl.yaml": GROUP, "tasks.yaml": TASKS, "more.json": json_tasks})
    assert response.status_code == 422, response.text
    found = {(e["file"], e["line"], e["field"]): e["problem"] for e in response.json()["errors"]}
    assert set(found) == {
        ("tasks.yaml", 11, "schedule.cron"),
        ("more.json", 4, "schedule.cron"),
        ("tasks.yaml", 3, "name"),
    }
    duplicate = found[("tasks.yaml", 3, "name")]
    assert duplicate == "duplicate of more.json: tasks[0] 'extract'"
    assert api.get(f"{API}/tasks").json() == []


def test_a_cross_file_reference_and_comments(apply: Call, api: TestClient) -> None:
    fixed = TASKS.replace('"61 * * * *"', '"15 * * * *"')
    response = apply({"etl.yaml": GROUP, "etl-tasks.yaml": fixed}, source="file:defs")
    assert response.status_code == 200, response.text
    group = api.get(f"{API}/groups").json()[0]
    assert group["schedule"]["times"] == ["02:00"]
    assert group["managed_by"] == "file:defs"
    assert group["managed_file"] == "etl.yaml"


@pytest.mark.parametrize(("fmt", "suffix"), [("yaml", "yaml"), ("json", "json")])
def test_export_apply_export_is_identical(
    api: TestClient, apply: Call, fmt: str, suffix: str
) -> None:
    seeded = apply(
        {
            "etl.yaml": GROUP,
            "tasks.yaml": TASKS.replace('"61 * * * *"', '"15 * * * *"'),
            "cal.json": '{"format": "almanac/v1", "calendars": [{"name": "ops", '
            '"extra_dates": ["2026-12-24"]}], "tasks": [{"name": "t", "command": "a: b # c", '
            '"env": {"on": "yes"}, "schedule": {"kind": "once", "at": "2026-12-24T18:00:00"}}]}',
        }
    )
    assert seeded.status_code == 200, seeded.text
    first = api.get(f"{API}/export", params={"format": fmt})
    assert first.status_code == 200
    if fmt == "yaml":
        assert first.headers["content-type"].startswith("application/yaml")
        assert first.text.startswith("format: almanac/v1\n")
    again = apply({f"all.{suffix}": first.text}, source="file:export")
    assert again.status_code == 200, again.text
    assert again.json()["summary"]["create"] == 0
    assert again.json()["summary"]["delete"] == 0
    assert api.get(f"{API}/export", params={"format": fmt}).text == first.text


def test_an_instance_not_granted_refuses_the_whole_set(
    sqlite_engine: Engine, api: TestClient, apply: Call
) -> None:
    token = seed_user(sqlite_engine, "ops", role="admin", instances=["team-a"])
    files = {
        "a.yaml": "format: almanac/v1\ntasks:\n  - {name: a, command: 'true', instance: team-a}\n",
        "b.yaml": "format: almanac/v1\ntasks:\n  - {name: b, command: 'true', instance: team-b}\n",
    }
    body = {"files": [{"path": p, "content": c} for p, c in files.items()]}
    response = api.post(
        f"{API}/definitions/apply", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    [found] = response.json()["errors"]
    assert (found["file"], found["line"], found["field"]) == ("b.yaml", 3, "instance")
    assert found["problem"] == "instance 'team-b' is not granted to you"
    assert api.get(f"{API}/tasks").json() == []


def test_a_viewer_may_not_plan(sqlite_engine: Engine, api: TestClient) -> None:
    token = seed_user(sqlite_engine, "watcher", role="viewer")
    body = {"files": [{"path": "a.yaml", "content": "format: almanac/v1\n"}]}
    for step in ("plan", "apply"):
        response = api.post(
            f"{API}/definitions/{step}", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 403, response.text


def test_the_sync_names_are_not_for_the_cli(apply: Call) -> None:
    response = apply({"a.yaml": "format: almanac/v1\n"}, source="sync:prod")
    assert response.status_code == 422
    assert "source" in response.text


def test_yaml_aliases_that_expand_without_end_are_refused(apply: Call) -> None:
    lines = ["format: almanac/v1", 'a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    response = apply({"bomb.yaml": "\n".join(lines) + "\n"})
    assert response.status_code == 400
    assert "aliases" in response.json()["errors"][0]["problem"]


def test_yaml_anchors_for_shared_values_are_fine(apply: Call, api: TestClient) -> None:
    shared = (
        "format: almanac/v1\n"
        "tasks:\n"
        "  - {name: a, command: 'true', schedule: &nightly {kind: cron, cron: '0 2 * * *'}}\n"
        "  - {name: b, command: 'true', schedule: *nightly}\n"
    )
    assert apply({"shared.yaml": shared}).status_code == 200
    crons = {t["name"]: t["schedule"]["cron"] for t in api.get(f"{API}/tasks").json()}
    assert crons == {"a": "0 2 * * *", "b": "0 2 * * *"}


def test_an_unknown_calendar_is_refused_at_the_line_that_names_it(
    apply: Call, api: TestClient
) -> None:
    uses = (
        "format: almanac/v1\n"
        "tasks:\n"
        "  - name: payroll\n"
        "    command: 'true'\n"
        "    schedule:\n"
        "      kind: cron\n"
        "      cron: '0 6 * * *'\n"
        "      calendar: holidays-fr\n"
    )
    response = apply({"etl.yaml": GROUP, "payroll.yaml": uses})
    assert response.status_code == 422, response.text
    [found] = response.json()["errors"]
    assert (found["file"], found["line"], found["field"]) == (
        "payroll.yaml",
        8,
        "schedule.calendar",
    )
    assert found["problem"] == "unknown calendar 'holidays-fr'"
    assert api.get(f"{API}/tasks").json() == []
    assert api.get(f"{API}/groups").json() == []


def test_a_duplicate_in_one_file_and_a_cycle_in_another_are_named_together(
    apply: Call, api: TestClient
) -> None:
    duplicated = (
        "format: almanac/v1\n"
        "tasks:\n"
        "  - {name: report, command: 'echo r'}\n"
        "  - {name: report, command: 'echo again'}\n"
    )
    cycle = (
        "format: almanac/v1\n"
        "groups:\n"
        "  - {name: etl}\n"
        "tasks:\n"
        "  - {name: extract, command: 'echo e', group: etl}\n"
        "  - {name: load, command: 'echo l', group: etl}\n"
        "dependencies:\n"
        "  - {group: etl, upstream: extract, downstream: load}\n"
        "  - {group: etl, upstream: load, downstream: extract}\n"
    )
    response = apply({"report.yaml": duplicated, "etl.yaml": cycle})
    assert response.status_code == 422, response.text
    found = {(e["file"], e["line"], e["field"]): e["problem"] for e in response.json()["errors"]}
    assert found == {
        ("report.yaml", 4, "name"): "duplicate of report.yaml: tasks[0] 'report'",
        ("etl.yaml", 9, "downstream"): "dependency cycle: extract -> load -> extract",
    }
    assert api.get(f"{API}/tasks").json() == []


def test_an_item_that_does_not_fit_is_not_also_reported_as_unknown(apply: Call) -> None:
    """The state check runs on what could be read: a group refused for its own fields is not
    also an unknown group for its tasks and edges, nor its params undeclared."""
    broken_group = (
        "format: almanac/v1\n"
        "groups:\n"
        "  - name: etl\n"
        "    params: [{name: day, type: string}]\n"
        "    schedule: {kind: cron, cron: '* *'}\n"
        "tasks:\n"
        "  - {name: extract, command: 'echo ${param.day}', group: etl}\n"
        "  - {name: load, command: 'echo l', group: etl}\n"
        "  - {name: report, command: 'echo r', group: nightly}\n"
        "dependencies:\n"
        "  - {group: etl, upstream: extract, downstream: load}\n"
    )
    response = apply({"etl.yaml": broken_group})
    assert response.status_code == 422, response.text
    found = {(e["line"], e["field"]): e["problem"] for e in response.json()["errors"]}
    assert set(found) == {(5, "schedule.cron"), (9, "group")}
    assert found[(9, "group")] == "unknown group 'nightly' in instance 'default'"


SCHEMA_URL = "https://almanac.example/api/v1/schema/export.json"


def test_a_json_file_may_name_its_schema_for_editors(
    plan: Call, apply: Call, api: TestClient
) -> None:
    named = {
        "$schema": SCHEMA_URL,
        "format": "almanac/v1",
        "tasks": [{"name": "report", "command": "echo r"}],
    }
    text = json.dumps(named, indent=2)
    planned = plan({"report.json": text}, source="file:defs")
    assert planned.status_code == 200, planned.text
    assert planned.json()["summary"]["create"] == 1
    applied = apply({"report.json": text}, source="file:defs")
    assert applied.status_code == 200, applied.text
    assert [t["name"] for t in api.get(f"{API}/tasks").json()] == ["report"]
    # The export never writes it back, and applying the export with it added changes nothing.
    exported = api.get(f"{API}/export", params={"format": "json"})
    assert "$schema" not in exported.json()
    with_schema = json.dumps({"$schema": SCHEMA_URL, **exported.json()})
    again = apply({"report.json": with_schema}, source="file:defs")
    assert again.status_code == 200, again.text
    assert again.json()["summary"] == {"create": 0, "update": 0, "delete": 0, "unchanged": 1}
    assert api.get(f"{API}/export", params={"format": "json"}).text == exported.text
    # Anything else at the top level is still refused, naming the key.
    unknown = apply({"x.json": json.dumps({**named, "schema": SCHEMA_URL})})
    assert unknown.status_code == 422
    [found] = unknown.json()["errors"]
    assert (found["file"], found["line"], found["field"]) == ("x.json", 1, "schema")


def test_definition_files_and_an_export_are_valid_against_the_published_schema(
    apply: Call, api: TestClient
) -> None:
    """The schema editors use (GET /schema/export.json) accepts what the server accepts."""
    schema = api.get(f"{API}/schema/export.json").json()
    validator = jsonschema.Draft202012Validator(schema)
    files = {"etl.yaml": GROUP, "tasks.yaml": TASKS.replace('"61 * * * *"', '"15 * * * *"')}
    assert apply(files).status_code == 200
    for text in files.values():
        assert list(validator.iter_errors(yaml.safe_load(text))) == []
    exported = api.get(f"{API}/export", params={"format": "json"}).json()
    assert exported["tasks"] and exported["groups"]
    assert list(validator.iter_errors(exported)) == []
    assert list(validator.iter_errors({"$schema": SCHEMA_URL, **exported})) == []
    # ... and refuses what the server refuses (the check can fail).
    assert not validator.is_valid({**exported, "schema": SCHEMA_URL})
    assert not validator.is_valid({**exported, "tasks": [{"name": "x"}]})


def test_a_calendar_from_files_says_who_manages_it(apply: Call, api: TestClient) -> None:
    calendar = '{"format": "almanac/v1", "calendars": [{"name": "ops"}]}'
    assert apply({"cal.json": calendar}, source="file:defs", commit="abc123").status_code == 200
    assert api.post(f"{API}/calendars", json={"name": "manual"}).status_code == 201
    shown = api.get(f"{API}/calendars/ops").json()
    managed = {k: shown[k] for k in ("managed_by", "managed_file", "managed_commit")}
    assert managed == {
        "managed_by": "file:defs",
        "managed_file": "cal.json",
        "managed_commit": "abc123",
    }
    listed = {c["name"]: c["managed_by"] for c in api.get(f"{API}/calendars").json()}
    assert listed == {"manual": None, "ops": "file:defs"}
