"""Every kind of bad document is refused, naming item and field, and nothing changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user

from app.io.schema import DOCS_FILE

API = "/api/v1"
BASE: dict[str, Any] = {
    "format": "almanac/v1",
    "calendars": [{"name": "ops"}],
    "groups": [{"name": "etl"}],
    "tasks": [
        {"name": "a", "command": "true", "group": "etl"},
        {"name": "b", "command": "true", "group": "etl"},
        {"name": "c", "command": "true", "group": "etl"},
    ],
    "dependencies": [
        {"group": "etl", "upstream": "a", "downstream": "b"},
        {"group": "etl", "upstream": "b", "downstream": "c"},
    ],
}


def _post(api: TestClient, body: str, **params: Any) -> Any:
    return api.post(
        f"{API}/import", content=body, params=params, headers={"content-type": "application/json"}
    )


def _with(change: dict[str, Any]) -> str:
    doc = json.loads(json.dumps(BASE))
    for section, items in change.items():
        doc[section] = items(doc) if callable(items) else items
    return json.dumps(doc)


CASES: list[tuple[str, str, int, list[dict[str, str]]]] = [
    (
        "cycle",
        _with(
            {
                "dependencies": lambda d: [
                    *d["dependencies"],
                    {"group": "etl", "upstream": "c", "downstream": "a"},
                ]
            }
        ),
        422,
        [
            {
                "item": "dependencies[2] (etl: c -> a)",
                "field": "downstream",
                "problem": "dependency cycle: a -> b -> c -> a",
            }
        ],
    ),
    (
        "bad cron",
        _with(
            {
                "tasks": lambda d: [
                    *d["tasks"],
                    {
                        "name": "d",
                        "command": "true",
                        "schedule": {"kind": "cron", "cron": "61 * * * *"},
                    },
                ]
            }
        ),
        422,
        [
            {
                "item": "tasks[3] 'd'",
                "field": "schedule.cron",
                "problem": "minute field value 61 out of range 0-59",
            }
        ],
    ),
    (
        "bad timezone",
        _with(
            {
                "groups": [
                    {
                        "name": "etl",
                        "schedule": {
                            "kind": "cron",
                            "cron": "0 * * * *",
                            "timezone": "Mars/Olympus",
                        },
                    }
                ]
            }
        ),
        422,
        [
            {
                "item": "groups[0] 'etl'",
                "field": "schedule.timezone",
                "problem": "unknown timezone 'Mars/Olympus' (expected an IANA name)",
            }
        ],
    ),
    (
        "unknown calendar",
        _with(
            {
                "tasks": lambda d: [
                    *d["tasks"],
                    {
                        "name": "d",
                        "command": "true",
                        "schedule": {"kind": "cron", "cron": "0 * * * *", "calendar": "nope"},
                    },
                ]
            }
        ),
        422,
        [
            {
                "item": "tasks[3] 'd'",
                "field": "schedule.calendar",
                "problem": "unknown calendar 'nope'",
            }
        ],
    ),
    (
        "duplicate task name",
        _with({"tasks": lambda d: [*d["tasks"], {"name": "a", "command": "false"}]}),
        422,
        [{"item": "tasks[3] 'a'", "field": "name", "problem": "duplicate of tasks[0] 'a'"}],
    ),
    (
        "unknown agent",
        _with(
            {"tasks": lambda d: [*d["tasks"], {"name": "d", "command": "true", "target": "ghost"}]}
        ),
        422,
        [{"item": "tasks[3] 'd'", "field": "target", "problem": "unknown agent 'ghost'"}],
    ),
    (
        "unknown group",
        _with(
            {"tasks": lambda d: [*d["tasks"], {"name": "d", "command": "true", "group": "nope"}]}
        ),
        422,
        [
            {
                "item": "tasks[3] 'd'",
                "field": "group",
                "problem": "unknown group 'nope' in instance 'default'",
            }
        ],
    ),
    (
        "unknown field",
        _with(
            {"tasks": lambda d: [*d["tasks"], {"name": "d", "command": "true", "colour": "red"}]}
        ),
        422,
        [{"item": "tasks[3] 'd'", "field": "colour", "problem": "is not a known field"}],
    ),
    (
        "unknown format version",
        json.dumps({**BASE, "format": "almanac/v9"}),
        422,
        [
            {
                "item": "document",
                "field": "format",
                "problem": "unknown format version 'almanac/v9'; this server reads 'almanac/v1'",
            }
        ],
    ),
    (
        "no format",
        json.dumps({"tasks": []}),
        422,
        [
            {
                "item": "document",
                "field": "format",
                "problem": "missing; this server reads 'almanac/v1'",
            }
        ],
    ),
]


@pytest.mark.parametrize(("name", "body", "status", "errors"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_document_is_refused_and_changes_nothing(
    api: TestClient, name: str, body: str, status: int, errors: list[dict[str, str]]
) -> None:
    assert _post(api, json.dumps(BASE)).status_code == 200
    before = api.get(f"{API}/export").text
    for params in ({"dry_run": "true"}, {}, {"mode": "mirror"}):
        response = _post(api, body, **params)
        assert response.status_code == status, response.text
        assert response.json()["errors"] == errors
        first = errors[0]
        assert response.json()["detail"].startswith(
            f"{first['item']}: {first['field']}: {first['problem']}"
        )
    assert api.get(f"{API}/export").text == before


def test_truncated_json_is_refused_with_its_position(api: TestClient) -> None:
    text = json.dumps(BASE, indent=2)
    response = _post(api, text[: len(text) // 2])
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["item"] == "document" and error["field"] == "body"
    assert error["problem"].startswith("invalid JSON: ") and "truncated" in error["problem"]
    assert api.get(f"{API}/tasks").json() == []


def test_every_problem_is_reported_at_once(api: TestClient) -> None:
    body = _with(
        {
            "tasks": lambda d: [
                *d["tasks"],
                {"name": "d", "command": "true", "target": "ghost"},
                {"name": "e", "command": "true", "group": "nope"},
            ]
        }
    )
    errors = _post(api, body).json()["errors"]
    assert [(e["item"], e["field"]) for e in errors] == [
        ("tasks[3] 'd'", "target"),
        ("tasks[4] 'e'", "group"),
    ]


def test_roles(api: TestClient, io_engine: Engine) -> None:
    viewer = seed_user(io_engine, "viewer", role="viewer")
    operator = seed_user(io_engine, "operator", role="operator")
    assert (
        api.get(f"{API}/export", headers={"Authorization": f"Bearer {viewer}"}).status_code == 200
    )
    as_viewer = api.post(
        f"{API}/import", content=json.dumps(BASE), headers={"Authorization": f"Bearer {viewer}"}
    )
    assert as_viewer.status_code == 403
    as_operator = api.post(
        f"{API}/import", content=json.dumps(BASE), headers={"Authorization": f"Bearer {operator}"}
    )
    assert as_operator.status_code == 403 and "calendars" in as_operator.json()["detail"]
    no_calendars = json.dumps({**BASE, "calendars": []})
    assert (
        api.post(
            f"{API}/import", content=no_calendars, headers={"Authorization": f"Bearer {operator}"}
        ).status_code
        == 200
    )


def test_instances_outside_the_scope_are_refused(api: TestClient, io_engine: Engine) -> None:
    token = seed_user(io_engine, "scoped", role="admin", instances=["team-a"])
    body = json.dumps(
        {"format": "almanac/v1", "tasks": [{"name": "x", "command": "true", "instance": "team-b"}]}
    )
    response = api.post(f"{API}/import", content=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "item": "tasks[0] 'x'",
            "field": "instance",
            "problem": "instance 'team-b' is not granted to you",
        }
    ]


def test_the_served_schema_is_the_documented_one(api: TestClient) -> None:
    served = api.get(f"{API}/schema/export.json")
    assert served.status_code == 200
    assert served.json() == json.loads(Path(DOCS_FILE).read_text())
    assert served.json()["properties"]["format"]["const"] == "almanac/v1"
