"""The Tasks page reads only the groups of the rows it shows: a task in the 1,005th group
shows its group's name and frozen state (the page once read the first 1,000 groups)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.tables import Task, TaskGroup


def test_a_task_in_a_late_group_shows_its_group(web: TestClient, web_engine: Engine) -> None:
    with session_scope(web_engine) as session:
        groups = [TaskGroup(name=f"group-{i:04d}", active=i != 1004) for i in range(1005)]
        session.add_all(groups)
        session.flush()
        session.add(Task(name="late-member", command="true", group_id=groups[-1].id))
        session.add(Task(name="lone-task", command="true"))
    response = web.get("/tasks?q=late-member")
    assert response.status_code == 200
    view = response.context["list"]
    assert [row["name"] for row in view.rows] == ["late-member"]
    assert view.group_names == {groups[-1].id: "group-1004"}
    assert view.task_state(view.rows[0]) == "frozen"
    assert "group-1004" in response.text
    lone = web.get("/tasks?q=lone-task").context["list"]
    assert lone.group_names == {} and lone.task_state(lone.rows[0]) == "active"
