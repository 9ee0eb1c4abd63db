"""One dispatch pass's placement: many runs onto many agents, fast.

Runs are placed one after another (oldest first); each placement adds to what its agent holds,
so nothing in a pass can be over-committed. What makes it fast at 1,000 agents and thousands
of runs a pass:
- the agents a kind of run may use (`eligible`: target, labels, Docker, health, policy) are
  worked out once per kind, not once per run;
- for each kind and request, the agents that could ever hold it wait in a queue ordered by
  the policy (spread: fewest runs first; pack: the busiest first, filled in turn); an agent
  that has no room for that request now is dropped from that queue for the rest of the pass,
  since within a pass what agents hold only grows;
- a request that found no agent fails at once for every later run asking the same.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from app.domain.capacity import Allocation, Capacity, Gpu, Request, fit, never_fits, request_of
from app.domain.placement import AgentSlot, Policy, eligible

_SHOWN = 4  # agents named in a reason before "(+N more)"
_UNLIMITED = Capacity(cores=float("inf"), memory=2**62)


@dataclass(frozen=True)
class Placement:
    agent: AgentSlot
    allocation: Allocation


def capacity_for(slot: AgentSlot, request: Request) -> Capacity:
    """An agent that reports no capacity (older agents, fakes) is not counted on cores and
    memory; the GPUs a run names are taken as there, still one run each."""
    if slot.capacity is not None:
        return slot.capacity
    return Capacity(
        cores=_UNLIMITED.cores,
        memory=_UNLIMITED.memory,
        gpus=tuple(Gpu(index=i) for i in request.gpus),
    )


class _Queue:
    """The agents that could hold one request, in the policy's order."""

    def __init__(self, agents: list[AgentSlot], policy: Policy) -> None:
        self.policy = policy
        self.heap: list[tuple[int, str, int]] = []
        self.order: list[AgentSlot] = []
        self.slots = agents
        if policy == "spread":
            self.heap = [(a.running, a.name, i) for i, a in enumerate(agents)]
            heapq.heapify(self.heap)
        else:  # pack: the busiest first, each filled before the next
            self.order = sorted(agents, key=lambda a: (-a.running, a.name))
        self.next = 0

    def take(self, request: Request) -> Placement | None:
        return self._spread(request) if self.policy == "spread" else self._pack(request)

    def _spread(self, request: Request) -> Placement | None:
        while self.heap:
            running, name, i = self.heap[0]
            slot = self.slots[i]
            if running != slot.running:  # placed by another queue meanwhile
                heapq.heapreplace(self.heap, (slot.running, name, i))
                continue
            held = _fits(slot, request)
            if held is None:
                heapq.heappop(self.heap)  # full for this request for the rest of the pass
                continue
            _hold(slot, held)
            heapq.heapreplace(self.heap, (slot.running, name, i))
            return Placement(slot, held)
        return None

    def _pack(self, request: Request) -> Placement | None:
        while self.next < len(self.order):
            slot = self.order[self.next]
            held = _fits(slot, request)
            if held is None:
                self.next += 1
                continue
            _hold(slot, held)
            return Placement(slot, held)
        return None


def _fits(slot: AgentSlot, request: Request) -> Allocation | None:
    if not slot.has_room:
        return None
    held = fit(request, capacity_for(slot, request), slot.allocated)
    return None if isinstance(held, str) else held


def _hold(slot: AgentSlot, held: Allocation) -> None:
    slot.running += 1
    slot.allocated.add(held)


_KIND = ("target", "image", "run_as_user", "privileged")
_ASKS = ("cpus", "memory", "gpu_count", "numa_node")


def _frozen(value: object) -> object:
    """A hashable stand-in for a JSON value."""
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _kind(spec: Mapping[str, object]) -> tuple[object, ...]:
    """What `eligible` reads of a spec: runs alike in these go to the same agents."""
    return (
        *(spec.get(k) for k in _KIND),
        _frozen(spec.get("labels") or {}),
        _frozen(spec.get("mounts") or ()),
    )


def _asks(spec: Mapping[str, object]) -> tuple[object, ...]:
    """What `request_of` reads of a spec, as it is written."""
    return (*(spec.get(k) for k in _ASKS), _frozen(spec.get("gpus") or ()))


