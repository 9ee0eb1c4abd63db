"""Migration 0028 fills the runs' admission columns from their specs, on both backends, the
same as a run made now gets them (`admission_columns`); the downgrade drops them and keeps
the spec."""

from __future__ import annotations

import json
from typing import Any

from alembic import command
from sqlalchemy import inspect, text

from app.bootstrap import alembic_config
from app.db.engine import make_engine
from app.domain.admission import admission_columns

SPECS: dict[str, dict[str, Any]] = {
    "nothing": {"command": "true"},
    "task-like": {"command": "true", "cpus": None, "gpus": [], "pool": None, "locks": []},
    "pool": {"command": "true", "pool": "etl", "pool_slots": 3},
    "pool-one-slot": {"command": "true", "pool": "etl"},
    "empty-pool": {"command": "true", "pool": "", "pool_slots": 2},
    "locks": {
        "command": "true",
        "locks": [{"name": "s3", "mode": "shared"}, {"name": "db-main", "mode": "exclusive"}],
    },
    "lock-no-mode": {"command": "true", "locks": [{"name": "db"}]},
    "cores": {"command": "true", "cpus": 2.5},
    "named-gpus": {"command": "true", "gpus": [0, 3], "gpu_count": 5},
    "any-gpus": {"command": "true", "gpu_count": 2},
    "all": {
        "command": "true",
        "pool": "gpu",
        "pool_slots": 2,
        "locks": [{"name": "x", "mode": "exclusive"}],
        "cpus": 8,
        "gpu_count": 1,
    },
}


def _insert(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        for key, spec in SPECS.items():
            connection.execute(
                text(
                    "INSERT INTO run (occurrence_key, status, trigger_kind, attempt, agent_seq,"
                    " spec, instance) VALUES (:k, 'RUNNING', 'manual', 1, 0, :s, 'default')"
                ),
                {"k": key, "s": json.dumps(spec)},
            )
    engine.dispose()


def _rows(url: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT * FROM run ORDER BY id")).mappings().all()
    engine.dispose()
    rows = {}
    for r in found:
        spec = json.loads(r["spec"]) if isinstance(r["spec"], str) else r["spec"]
        asks = {k: r[k] for k in ("pool", "pool_slots", "locks", "cores", "gpus") if k in r}
        rows[r["occurrence_key"]] = (spec, asks)
    return rows


def test_the_admission_columns_are_filled_from_the_specs(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0026")
    _insert(database_url)
    command.upgrade(config, "head")
    rows = _rows(database_url)
    assert {key: spec for key, (spec, _) in rows.items()} == SPECS  # specs kept as they were
    assert {key: asks for key, (_, asks) in rows.items()} == {
        key: admission_columns(spec) for key, spec in SPECS.items()
    }
    assert rows["all"][1] == {
        "pool": "gpu",
        "pool_slots": 2,
        "locks": "xx",
        "cores": 8.0,
        "gpus": 1,
    }
    assert rows["locks"][1]["locks"] == "ss3\nxdb-main"  # in the spec's order
    assert rows["named-gpus"][1]["gpus"] == 2  # the GPUs it names, not its count
    assert rows["nothing"][1] == {
        "pool": None,
        "pool_slots": 1,
        "locks": None,
        "cores": 0.0,
        "gpus": 0,
    }

    command.downgrade(config, "0026")
    engine = make_engine(database_url)
    names = {c["name"] for c in inspect(engine).get_columns("run")}
    engine.dispose()
    assert not names & {"pool", "pool_slots", "locks", "cores", "gpus"}
    assert {key: spec for key, (spec, _) in _rows(database_url).items()} == SPECS
    command.upgrade(config, "head")
