"""JSON logs: one object a line, with the run id and other context passed as `extra`."""

from __future__ import annotations

import json
import logging

from app.logs import JsonFormatter


def test_a_record_becomes_one_json_object_with_its_context() -> None:
    record = logging.makeLogRecord(
        {
            "name": "almanac.scheduler",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "run %d dispatched to %s",
            "args": (42, "a1"),
            "run_id": 42,
            "agent": "a1",
            "created": 1767225600.123456,
        }
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry == {
        "ts": "2026-01-01T00:00:00.123456+00:00",
        "level": "info",
        "logger": "almanac.scheduler",
        "message": "run 42 dispatched to a1",
        "run_id": 42,
        "agent": "a1",
    }
