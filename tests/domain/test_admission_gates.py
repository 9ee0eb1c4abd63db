"""The admission gates, pure: pools, locks, quotas, places kept in the queue."""

from __future__ import annotations

from app.domain.admission import Ask, Holdings, LockWant, Quota, ask_of, merged_locks


def _ask(run_id: int, **fields: object) -> Ask:
    return Ask(run_id=run_id, instance=str(fields.pop("instance", "a")), **fields)  # type: ignore[arg-type]


def _x(name: str) -> tuple[LockWant, ...]:
    return (LockWant(name=name, mode="exclusive"),)


def _s(name: str) -> tuple[LockWant, ...]:
    return (LockWant(name=name, mode="shared"),)


def test_a_full_pool_names_its_holders() -> None:
    gates = Holdings(pools={("a", "etl"): 3})
    for run_id in (12, 15, 19):
        gates.hold(_ask(run_id, pool="etl"))
    denial = gates.admit(_ask(20, pool="etl"))
    assert denial is not None and denial.kind == "pool"
    assert denial.detail == "waiting for pool etl: 3 of 3 slots used (runs 12, 15, 19)"


def test_pool_slots_add_up_and_a_big_ask_keeps_its_place() -> None:
    gates = Holdings(pools={("a", "etl"): 3})
    gates.take(_ask(1, pool="etl", pool_slots=2))
    big = _ask(2, pool="etl", pool_slots=2)
    denials = gates.denials(big)
    assert [d.kind for d in denials] == ["pool"]
    gates.refuse(big, denials)
    small = gates.admit(_ask(3, pool="etl"))  # one slot is free, but run 2 is first in line
    assert small is not None and "run 2 is ahead" in small.detail


def test_pools_are_per_instance_and_an_unknown_one_is_named() -> None:
    gates = Holdings(pools={("a", "etl"): 1})
    gates.take(_ask(1, pool="etl"))
    denial = gates.admit(_ask(2, pool="etl", instance="b"))
    assert denial is not None and "instance b does not have" in denial.detail
    too_big = gates.admit(_ask(3, pool="etl", pool_slots=2))
    assert too_big is not None and "it has 1 slots, this run asks 2" in too_big.detail


def test_exclusive_excludes_everyone_shared_holders_share() -> None:
    gates = Holdings()
    gates.take(_ask(44, locks=_x("db-main")))
    denial = gates.admit(_ask(45, locks=_s("db-main")))
    assert (
        denial is not None
        and denial.detail == "waiting for lock db-main held exclusively by run 44"
    )
    other = Holdings()
    other.take(_ask(1, locks=_s("db-main")))
    assert other.admit(_ask(2, locks=_s("db-main"))) is None
    writer = other.admit(_ask(3, locks=_x("db-main")))
    assert writer is not None and writer.detail == "waiting for lock db-main held shared by run 1"


def test_a_waiting_writer_is_not_overtaken_by_new_readers() -> None:
    gates = Holdings()
    gates.take(_ask(1, locks=_s("db-main")))
    writer = _ask(2, locks=_x("db-main"))
    gates.refuse(writer, gates.denials(writer))
    reader = gates.admit(_ask(3, locks=_s("db-main")))
    assert reader is not None and "run 2 waits ahead" in reader.detail
    # the writer itself is only held back by the reader that holds the lock
    again = gates.admit(writer)
    assert again is not None and "held shared by run 1" in again.detail


def test_locks_are_per_instance() -> None:
    gates = Holdings()
    gates.take(_ask(1, locks=_x("db-main")))
    assert gates.admit(_ask(2, locks=_x("db-main"), instance="b")) is None


def test_quotas_name_the_quota() -> None:
    gates = Holdings(quotas={"team-a": Quota(max_runs=2, max_cores=8, max_gpus=1)})
    gates.take(_ask(1, instance="team-a", cores=6))
    cores = gates.admit(_ask(2, instance="team-a", cores=4))
    assert cores is not None and cores.kind == "quota"
    assert cores.detail == "instance team-a at its quota of 8 cores (6 in use, this run asks 4)"
    gates.take(_ask(3, instance="team-a", gpus=1))
    runs = gates.admit(_ask(4, instance="team-a"))
    assert runs is not None and runs.detail == "instance team-a at its quota of 2 concurrent runs"
    assert gates.admit(_ask(5, instance="team-b")) is None


def test_gpu_quota() -> None:
    gates = Holdings(quotas={"a": Quota(max_gpus=2)})
    gates.take(_ask(1, gpus=2))
    denial = gates.admit(_ask(2, gpus=1))
    assert denial is not None and "quota of 2 GPUs (2 in use, this run asks 1)" in denial.detail
    assert gates.admit(_ask(3)) is None


def test_ask_of_a_spec_and_merged_locks() -> None:
    spec = {
        "pool": "etl",
        "pool_slots": 2,
        "locks": [{"name": "db", "mode": "exclusive"}],
        "cpus": 1.5,
        "gpus": [0, 1],
    }
    ask = ask_of(7, "a", spec)
    assert (ask.pool, ask.pool_slots, ask.cores, ask.gpus) == ("etl", 2, 1.5, 2)
    assert ask.locks == _x("db")
    assert ask_of(8, "a", {"gpu_count": 3}).gpus == 3
    merged = merged_locks(
        [{"name": "db", "mode": "shared"}, {"name": "s3", "mode": "shared"}],
        [{"name": "db", "mode": "exclusive"}],
    )
    assert merged == [{"name": "db", "mode": "exclusive"}, {"name": "s3", "mode": "shared"}]


def test_many_holders_are_shortened() -> None:
    gates = Holdings(pools={("a", "p"): 7})
    for run_id in range(1, 8):
        gates.take(_ask(run_id, pool="p"))
    denial = gates.admit(_ask(9, pool="p"))
    assert denial is not None and "(runs 1, 2, 3, 4, 5 +2 more)" in denial.detail


def test_release_undoes_take() -> None:
    gates = Holdings(pools={("default", "p"): 1}, quotas={"default": Quota(max_runs=1)})
    lock = (LockWant(name="db", mode="exclusive"),)
    first = Ask(run_id=1, instance="default", pool="p", locks=lock, cores=2, gpus=1)
    second = Ask(run_id=2, instance="default", pool="p", locks=lock)
    gates.take(first)
    assert [d.kind for d in gates.denials(second)] == ["quota", "pool", "lock"]
    gates.release(first)
    assert gates.denials(second) == []
    use = gates.usage["default"]
    assert (use.runs, use.cores, use.gpus) == (0, 0.0, 0)
