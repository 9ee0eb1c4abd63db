"""Pools through the Python client against a real server and agent: a pool of one slot runs
one run at a time, the other waits with the pool named and a queue position, a kill frees
the slot."""

from __future__ import annotations

import uuid

from support import wait_for

from app.client import Almanac


def test_a_pool_of_one_slot_queues_the_second_run(client: Almanac, agent_name: str) -> None:
    name = f"client-pool-{uuid.uuid4().hex[:6]}"
    assert client.pools.create(name, 1, description="one at a time")["slots"] == 1
    task = client.tasks.create(name=name, command="sleep 30", pool=name, target=agent_name)
    first = client.tasks.run(task["tid"])
    wait_for(lambda: first.refresh().status == "RUNNING", timeout=30)
    second = client.tasks.run(task["tid"], priority=10)
    shown = wait_for(
        lambda: (p := client.pools.get(name))["queued"] and p["queued"][0]["reason"] and p,
        timeout=30,
    )
    assert (shown["used"], shown["holders"]) == (1, [first.id])
    queued = shown["queued"][0]
    assert (queued["position"], queued["run"], queued["priority"]) == (1, second.id, 10)
    assert queued["reason"] == f"waiting for pool {name}: 1 of 1 slots used (run {first.id})"
    assert [p["name"] for p in client.pools.list() if p["name"] == name] == [name]

    first.kill()
    wait_for(lambda: second.refresh().status == "RUNNING", timeout=30)
    second.kill()
    wait_for(lambda: second.refresh().done, timeout=30)
    client.tasks.delete(task["tid"])
    client.pools.delete(name)
    assert all(p["name"] != name for p in client.pools.list())
