"""The crontab tab of Import / Export: a dry run shows the tasks and the lines that cannot
be translated, applying creates them, a refused crontab creates nothing; admins only."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from web.web_helpers import Login

CRONTAB = (Path(__file__).parents[1] / "io" / "data" / "user.crontab").read_text()


def test_check_then_apply_a_crontab(web: TestClient, api: TestClient) -> None:
    tab = web.get("/tasks/import-export?tab=crontab", headers={"HX-Request": "true"})
    assert tab.status_code == 200 and 'id="crontab-form"' in tab.text
    assert 'id="import-form"' not in tab.text  # the definitions tab is the other one
    dry = web.post("/tasks/import-crontab", data={"step": "check", "text": CRONTAB})
    assert dry.status_code == 200
    report = dry.context["cron_report"]
    assert report["dry_run"] and len(report["tasks"]) == 17
    assert "17 task(s) (dry run, nothing stored)" in dry.text
    assert "MAILTO=ops@example.com not translated" in dry.text
    assert 'value="apply"' in dry.text
    assert api.get("/api/v1/tasks").json() == []
    done = web.post(
        "/tasks/import-crontab", data={"step": "apply", "text": CRONTAB, "group": "legacy"}
    )
    assert done.status_code == 200 and done.context["cron_report"]["applied"]
    assert "Crontab imported" in done.headers["HX-Trigger"]
    assert len(api.get("/api/v1/tasks").json()) == 17


def test_an_untranslatable_line_is_shown_and_refuses_the_import(
    web: TestClient, api: TestClient
) -> None:
    text = "0 1 * * * /bin/ok\n@reboot /bin/boot\n"
    dry = web.post("/tasks/import-crontab", data={"step": "check", "text": text})
    assert "@reboot is not supported" in dry.text and 'value="apply"' not in dry.text
    refused = web.post("/tasks/import-crontab", data={"step": "apply", "text": text})
    assert refused.context["cron_errors"][0]["item"] == "line 2"
    assert "Refused — nothing was created" in refused.text
    assert api.get("/api/v1/tasks").json() == []
    skipped = web.post(
        "/tasks/import-crontab",
        data={"step": "check", "text": text, "skip_untranslatable": "true"},
    )
    assert 'value="apply"' in skipped.text
    bad_zone = web.post("/tasks/import-crontab", data={"text": text, "timezone": "Nowhere/X"})
    assert bad_zone.context["cron_errors"][0]["field"] == "timezone"


def test_an_operator_sees_that_the_import_needs_an_admin(login: Login, api: TestClient) -> None:
    operator = login("operator")
    tab = operator.get("/tasks/import-export?tab=crontab", headers={"HX-Request": "true"})
    assert "needs the admin role" in tab.text and 'id="crontab-form"' not in tab.text
    refused = operator.post("/tasks/import-crontab", data={"text": "0 1 * * * /bin/x\n"})
    assert refused.context["cron_errors"] and api.get("/api/v1/tasks").json() == []
