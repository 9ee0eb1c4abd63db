"""Forms that help: every problem at once, beside its field, in plain words, with the line of
a multi-line field; nothing saved while any is left."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.domain.error_words import plain_problem
from app.models.schemas import Memory, Mount
from app.web.form_errors import item_line, key_line, located


def field_error(html: str, field: str) -> str:
    found = re.search(rf'id="err-{re.escape(field)}">([^<]*)<', html)
    assert found is not None, f"no error slot for {field}"
    return found.group(1)


class _Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    memory: Memory
    mounts: list[Mount]
    retries: int = Field(ge=0, le=100)
    when: str = Field(min_length=1)


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"memory": "lots"}, "memory", "must be a size like 512M, 4G or 1.5G"),
        ({"mounts": ["nocolon"]}, "mounts", "must be HOST:CONTAINER, optionally followed by"),
        ({"retries": "x"}, "retries", "must be a whole number"),
        ({"retries": 101}, "retries", "must be 100 or less"),
        ({"when": ""}, "when", "cannot be empty"),
        ({"colour": "red"}, "colour", "is not a known field"),
        ({}, "memory", "is required"),
    ],
)
def test_pydantic_errors_read_as_plain_sentences(
    payload: dict[str, object], field: str, words: str
) -> None:
    base = {"memory": "1G", "mounts": [], "retries": 0, "when": "now"}
    with pytest.raises(ValidationError) as caught:
        _Sample.model_validate({**base, **payload} if payload else {})
    found = {str(e["loc"][0]): plain_problem(e) for e in caught.value.errors()}
    assert found[field].startswith(words)
    assert "should" not in found[field] and "pattern" not in found[field]


def test_line_numbers_of_list_items_and_keys_skip_blank_lines() -> None:
    text = "/a:/a\n\nbad\n/c:/c:ro"
    assert item_line(text, 1) == 3 and item_line(text, 2) == 4 and item_line(text, 3) is None
    assert key_line("A=1\n\nB=2", "B") == 3
    values = {"mounts": text, "env": "A=1\nB=2"}
    assert located([("mounts.1", "bad"), ("mounts.2", "worse"), ("env.B", "no")], values) == {
        "mounts": "line 3: bad; line 4: worse",
        "env": "line 2: no",
    }


def test_the_task_form_reports_every_problem_at_once_in_plain_words(
    web: TestClient, api: TestClient
) -> None:
    form = {
        "name": "",
        "command": "true",
        "instance": "default",
        "retry_attempts": "many",  # the form's own reading
        "memory": "lots",  # the API's pattern
        "mounts": "/data:/data\n\nnocolon\n/x:/y:ro\nalso-bad",  # lines 3 and 5
        "env": "GOOD=1\nBROKEN",  # line 2
        "blackouts": "{}\nnot json",  # line 2
        "sched_kind": "",
    }
    answer = web.post("/tasks", data=form)
    assert answer.status_code == 422, answer.text
    html = answer.text
    assert field_error(html, "retry_attempts") == "&#39;many&#39; is not an integer"
    assert field_error(html, "memory") == "must be a size like 512M, 4G or 1.5G"
    mounts = field_error(html, "mounts")
    assert mounts.startswith("line 3: must be HOST:CONTAINER") and "line 5: must be" in mounts
    assert field_error(html, "env") == "line 2: expected KEY=VALUE"
    assert field_error(html, "blackouts") == "line 2: not a JSON object"
    assert field_error(html, "name") == "cannot be empty"
    assert "should" not in html.split('id="task-form"')[1]
    assert api.get("/api/v1/tasks").json() == []


def test_the_group_form_reports_every_problem_at_once(web: TestClient, api: TestClient) -> None:
    form = {
        "name": "",
        "instance": "default",
        "sched_kind": "frequency",
        "sched_every": "often",
        "params": "not json",
        "extra_schedules": "0 18 * * 1-5\n{oops",
    }
    answer = web.post("/groups", data=form)
    assert answer.status_code == 422, answer.text
    assert field_error(answer.text, "sched_every") == "&#39;often&#39; is not an integer"
    assert field_error(answer.text, "params").startswith("not JSON")
    assert field_error(answer.text, "extra_schedules") == "line 2: not a JSON object"
    assert field_error(answer.text, "name") == "cannot be empty"
    assert api.get("/api/v1/groups").json() == []


def test_adhoc_refusals_sit_beside_their_fields_and_a_success_clears_them(
    web: TestClient,
) -> None:
    refused = web.post(
        "/adhoc",
        data={"command": "", "target": "agents", "max_run_seconds": "soon", "instance": "a/b"},
    )
    assert refused.status_code == 422
    html = refused.text
    assert re.search(r'id="adhocerr-agents" hx-swap-oob="true">choose at least one agent<', html)
    assert 'id="adhocerr-max_run_seconds" hx-swap-oob="true">must be a number of seconds<' in html
    assert "problems to fix" in html


def test_an_import_lists_every_problem_of_the_document_with_its_line(
    web: TestClient, api: TestClient
) -> None:
    document = """{
  "format": "almanac/v1",
  "tasks": [
    {"name": "ok", "command": "true"},
    {
      "name": "bad-memory",
      "command": "true",
      "memory": "lots"
    },
    {
      "name": "bad-retries",
      "command": "true",
      "retry_attempts": "many",
      "colour": "red"
    }
  ]
}"""
    refused = web.post("/tasks/import", data={"step": "check", "document": document})
    problems = {(p["item"], p["field"]): p for p in refused.context["errors"]}
    assert problems[("tasks[1] 'bad-memory'", "memory")]["line"] == 8
    assert problems[("tasks[1] 'bad-memory'", "memory")]["problem"].startswith("must be a size")
    assert problems[("tasks[2] 'bad-retries'", "retry_attempts")]["line"] == 13
    assert problems[("tasks[2] 'bad-retries'", "colour")]["problem"] == "is not a known field"
    assert "line 13" in refused.text and "3 problems to fix" in refused.text
    assert api.get("/api/v1/tasks").json() == []


def test_a_calendar_form_names_the_line_of_each_bad_date(web: TestClient) -> None:
    refused = web.post(
        "/calendars",
        data={"name": "cal", "extra_dates": "2026-01-01\n2026-13-01 2026-02-30\n2026-03-03"},
    )
    assert refused.status_code == 422
    error = field_error(refused.text, "extra_dates")
    assert error == "line 2: must be a date like 2026-12-31"
