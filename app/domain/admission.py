"""Admission gates: may a run start now as far as pools, locks and its instance's quota go?

Pure: the caller describes what each run asks (`Ask`) and what the runs on agents hold
(`Holdings.hold`), then asks the gates about each waiting run in queue order (priority first,
then oldest). `admit` answers None or the reason the run waits; `take` records what an
admitted run now holds, `refuse` what a refused run queues for, so later runs in the same
pass see both.

Places in the queue are kept, so nobody starves:
- a run refused for want of pool slots keeps its place: no run behind it in the queue takes a
  slot of that pool until it has started (a run of 3 slots is not overtaken forever by runs
  of 1);
- a run refused an exclusive lock keeps its place: no run behind it, shared or exclusive, is
  admitted on that lock until it has started (writers are not starved by a stream of readers).
Pools and locks are per instance: team-a's `db-main` is not team-b's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Protocol

PRIORITY_MIN = -100
PRIORITY_MAX = 100
LOCK_MODES = ("exclusive", "shared")
LockMode = Literal["exclusive", "shared"]
# What a denial is about: the class Prometheus counts waiting runs by.
GateKind = Literal["quota", "pool", "lock"]
_SHOWN = 5  # run ids named in a reason


@dataclass(frozen=True, kw_only=True)
class LockWant:
    name: str
    mode: LockMode


@dataclass(frozen=True, kw_only=True)
class Ask:
    """What one run asks of the gates."""

    run_id: int
    instance: str
    pool: str | None = None
    pool_slots: int = 1
    locks: tuple[LockWant, ...] = ()
    cores: float = 0.0
    gpus: int = 0


@dataclass(frozen=True, kw_only=True)
class Quota:
    """None: no limit on that count."""

    max_runs: int | None = None
    max_cores: float | None = None
    max_gpus: int | None = None


@dataclass(frozen=True, kw_only=True)
class Denial:
    kind: GateKind
    name: str  # the pool, the lock or the instance
    detail: str


@dataclass(kw_only=True)
class PoolUse:
    slots: int
    holders: dict[int, int] = field(default_factory=dict)  # run id -> slots it holds
    first_waiter: int | None = None

    @property
    def used(self) -> int:
        return sum(self.holders.values())


@dataclass(kw_only=True)
class LockUse:
    exclusive: list[int] = field(default_factory=list)
    shared: list[int] = field(default_factory=list)
    writer_waiting: int | None = None


@dataclass(kw_only=True)
class Usage:
    runs: int = 0
    cores: float = 0.0
    gpus: int = 0


def reason_class(reason: str | None) -> str:
    """The class of a waiting run's reason, for counting: pool, lock, quota, agent, other."""
    if not reason:
        return "none"
    if reason.startswith("waiting for pool "):
        return "pool"
    if reason.startswith("waiting for lock "):
        return "lock"
    if reason.startswith("instance ") and " at its quota of " in reason:
        return "quota"
    if "agent" in reason or reason.startswith("waiting for a free slot"):
        return "agent"
    return "other"


def is_gate_reason(reason: str) -> bool:
    return reason_class(reason) in ("pool", "lock", "quota")


def ask_of(run_id: int, instance: str, spec: Mapping[str, Any]) -> Ask:
    """The ask a run's spec makes (its `pool`, `pool_slots`, `locks`, `cpus` and GPUs)."""
    locks = tuple(
        LockWant(
            name=str(lock["name"]),
            mode="exclusive" if lock.get("mode") == "exclusive" else "shared",
        )
        for lock in spec.get("locks") or ()
    )
    gpus = spec.get("gpus") or []
    return Ask(
        run_id=run_id,
        instance=instance,
        pool=spec.get("pool") or None,
        pool_slots=int(spec.get("pool_slots") or 1),
        locks=locks,
        cores=float(spec.get("cpus") or 0),
        gpus=len(gpus) if gpus else int(spec.get("gpu_count") or 0),
    )


class Asking(Protocol):
    """A run as its row has what it asks (the `run` columns `admission_columns` fills)."""

    @property
    def id(self) -> int | None: ...
    @property
    def instance(self) -> str: ...
    @property
    def pool(self) -> str | None: ...
    @property
    def pool_slots(self) -> int: ...
    @property
    def locks(self) -> str | None: ...
    @property
    def cores(self) -> float: ...
    @property
    def gpus(self) -> int: ...


