"""The variable sets page: admins create and edit (secret inputs write-only), viewers read
names; the run detail page shows a run's results."""

from __future__ import annotations

from fastapi.testclient import TestClient
from web.web_helpers import Login

SECRET = "web-secret-5510"


def test_admin_creates_and_edits_viewer_reads(web: TestClient, login: Login) -> None:
    made = web.post(
        "/variable-sets",
        data={
            "name": "web-set",
            "instance": "default",
            "variables": "REGION=eu\nTIER=gold\n",
            "secrets": f"TOKEN={SECRET}\n",
        },
    )
    assert made.status_code == 303, made.text
    page = web.get("/variable-sets")
    assert page.status_code == 200 and "web-set" in page.text and "REGION" in page.text
    assert "<td>TOKEN</td>" in page.text and SECRET not in page.text
    edited = web.post(
        "/variable-sets/default/web-set",
        data={"description": "edited", "variables": "REGION=us\n", "secrets": ""},
    )
    assert edited.status_code == 303
    page = web.get("/variable-sets").text
    assert "edited" in page and "TIER" not in page and "<td>TOKEN</td>" in page  # kept
    refused = web.post("/variable-sets", data={"name": "bad", "secrets": "1X=2\n"})
    assert refused.status_code == 422 and "secrets" in refused.text
    viewer = login("viewer")
    seen = viewer.get("/variable-sets").text
    assert "web-set" in seen and "<td>TOKEN</td>" in seen and SECRET not in seen
    assert "REGION=" not in seen and "<td>us</td>" not in seen  # plain values masked
    assert "New variable set" not in seen
    denied = viewer.post("/variable-sets/default/web-set/delete")
    assert denied.status_code in (403, 200) and "web-set" in web.get("/variable-sets").text
    removed = web.post(
        "/variable-sets/default/web-set", data={"variables": "", "remove_secret": "TOKEN"}
    )
    assert removed.status_code == 303
    assert "<td>TOKEN</td>" not in web.get("/variable-sets").text
    assert web.post("/variable-sets/default/web-set/delete").status_code == 303
    assert "web-set" not in web.get("/variable-sets").text
