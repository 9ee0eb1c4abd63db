"""`almanac import-crontab` and the new `almanac calendar` fields, against a live server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from support import LiveServer

Cli = Callable[..., Result]
DATA = Path(__file__).parents[1] / "io" / "data"


def test_import_crontab_dry_run_refusal_and_apply(
    almanac: Cli, agent_ready: LiveServer, tmp_path: Path
) -> None:
    source = DATA / "system.crontab"
    dry = almanac("import-crontab", str(source), "--system-format", "--dry-run", "--group", "etc")
    assert dry.exit_code == 0, dry.output
    assert "Would create" in dry.output and "anacron-3" in dry.output
    assert "5 task(s) (dry run, nothing stored)" in dry.output
    with agent_ready.client() as http:
        assert http.get("/tasks").json() == []
    bad = tmp_path / "bad.crontab"
    bad.write_text("0 1 * * * /bin/ok\n@reboot /bin/boot\n")
    refused = almanac("import-crontab", str(bad))
    assert refused.exit_code == 1 and "line 2" in refused.output and "@reboot" in refused.output
    done = almanac("import-crontab", str(source), "--system-format", "--prefix", "etc-", "--json")
    assert done.exit_code == 0, done.output
    assert [t["run_as_user"] for t in json.loads(done.stdout)["tasks"]] == ["root"] * 4 + ["backup"]
    with agent_ready.client() as http:
        names = sorted(t["name"] for t in http.get("/tasks").json())
    assert names == ["etc-anacron", "etc-anacron-2", "etc-anacron-3", "etc-nightly-dump",
                     "etc-run-parts"]  # fmt: skip
    skipped = almanac("import-crontab", str(bad), "--skip-bad")
    assert skipped.exit_code == 0 and "1 untranslatable line(s) left out" in skipped.output


def test_calendar_fields_and_preview(almanac: Cli) -> None:
    made = almanac("calendar", "create", "by", "--country", "DE", "--subdivision", "BY",
                   "--categories", "public,catholic")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["categories"] == ["catholic", "public"]
    assert (
        almanac("calendar", "create", "desk", "--include", "by", "--skip-weekends").exit_code == 0
    )
    cycle = almanac("calendar", "update", "by", "--include", "desk")
    assert cycle.exit_code != 0 and "by -> desk -> by" in cycle.output
    preview = almanac("calendar", "preview", "desk", "2025")
    assert preview.exit_code == 0, preview.output
    assert "2025-08-15  closed  from calendar by: holiday: Assumption Day (catholic)" in (
        preview.output
    )
    cleared = almanac("calendar", "update", "desk", "--include", "")
    assert cleared.exit_code == 0 and json.loads(cleared.stdout)["include"] == []
