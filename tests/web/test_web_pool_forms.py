"""Pools made, changed and deleted from the Pools page: admins only (a viewer's or
operator's post is a 403, as on the API), refusals beside the fields, scopes kept."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user
from web.web_helpers import Login, sign_in


def test_an_admin_creates_changes_and_deletes_a_pool(web: TestClient, api: TestClient) -> None:
    made = web.post("/pools", data={"name": "etl", "instance": "default", "slots": "3"})
    assert made.status_code == 303 and made.headers["location"] == "/pools/default/etl"
    changed = web.post(
        "/pools/default/etl", data={"slots": "5", "placement": "pack", "description": "loads"}
    )
    assert changed.status_code == 303
    pool = api.get("/api/v1/pools/etl").json()
    assert (pool["slots"], pool["placement"], pool["description"]) == (5, "pack", "loads")
    bad = web.post("/pools", data={"name": "", "instance": "a/b", "slots": "many"})
    assert bad.status_code == 422
    assert re.search(r'id="err-slots">must be a whole number of slots<', bad.text)
    assert re.search(r'id="err-name">cannot be empty<', bad.text)
    assert 'id="err-instance">' in bad.text and not re.search(r'id="err-instance"></', bad.text)
    assert web.post("/pools/default/etl/delete").status_code == 303
    assert api.get("/api/v1/pools").json() == []


def test_only_admins_of_the_instance_change_pools(
    api: TestClient, login: Login, web_app: FastAPI, web_engine: Engine
) -> None:
    api.post("/api/v1/pools", json={"name": "ops-pool", "slots": 1, "instance": "ops"})
    operator = login("operator")
    page = operator.get("/pools")
    assert page.status_code == 200 and "New pool" not in page.text
    assert operator.post("/pools", data={"name": "x", "slots": "1"}).status_code == 403
    assert operator.post("/pools/ops/ops-pool/delete").status_code == 403
    seed_user(web_engine, "scoped", role="admin", instances=["default"])
    scoped = TestClient(web_app, follow_redirects=False)
    sign_in(scoped, "scoped")
    assert "ops-pool" not in scoped.get("/pools").text
    assert scoped.post("/pools/ops/ops-pool", data={"slots": "9"}).status_code == 404
    assert [p["slots"] for p in api.get("/api/v1/pools").json()] == [1]