class Placer:
    def __init__(
        self,
        agents: Sequence[AgentSlot],
        *,
        policy: Policy = "spread",
        offline: Sequence[AgentSlot] | Callable[[], Sequence[AgentSlot]] = (),
    ) -> None:
        """`offline`: agents known but not connected, named in reasons; or what reads them,
        called once, when a reason first needs them (most passes place all they judge)."""
        self.agents = list(agents)
        self.policy = policy
        self._offline_source = offline
        self._offline: list[AgentSlot] | None = None
        self._eligible: dict[tuple[object, ...], list[AgentSlot] | str] = {}
        self._requests: dict[tuple[object, ...], Request] = {}
        self._queues: dict[tuple[tuple[object, ...], Request], _Queue] = {}
        # Within a pass what agents hold only grows: a kind of run and request that found
        # no agent finds none for the rest of the pass.
        self._failed: dict[tuple[tuple[object, ...], tuple[object, ...]], str] = {}
        # A pass reads runs of one task as one shared spec: its kind and asks are worked out
        # once (the spec is kept, so its id is not reused while the pass lasts).
        self._shapes: dict[
            int, tuple[Mapping[str, object], tuple[object, ...], tuple[object, ...]]
        ] = {}

    @property
    def offline(self) -> list[AgentSlot]:
        if self._offline is None:
            source = self._offline_source
            self._offline = list(source() if callable(source) else source)
        return self._offline

    def place(self, spec: Mapping[str, object], *, shared: bool = False) -> Placement | str:
        """Where `spec` runs and what it holds there (now counted as held), or why it
        waits. `shared`: a spec many runs of the pass share, unchanged while the pass lasts
        (what placement reads of it is then worked out once)."""
        if shared:
            shape = self._shapes.get(id(spec))
            if shape is None or shape[0] is not spec:
                shape = self._shapes[id(spec)] = (spec, _kind(spec), _asks(spec))
            _, kind, asks = shape
        else:
            kind, asks = _kind(spec), _asks(spec)
        failed = self._failed.get((kind, asks))
        if failed is not None:
            return failed
        agents = self._eligible.get(kind)
        if agents is None:
            agents = self._eligible[kind] = eligible(spec, self.agents)
            if isinstance(agents, str) and self.offline:
                agents = self._eligible[kind] = agents + self._away(spec)
        if isinstance(agents, str):
            return agents
        request = self._requests.get(asks)
        if request is None:
            request = self._requests[asks] = request_of(spec)
        key = (kind, request)
        queue = self._queues.get(key)
        if queue is None:
            able = [
                a
                for a in agents
                if not a.draining and never_fits(request, capacity_for(a, request)) is None
            ]
            queue = self._queues[key] = _Queue(able, self.policy)
        placed = queue.take(request)
        if placed is None:
            self._failed[(kind, asks)] = reason = self._short(spec, request, agents)
            return reason
        return placed

    def _offline_names(self, spec: Mapping[str, object]) -> list[str]:
        """Known agents that are not connected but could take `spec`."""
        away = eligible(spec, self.offline) if self.offline else []
        if isinstance(away, str):
            return []
        return [f"{a.name} is offline" for a in sorted(away, key=lambda a: a.name)]

    def _away(self, spec: Mapping[str, object]) -> str:
        names = self._offline_names(spec)
        shown = names[:_SHOWN] + ([f"+{len(names) - _SHOWN} more"] if len(names) > _SHOWN else [])
        return f" ({', '.join(shown)})" if shown else ""

    def _short(self, spec: Mapping[str, object], request: Request, agents: list[AgentSlot]) -> str:
        """Why no agent takes `request` now: the first few agents' shortfalls (by name),
        how many more, and the offline agents that could."""
        if request.empty:  # only slots count: say which agents are full and which draining
            return "waiting for a free slot: " + ", ".join(
                f"{a.name} is draining" if a.draining else f"{a.name} has no free slot"
                for a in sorted(agents, key=lambda a: a.name)
            )
        ordered = sorted(agents, key=lambda a: a.name)
        shown = [self._note(request, slot) for slot in ordered[:_SHOWN]]
        never = all(never_fits(request, capacity_for(slot, request)) for slot in ordered)
        away = self._offline_names(spec)
        shown += away[: max(_SHOWN - len(shown), 0)]
        more = len(ordered) + len(away) - len(shown)
        if more > 0:
            shown.append(f"+{more} more")
        prefix = "no agent could ever hold it: " if never and not away else ""
        return f"{prefix}needs {request.words()}; " + ", ".join(shown)

    @staticmethod
    def _note(request: Request, slot: AgentSlot) -> str:
        capacity = capacity_for(slot, request)
        too_big = never_fits(request, capacity)
        if too_big is not None:
            return f"{slot.name} has only {too_big[1]}"
        if slot.draining:
            return f"{slot.name} is draining"
        if not slot.has_room:
            return f"{slot.name} has no free slot"
        return f"{slot.name} has {fit(request, capacity, slot.allocated)}"


def choose_agent(
    spec: Mapping[str, object],
    agents: Sequence[AgentSlot],
    *,
    policy: Policy = "spread",
    offline: Sequence[AgentSlot] = (),
) -> AgentSlot | str:
    """The agent to run `spec` on, or the reason why none can take it now."""
    placed = Placer(agents, policy=policy, offline=offline).place(spec)
    return placed if isinstance(placed, str) else placed.agent
