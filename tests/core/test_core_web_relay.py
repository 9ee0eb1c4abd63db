"""The change-feed codec of the cross-replica relay of live page updates."""

from __future__ import annotations

from app.web.events import Change
from app.web_relay import decode, encode


def test_changes_survive_the_round_trip_in_payloads_postgresql_accepts() -> None:
    change = Change(runs=frozenset(range(1, 1001)), logs=frozenset({7, 8}), agents=True)
    messages = encode("r1", change)
    assert len(messages) == 3 and all(len(m) < 8000 for m in messages)
    decoded = [decode(m) for m in messages]
    assert {d[0] for d in decoded if d} == {"r1"}
    runs = frozenset().union(*(d[1].runs for d in decoded if d))
    logs = frozenset().union(*(d[1].logs for d in decoded if d))
    assert runs == change.runs and logs == {7, 8}
    assert [d[1].agents for d in decoded if d] == [True, False, False]


def test_other_messages_are_not_changes() -> None:
    assert decode("dispatch") is None
    assert decode("web:broken") is None
