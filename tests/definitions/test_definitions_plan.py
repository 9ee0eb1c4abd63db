"""Plan and apply of definition files: the plan a reviewer reads, no-op re-applies, prune."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

ETL = """\
format: almanac/v1
groups:
  - name: etl
    schedule: {kind: cron, cron: "0 2 * * *"}   # nightly
tasks:
  - {name: extract, command: "echo e", group: etl}
  - {name: transform, command: "echo t", group: etl}
  - {name: load, command: "echo l", group: etl}
dependencies:
  - {group: etl, upstream: extract, downstream: transform}
"""

ETL_NEXT = """\
format: almanac/v1
groups:
  - name: etl
    schedule: {kind: cron, cron: "30 3 * * 1-5"}
tasks:
  - {name: extract, command: "echo e", group: etl}
  - {name: transform, command: "echo t", group: etl}
dependencies:
  - {group: etl, upstream: extract, downstream: transform}
  - {group: etl, upstream: transform, downstream: load}
"""

REPORT = """\
{
  "format": "almanac/v1",
  "tasks": [{"name": "report", "command": "echo r"}]
}
"""

Call = Callable[..., Any]
API = "/api/v1"


def test_first_plan_lists_what_the_files_create(plan: Call) -> None:
    response = plan({"etl.yaml": ETL, "report.json": REPORT}, source="file:defs")
    assert response.status_code == 200, response.text
    assert response.json()["applied"] is False
    assert response.json()["text"] == (
        "+ group etl  (etl.yaml)\n"
        '    schedule: {"cron": "0 2 * * *", "kind": "cron"}\n'
        "+ task extract  (etl.yaml)\n"
        '    command: "echo e"\n'
        '    group: "etl"\n'
        "+ task load  (etl.yaml)\n"
        '    command: "echo l"\n'
        '    group: "etl"\n'
        "+ task report  (report.json)\n"
        '    command: "echo r"\n'
        "+ task transform  (etl.yaml)\n"
        '    command: "echo t"\n'
        '    group: "etl"\n'
        "+ dependency etl: extract -> transform  (etl.yaml)\n"
        "\n"
        "Plan: 6 to create, 0 to update, 0 to delete, 0 unchanged.\n"
    )


def test_plan_of_a_schedule_change_a_new_edge_and_a_removed_task(apply: Call, plan: Call) -> None:
    assert apply({"etl.yaml": ETL}, source="file:defs").status_code == 200
    # The next version moves the schedule, adds an edge, and drops the task "load" from the
    # file: without prune "load" stays, so the edge to it is valid; with prune it goes.
    kept = plan({"etl.yaml": ETL_NEXT}, source="file:defs")
    assert kept.status_code == 200, kept.text
    assert kept.json()["text"] == (
        "~ group etl  (etl.yaml)\n"
        '    schedule.cron: "0 2 * * *" -> "30 3 * * 1-5"\n'
        "+ dependency etl: transform -> load  (etl.yaml)\n"
        "\n"
        "Plan: 1 to create, 1 to update, 0 to delete, 4 unchanged.\n"
    )
    without_load = ETL_NEXT.replace("  - {group: etl, upstream: transform, downstream: load}\n", "")
    pruned = plan({"etl.yaml": without_load}, source="file:defs", prune=True)
    assert pruned.status_code == 200, pruned.text
    assert pruned.json()["text"] == (
        "~ group etl  (etl.yaml)\n"
        '    schedule.cron: "0 2 * * *" -> "30 3 * * 1-5"\n'
        "- task load\n"
        "\n"
        "Plan: 0 to create, 1 to update, 1 to delete, 3 unchanged.\n"
    )
    changes = pruned.json()["changes"]
    assert changes[0]["fields"] == [
        {"field": "schedule.cron", "before": "0 2 * * *", "after": "30 3 * * 1-5"}
    ]


def test_apply_twice_is_a_no_op(api: TestClient, apply: Call) -> None:
    first = apply({"etl.yaml": ETL, "report.json": REPORT}, source="file:defs", commit="c1")
    assert first.status_code == 200, first.text
    assert first.json()["summary"]["create"] == 6
    audit_before = api.get(f"{API}/audit").json()
    second = apply({"etl.yaml": ETL, "report.json": REPORT}, source="file:defs", commit="c2")
    assert second.json()["summary"] == {"create": 0, "update": 0, "delete": 0, "unchanged": 6}
    assert second.json()["text"].startswith("No changes.\n")
    assert api.get(f"{API}/audit").json() == audit_before  # nothing written, not even audit
    task = next(t for t in api.get(f"{API}/tasks").json() if t["name"] == "load")
    assert (task["managed_by"], task["managed_file"], task["managed_commit"]) == (
        "file:defs",
        "etl.yaml",
        "c1",
    )


def test_prune_deletes_only_what_the_source_manages(api: TestClient, apply: Call) -> None:
    assert apply({"etl.yaml": ETL}, source="file:defs").status_code == 200
    assert apply({"report.json": REPORT}, source="file:other").status_code == 200
    by_hand = api.post(f"{API}/tasks", json={"name": "manual", "command": "true"})
    assert by_hand.status_code == 201, by_hand.text
    # Only the group's file is left out: prune takes what file:defs held, nothing else.
    emptied = '{"format": "almanac/v1"}'
    response = apply({"empty.json": emptied}, source="file:defs", prune=True)
    assert response.status_code == 200, response.text
    assert response.json()["summary"]["delete"] == 5  # 3 tasks, the group, its edge
    names = sorted(t["name"] for t in api.get(f"{API}/tasks").json())
    assert names == ["manual", "report"]
    assert api.get(f"{API}/groups").json() == []


def test_files_refuse_taking_over_nothing_when_a_problem_is_found(
    api: TestClient, apply: Call
) -> None:
    cycle = ETL + "  - {group: etl, upstream: transform, downstream: extract}\n"
    response = apply({"etl.yaml": cycle}, source="file:defs")
    assert response.status_code == 422
    [found] = response.json()["errors"]
    assert found["file"] == "etl.yaml"
    assert found["line"] == 11
    assert found["problem"] == "dependency cycle: extract -> transform -> extract"
    assert api.get(f"{API}/tasks").json() == []


def test_prune_keeps_a_calendar_that_a_schedule_still_uses(api: TestClient, apply: Call) -> None:
    calendar = '{"format": "almanac/v1", "calendars": [{"name": "ops"}]}'
    assert apply({"cal.json": calendar}, source="file:cal").status_code == 200
    uses: dict[str, Any] = {
        "name": "manual",
        "command": "true",
        "schedule": {"kind": "cron", "cron": "0 1 * * *", "calendar": "ops"},
    }
    assert api.post(f"{API}/tasks", json=uses).status_code == 201
    response = apply({"empty.json": '{"format": "almanac/v1"}'}, source="file:cal", prune=True)
    assert response.status_code == 422
    [found] = response.json()["errors"]
    assert found == {
        "item": "task manual",
        "field": "schedule.calendar",
        "problem": "uses calendar 'ops', which would be deleted",
    }
    assert [c["name"] for c in api.get(f"{API}/calendars").json()] == ["ops"]
