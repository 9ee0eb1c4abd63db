"""Unknown pages answer with the error page, not raw JSON; the API keeps its JSON."""

from __future__ import annotations

from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_an_unknown_page_is_the_404_page(web: TestClient) -> None:
    answer = web.get("/nope", headers=HTML)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "There is no such page." in answer.text
    assert answer.headers["cache-control"] == "no-store"


def test_an_unknown_page_is_the_404_page_before_login(anonymous: TestClient) -> None:
    answer = anonymous.get("/nope/deeper", headers=HTML)
    assert answer.status_code == 404
    assert "There is no such page." in answer.text


def test_the_api_keeps_json_for_unknown_paths(api: TestClient) -> None:
    answer = api.get("/api/v1/nope", headers=HTML)
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Not Found"}


def test_a_script_asking_for_json_gets_json(web: TestClient) -> None:
    answer = web.get("/nope", headers={"Accept": "application/json"})
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Not Found"}
