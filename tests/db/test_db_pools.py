"""Pool rows: the placement policy a pool's runs get."""

from __future__ import annotations

from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.pool_tables import Pool
from app.db.pools import pool_placement


def test_a_pools_placement_falls_back_to_the_setting(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        session.add_all([Pool(name="gpu", slots=4, placement="pack"), Pool(name="etl", slots=2)])
        session.flush()
        assert pool_placement(session, "default", "gpu", "spread") == "pack"
        assert pool_placement(session, "default", "etl", "spread") == "spread"
        assert pool_placement(session, "default", None, "pack") == "pack"
