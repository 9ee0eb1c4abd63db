"""Pure domain: statuses, schedules, calendars, triggers, DAG rules. No I/O here."""
