"""Typed parameters: declarations checked, given values coerced, errors naming params.NAME."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.params import (
    check_declarations,
    check_group_given,
    normalized_declarations,
    resolve_values,
    task_values_in_group,
)
from app.errors import InvalidInput

DECLS: list[dict[str, Any]] = [
    {"name": "region", "type": "choice", "choices": ["EU", "US"], "default": "EU"},
    {"name": "count", "type": "integer", "required": True},
    {"name": "ratio", "type": "number", "default": "0.5"},
    {"name": "day", "type": "date"},
    {"name": "full", "type": "boolean", "default": "no"},
    {"name": "label", "type": "string", "default": ""},
]


def test_text_values_from_a_cli_or_form_become_typed_with_defaults_filled() -> None:
    values = resolve_values(DECLS, {"count": "12", "day": "2026-03-01", "full": "TRUE"})
    assert values == {
        "region": "EU",
        "count": 12,
        "ratio": 0.5,
        "day": "2026-03-01",
        "full": True,
        "label": "",
    }


def test_json_values_pass_and_empty_form_fields_take_the_default() -> None:
    values = resolve_values(DECLS, {"count": 3, "ratio": 2, "region": "US", "full": ""})
    assert (values["count"], values["ratio"], values["region"], values["full"]) == (
        3,
        2,
        "US",
        False,
    )


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"count": "x"}, "params.count"),
        ({"count": True}, "params.count"),
        ({"count": 1.5}, "params.count"),
        ({}, "params.count"),
        ({"count": 1, "region": "ASIA"}, "params.region"),
        ({"count": 1, "day": "2026-02-30"}, "params.day"),
        ({"count": 1, "ratio": "nan"}, "params.ratio"),
        ({"count": 1, "full": "maybe"}, "params.full"),
        ({"count": 1, "label": 5}, "params.label"),
        ({"count": 1, "nope": 1}, "params.nope"),
    ],
)
def test_a_bad_value_names_the_parameter(given: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_values(DECLS, given)
    assert caught.value.field == field


def test_good_declarations_have_no_problems_and_normalize_idempotently() -> None:
    assert check_declarations(DECLS) == []
    once = normalized_declarations(DECLS)
    assert normalized_declarations(once) == once
    assert once[2]["default"] == 0.5 and once[4]["default"] is False


@pytest.mark.parametrize(
    ("decls", "field"),
    [
        ("nope", "params"),
        ([{"name": "1st", "type": "string"}], "params[0].name"),
        ([{"name": "a-b", "type": "string"}], "params[0].name"),
        ([{"name": "a", "type": "float"}], "params.a.type"),
        ([{"name": "a", "type": "integer", "default": "ten"}], "params.a.default"),
        ([{"name": "a", "type": "choice"}], "params.a.choices"),
        ([{"name": "a", "type": "choice", "choices": ["x", "x"]}], "params.a.choices"),
        ([{"name": "a", "type": "string", "choices": ["x"]}], "params.a.choices"),
        ([{"name": "a", "type": "choice", "choices": ["x"], "default": "y"}], "params.a.default"),
        ([{"name": "a", "type": "string"}, {"name": "A", "type": "string"}], "params.A"),
        ([{"name": "a", "type": "string", "colour": 1}], "params.a.colour"),
        ([{"name": "a", "type": "string", "required": "yes"}], "params.a.required"),
    ],
)
def test_bad_declarations_name_the_field(decls: object, field: str) -> None:
    problems = check_declarations(decls)
    assert problems and problems[0].field == field


def test_group_values_reach_tasks_with_documented_precedence() -> None:
    group = [{"name": "region", "type": "string", "default": "EU"}]
    task = [
        {"name": "region", "type": "string", "default": "US"},
        {"name": "size", "type": "integer", "default": 1},
    ]
    check_group_given(group, [task], {"size": "4"})
    with pytest.raises(InvalidInput, match=r"params\.size"):
        check_group_given(group, [task], {"size": "four"})
    with pytest.raises(InvalidInput, match=r"params\.other"):
        check_group_given(group, [task], {"other": "x"})
    # The group's default wins over the task's; a given value wins over both.
    assert task_values_in_group(task, {"region": "EU"}, {}) == {"region": "EU", "size": 1}
    assert task_values_in_group(task, {"region": "EU"}, {"region": "JP", "size": "4"}) == {
        "region": "JP",
        "size": 4,
    }
