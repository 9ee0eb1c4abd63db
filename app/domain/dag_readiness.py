"""When a task in a group run may start, and what gets SKIPPED. Pure, no I/O.

Edge conditions against the upstream run's final status (:data:`SATISFIES`):

- ``success``: the upstream ended ``SUCCESS``;
- ``failure``: the upstream ended ``FAILED``. ``TERMINATED`` does not count: an operator stopping
  a run is not the failure a recovery task is waiting for, so the recovery task is skipped;
- ``done``: the upstream ended ``SUCCESS``, ``FAILED``, ``TERMINATED`` or ``SKIPPED``.
  ``REJECTED`` (an approval refused) satisfies no condition.

A task is READY when every incoming edge holds, IMPOSSIBLE as soon as one edge can no longer hold
(its upstream is terminal with another status), and WAITING otherwise. An upstream with no status
(no run yet) or a non-terminal one is waited for. A terminal status is taken as final: while an
upstream still has retries left, the caller passes it as non-terminal (e.g. ``ACTIVE``), so its
downstream waits for the last attempt instead of being skipped after the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.domain.dag_graph import Edge, EdgeCondition, Names, build_graph, label
from app.domain.states import TERMINAL, RunStatus

SATISFIES: Mapping[EdgeCondition, frozenset[RunStatus]] = {
    EdgeCondition.SUCCESS: frozenset({RunStatus.SUCCESS}),
    EdgeCondition.FAILURE: frozenset({RunStatus.FAILED}),
    EdgeCondition.DONE: frozenset(
        {RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.TERMINATED, RunStatus.SKIPPED}
    ),
}

# Statuses (None: no run yet) that propagate may move to "start" or to SKIPPED. Any other
# non-terminal run is on an agent or awaiting approval and is left to its own lifecycle.
MOVABLE: frozenset[RunStatus | None] = frozenset({None, RunStatus.IDLE, RunStatus.ACTIVE})


class Readiness(StrEnum):
    READY = "ready"
    WAITING = "waiting"
    IMPOSSIBLE = "impossible"


@dataclass(frozen=True)
class Verdict:
    """``waiting_for``: upstreams not yet terminal (WAITING only); ``reason``: IMPOSSIBLE only."""

    readiness: Readiness
    waiting_for: list[int]
    reason: str | None


def _reason(edge: Edge, status: RunStatus, names: Names | None) -> str:
    text = f"upstream {label(edge.upstream, names)} {status}"
    if edge.condition is not EdgeCondition.SUCCESS:
        text += f" (edge needs {edge.condition})"
    return text


def evaluate(
    node: int,
    incoming: Sequence[Edge],
    upstream_status: Mapping[int, RunStatus],
    names: Names | None = None,
) -> Verdict:
    """The verdict for ``node`` given its incoming edges and its upstreams' statuses.

    An IMPOSSIBLE reason names every edge that can no longer hold, by upstream id order, joined
    with ``"; "``, e.g. ``"upstream extract FAILED"``.
    """
    waiting: set[int] = set()
    reasons: list[str] = []
    for edge in sorted(incoming, key=lambda e: (e.upstream, e.condition)):
        if edge.downstream != node:
            raise ValueError(
                f"edge {label(edge.upstream, names)} -> {label(edge.downstream, names)} "
                f"does not lead to task {label(node, names)}"
            )
        status = upstream_status.get(edge.upstream)
        if status is None or status not in TERMINAL:
            waiting.add(edge.upstream)
        elif status not in SATISFIES[edge.condition]:
            reasons.append(_reason(edge, status, names))
    if reasons:
        return Verdict(Readiness.IMPOSSIBLE, [], "; ".join(reasons))
    if waiting:
        return Verdict(Readiness.WAITING, sorted(waiting), None)
    return Verdict(Readiness.READY, [], None)


@dataclass(frozen=True)
class Plan:
    """What to do with a group run's tasks now. Each non-terminal node is in exactly one part.

    - ``ready``: tasks not started yet whose conditions all hold: start them;
    - ``skip``: tasks not started yet that never can, with the reason: mark them SKIPPED.
      This is the final cascade: a task is skipped here too when its upstream is;
    - ``waiting``: tasks not started yet, with the upstreams they still wait for;
    - ``held``: tasks on an agent or awaiting approval; propagate leaves them alone.
    """

    ready: list[int]
    skip: dict[int, str]
    waiting: dict[int, list[int]]
    held: list[int]

    @property
    def verdicts(self) -> dict[int, Verdict]:
        """The verdict of every task that is not started yet, by id."""
        out: dict[int, Verdict] = {n: Verdict(Readiness.READY, [], None) for n in self.ready}
        out.update((n, Verdict(Readiness.IMPOSSIBLE, [], r)) for n, r in self.skip.items())
        out.update((n, Verdict(Readiness.WAITING, w, None)) for n, w in self.waiting.items())
        return dict(sorted(out.items()))


def propagate(
    nodes: Iterable[int],
    edges: Iterable[Edge],
    statuses: Mapping[int, RunStatus],
    names: Names | None = None,
) -> Plan:
    """Evaluate every task in topological order, cascading SKIPPED downstream in one pass.

    ``statuses`` holds the current status of each task's run; a task missing from it has no run
    yet. Entries for ids that are not nodes are ignored. A task found IMPOSSIBLE counts as
    SKIPPED for the tasks after it, so its ``success`` dependents are skipped too and its
    ``done`` dependents may be ready. Since every upstream is decided before its downstream,
    one pass reaches the fixed point: applying ``skip`` and calling again skips nothing new.
    """
    import networkx as nx  # loaded on first use, as in dag_graph

    edge_list = list(edges)
    graph = build_graph(nodes, edge_list, names)
    incoming: dict[int, list[Edge]] = {}
    for edge in edge_list:
        incoming.setdefault(edge.downstream, []).append(edge)
    effective = dict(statuses)
    ready: list[int] = []
    skip: dict[int, str] = {}
    waiting: dict[int, list[int]] = {}
    held: list[int] = []
    for node in nx.topological_sort(graph):
        status = effective.get(node)
        if status in TERMINAL:
            continue
        if status not in MOVABLE:
            held.append(node)
            continue
        verdict = evaluate(node, incoming.get(node, []), effective, names)
        if verdict.readiness is Readiness.READY:
            ready.append(node)
        elif verdict.readiness is Readiness.WAITING:
            waiting[node] = verdict.waiting_for
        else:
            skip[node] = verdict.reason or "upstream condition can no longer hold"
            effective[node] = RunStatus.SKIPPED
    return Plan(
        ready=sorted(ready),
        skip=dict(sorted(skip.items())),
        waiting=dict(sorted(waiting.items())),
        held=sorted(held),
    )


def may_skip(edges: Iterable[Edge], statuses: Mapping[int, RunStatus]) -> bool:
    """Whether `propagate` could skip anything: only when a task not started yet has an edge
    from an upstream that ended with a status the edge does not accept (a cascade starts at
    such a task). One pass over the edges: settling after every ended run of a group run
    needs no graph when nothing can be skipped, by far the usual case."""
    for edge in edges:
        upstream = statuses.get(edge.upstream)
        if (
            upstream in TERMINAL
            and upstream not in SATISFIES[edge.condition]
            and statuses.get(edge.downstream) in MOVABLE
        ):
            return True
    return False