def admission_columns(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's spec asks of the gates as the run's plain columns: `pool`, `pool_slots`,
    `locks` (`locks_text`), `cores` and `gpus` (counts towards its instance's quota). A pass
    reads these, never the spec's JSON, for the thousands of runs on agents."""
    ask = ask_of(0, "", spec)
    return {
        "pool": ask.pool,
        "pool_slots": ask.pool_slots,
        "locks": locks_text(ask.locks),
        "cores": ask.cores,
        "gpus": ask.gpus,
    }


def ask_of_row(run: Asking) -> Ask:
    """The ask a run's admission columns make (`admission_columns`)."""
    return ask_of_columns(
        run.id or 0, run.instance, run.pool, run.pool_slots, run.locks, run.cores, run.gpus
    )


def ask_of_columns(
    run_id: int,
    instance: str,
    pool: str | None,
    pool_slots: int | None,
    locks: str | None,
    cores: float | None = 0.0,
    gpus: int | None = 0,
) -> Ask:
    """The ask of a run's admission columns as read apart (cores and GPUs only where a quota
    counts them)."""
    return Ask(
        run_id=run_id,
        instance=instance,
        pool=pool or None,
        pool_slots=pool_slots or 1,
        locks=locks_of_text(locks),
        cores=float(cores or 0),
        gpus=gpus or 0,
    )


def locks_text(locks: Iterable[LockWant]) -> str | None:
    """Locks as one short text: a line each, `x` (exclusive) or `s` (shared) then the name,
    in the order asked (the first refusal is the reason); None for none. Lock names hold no
    control characters (app/domain/names.py)."""
    lines = [f"{'x' if lock.mode == 'exclusive' else 's'}{lock.name}" for lock in locks]
    return "\n".join(lines) or None


@lru_cache(maxsize=4096)
def locks_of_text(text: str | None) -> tuple[LockWant, ...]:
    """The locks `locks_text` wrote (shared: LockWant is frozen)."""
    if not text:
        return ()
    return tuple(
        LockWant(name=line[1:], mode="exclusive" if line[0] == "x" else "shared")
        for line in text.split("\n")
    )


def merged_locks(
    inherited: Iterable[Mapping[str, str]], own: Iterable[Mapping[str, str]]
) -> list[dict[str, str]]:
    """A group's locks plus a task's own; the task's mode wins on a name both name."""
    by_name = {str(lock["name"]): str(lock["mode"]) for lock in inherited}
    by_name.update({str(lock["name"]): str(lock["mode"]) for lock in own})
    return [{"name": n, "mode": m} for n, m in sorted(by_name.items())]


def _runs(ids: Iterable[int]) -> str:
    ordered = sorted(ids)
    words = ", ".join(str(i) for i in ordered[:_SHOWN])
    more = f" +{len(ordered) - _SHOWN} more" if len(ordered) > _SHOWN else ""
    return ("run " if len(ordered) == 1 else "runs ") + words + more


def _num(value: float) -> str:
    return f"{value:g}"


class Holdings:
    """What is held now (pools, locks, each instance's usage) and the limits on it."""

    def __init__(
        self,
        *,
        pools: Mapping[tuple[str, str], int] | None = None,
        quotas: Mapping[str, Quota] | None = None,
    ) -> None:
        self.pools: dict[tuple[str, str], PoolUse] = {
            key: PoolUse(slots=slots) for key, slots in (pools or {}).items()
        }
        self.quotas = dict(quotas or {})
        self.locks: dict[tuple[str, str], LockUse] = {}
        self.usage: dict[str, Usage] = {}

    def hold(self, ask: Ask, *, run_id: int | None = None) -> None:
        """Record what a run on an agent (or just admitted) holds; `run_id`: the run's, where
        `ask` is one shared by runs that ask alike."""
        held_by = ask.run_id if run_id is None else run_id
        use = self.usage.setdefault(ask.instance, Usage())
        use.runs += 1
        use.cores += ask.cores
        use.gpus += ask.gpus
        if ask.pool:
            pool = self.pools.get((ask.instance, ask.pool))
            if pool is not None:
                pool.holders[held_by] = ask.pool_slots
        for lock in ask.locks:
            state = self.locks.setdefault((ask.instance, lock.name), LockUse())
            (state.exclusive if lock.mode == "exclusive" else state.shared).append(held_by)

    def hold_alike(self, ask: Ask, count: int) -> None:
        """Record `count` runs on agents that each hold what `ask` asks: only their instance's
        usage (they draw from no pool and hold no lock), added one by one as `hold` would."""
        assert not ask.pool and not ask.locks
        use = self.usage.setdefault(ask.instance, Usage())
        for _ in range(count):
            use.runs += 1
            use.cores += ask.cores
            use.gpus += ask.gpus

    def take(self, ask: Ask) -> None:
        """An admitted run starts: it holds what it asked, and any place it kept is freed."""
        self.hold(ask)
        if ask.pool:
            pool = self.pools.get((ask.instance, ask.pool))
            if pool is not None and pool.first_waiter == ask.run_id:
                pool.first_waiter = None
        for lock in ask.locks:
            state = self.locks[(ask.instance, lock.name)]
            if state.writer_waiting == ask.run_id:
                state.writer_waiting = None

    def release(self, ask: Ask) -> None:
        """Undo `take` for a run admitted that did not start after all."""
        use = self.usage.get(ask.instance)
        if use is not None:
            use.runs -= 1
            use.cores -= ask.cores
            use.gpus -= ask.gpus
        if ask.pool:
            pool = self.pools.get((ask.instance, ask.pool))
            if pool is not None:
                pool.holders.pop(ask.run_id, None)
        for lock in ask.locks:
            state = self.locks.get((ask.instance, lock.name))
            if state is not None:
                for held in (state.exclusive, state.shared):
                    if ask.run_id in held:
                        held.remove(ask.run_id)

    def admit(self, ask: Ask) -> Denial | None:
        """None: the gates let the run start; else the first reason it waits."""
        denials = self.denials(ask)
        return denials[0] if denials else None

    def refuse(self, ask: Ask, denials: Iterable[Denial]) -> None:
        """A refused run keeps its place on the pool and exclusive locks that refused it."""
        for denial in denials:
            if denial.kind == "pool":
                pool = self.pools.get((ask.instance, denial.name))
                fits = pool is not None and ask.pool_slots <= pool.slots  # it may start one day
                if pool is not None and fits and pool.first_waiter is None:
                    pool.first_waiter = ask.run_id
            elif denial.kind == "lock":
                wanted = {lock.name: lock.mode for lock in ask.locks}
                state = self.locks.setdefault((ask.instance, denial.name), LockUse())
                if wanted.get(denial.name) == "exclusive" and state.writer_waiting is None:
                    state.writer_waiting = ask.run_id

    def closed_pools(self) -> list[tuple[str, str]]:
        """Pools no run further down the queue can take a slot of now: full, or kept for a
        run ahead."""
        return sorted(
            key
            for key, pool in self.pools.items()
            if pool.used >= pool.slots or pool.first_waiter is not None
        )

    def denials(self, ask: Ask) -> list[Denial]:
        """Every gate that keeps the run waiting, quota first, then pool, then locks."""
        found = self._quota(ask)
        pool = self._pool(ask)
        if pool is not None:
            found.append(pool)
        found += self._locks(ask)
        return found

    def _quota(self, ask: Ask) -> list[Denial]:
        quota = self.quotas.get(ask.instance)
        if quota is None:
            return []
        use = self.usage.get(ask.instance) or Usage()
        name = ask.instance
        if quota.max_runs is not None and use.runs + 1 > quota.max_runs:
            text = f"instance {name} at its quota of {quota.max_runs} concurrent runs"
            return [Denial(kind="quota", name=name, detail=text)]
        if quota.max_cores is not None and ask.cores and use.cores + ask.cores > quota.max_cores:
            text = (
                f"instance {name} at its quota of {_num(quota.max_cores)} cores "
                f"({_num(use.cores)} in use, this run asks {_num(ask.cores)})"
            )
            return [Denial(kind="quota", name=name, detail=text)]
        if quota.max_gpus is not None and ask.gpus and use.gpus + ask.gpus > quota.max_gpus:
            text = (
                f"instance {name} at its quota of {quota.max_gpus} GPUs "
                f"({use.gpus} in use, this run asks {ask.gpus})"
            )
            return [Denial(kind="quota", name=name, detail=text)]
        return []

    def _pool(self, ask: Ask) -> Denial | None:
        if not ask.pool:
            return None
        name = ask.pool
        pool = self.pools.get((ask.instance, name))
        if pool is None:
            text = f"waiting for pool {name}, which instance {ask.instance} does not have"
            return Denial(kind="pool", name=name, detail=text)
        if ask.pool_slots > pool.slots:
            text = (
                f"waiting for pool {name}: it has {pool.slots} slots, "
                f"this run asks {ask.pool_slots}"
            )
            return Denial(kind="pool", name=name, detail=text)
        used = pool.used
        if used + ask.pool_slots > pool.slots:
            held = f" ({_runs(pool.holders)})" if pool.holders else ""
            asks = f", this run asks {ask.pool_slots}" if ask.pool_slots > 1 else ""
            text = f"waiting for pool {name}: {used} of {pool.slots} slots used{held}{asks}"
            return Denial(kind="pool", name=name, detail=text)
        if pool.first_waiter not in (None, ask.run_id):
            text = (
                f"waiting for pool {name}: run {pool.first_waiter} is ahead in its queue "
                f"({used} of {pool.slots} slots used)"
            )
            return Denial(kind="pool", name=name, detail=text)
        return None

    def _locks(self, ask: Ask) -> list[Denial]:
        found = []
        for lock in ask.locks:
            state = self.locks.get((ask.instance, lock.name)) or LockUse()
            text = _lock_conflict(lock, state, ask.run_id)
            if text is not None:
                found.append(Denial(kind="lock", name=lock.name, detail=text))
        return found


def _lock_conflict(lock: LockWant, state: LockUse, run_id: int) -> str | None:
    name = lock.name
    if state.exclusive:
        return f"waiting for lock {name} held exclusively by {_runs(state.exclusive)}"
    if lock.mode == "exclusive" and state.shared:
        return f"waiting for lock {name} held shared by {_runs(state.shared)}"
    if state.writer_waiting not in (None, run_id):
        return (
            f"waiting for lock {name}: run {state.writer_waiting} waits ahead of this run "
            "to hold it exclusively"
        )
    return None
