"""The crontab reader on its own: environment lines, MAILTO, SHELL, CRON_TZ, the user
column, macros, `%` as standard input (run for real through /bin/sh), names, refusals."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.io.crontab import CrontabOptions, derive_name, read_crontab, split_percent

DATA = Path(__file__).parent / "data"


def _user() -> str:
    return (DATA / "user.crontab").read_text()


def test_a_real_user_crontab_becomes_tasks() -> None:
    result = read_crontab(_user())
    assert result.refused == []
    by_name = {t.name: t for t in result.tasks}
    assert list(by_name) == [
        "backup", "poll-queue", "manage", "report", "rotate-logs", "cleanup-tmp", "heartbeat",
        "reindex", "invoice", "archive-year", "mail", "weekly-summary", "first-week", "season",
        "berlin-morning", "berlin-evening", "date",
    ]  # fmt: skip
    backup = by_name["backup"]
    assert backup.line == 9
    assert backup.schedule == {"kind": "cron", "cron": "30 2 * * *", "timezone": "UTC"}
    # SHELL=/bin/bash: bash runs the command, given as one quoted argument
    assert backup.command == (
        "/bin/bash -c '/usr/local/bin/backup.sh --full > /var/log/backup.log 2>&1'"
    )
    assert backup.env == {
        "HOME": "/srv/app",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "SHELL": "/bin/bash",
    }
    assert backup.notes and "MAILTO=ops@example.com not translated" in backup.notes[0]
    assert "MAILTO=ops@example.com" in backup.description
    assert by_name["weekly-summary"].notes == ()  # MAILTO="" : cron mails nothing
    assert by_name["cleanup-tmp"].schedule["cron"] == "@daily"
    assert by_name["berlin-morning"].schedule["timezone"] == "Europe/Berlin"
    assert by_name["season"].schedule["timezone"] == "UTC"
    # TZ is the command's environment, CRON_TZ the schedule's zone
    assert by_name["date"].env["TZ"] == "Europe/Berlin"
    assert "TZ" not in by_name["berlin-morning"].env and "CRON_TZ" not in by_name["date"].env
    # the shell's own ${HOME} is kept from Almanac's placeholders
    assert "$${HOME}/season.cfg" in by_name["season"].command


def test_percent_becomes_standard_input_fed_safely() -> None:
    mail = next(t for t in read_crontab(_user()).tasks if t.name == "mail")
    assert mail.command == (
        "printf '%s' 'Totals attached\n-- cron' | "
        "/bin/bash -c 'mail -s \"Mid-month 50% report\" finance@example.com'"
    )
    # Run for real: the command sees the input, quotes and all, and nothing else runs.
    line = '* * * * * cat; echo "[$0]"%it\'s 100\\% $(touch /tmp/never)%`id`; done'
    task = read_crontab(line).tasks[0]
    out = subprocess.run(
        ["/bin/sh", "-c", task.command], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    assert out == "it's 100% $(touch /tmp/never)\n`id`; done[/bin/sh]\n"


@pytest.mark.parametrize(
    ("text", "command", "stdin"),
    [
        ("echo a", "echo a", None),
        ("echo 50\\%", "echo 50%", None),
        ("cat%one%two", "cat", "one\ntwo"),
        ("cat%", "cat", ""),
        ("cat%a\\%b", "cat", "a%b"),
        ("echo \\n%x\\y", "echo \\n", "x\\y"),
    ],
)
def test_split_percent(text: str, command: str, stdin: str | None) -> None:
    assert split_percent(text) == (command, stdin)


def test_the_system_format_reads_the_user_column() -> None:
    text = (DATA / "system.crontab").read_text()
    result = read_crontab(text, CrontabOptions(format="system"))
    assert result.refused == []
    assert [(t.name, t.run_as_user) for t in result.tasks] == [
        ("run-parts", "root"),
        ("anacron", "root"),
        ("anacron-2", "root"),
        ("anacron-3", "root"),
        ("nightly-dump", "backup"),
    ]
    hourly = result.tasks[0]
    assert hourly.command == "cd / && run-parts --report /etc/cron.hourly"  # SHELL=/bin/sh
    assert hourly.schedule["cron"] == "17 * * * *"
    # read as a user crontab, the user column is taken for the command's first word
    as_user = read_crontab(text).tasks[0]
    assert as_user.command.startswith("root") and as_user.run_as_user is None


def test_untranslatable_lines_come_back_with_their_reason() -> None:
    text = "\n".join(
        [
            "@reboot /usr/bin/start-things",
            "H * * * * /bin/hashed",
            "61 * * * * /bin/bad-minute",
            "* * * /bin/too-short",
            "CRON_TZ=Mars/Olympus",
            "0 1 * * * /bin/on-mars",
            "CRON_TZ=UTC",
            "0 2 * * * /bin/fine",
            "0 3 * * * %only-input",
        ]
    )
    result = read_crontab(text)
    assert [t.name for t in result.tasks] == ["fine"]
    reasons = {r.line: r.reason for r in result.refused}
    assert "@reboot is not supported" in reasons[1]
    assert "H (a hash of the job name" in reasons[2]
    assert reasons[3].startswith("schedule '61 * * * *': ") and "minute" in reasons[3]
    assert reasons[4] == "expected the schedule, then a command"
    assert reasons[6].startswith("CRON_TZ: unknown timezone 'Mars/Olympus'")
    assert reasons[9] == "the command is empty"


def test_names_are_unique_prefixed_and_avoid_taken_ones() -> None:
    text = "0 1 * * * /bin/job\n0 2 * * * /opt/job.sh\n0 3 * * * python3 -u /opt/job.py"
    options = CrontabOptions(prefix="legacy-", taken=frozenset({"legacy-job"}))
    names = [t.name for t in read_crontab(text, options).tasks]
    assert names == ["legacy-job-2", "legacy-job-3", "legacy-job-4"]
    assert derive_name("cd /srv && python3 manage.py x") == "manage"
    assert derive_name("FOO=1 nice -n 10 /opt/rotate-logs") == "rotate-logs"
    assert derive_name("'unbalanced") == "unbalanced"
    assert derive_name("%%%") == "cron-job"
