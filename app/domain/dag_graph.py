"""Dependency graph shape: edges, validation, cycles and orderings. Pure, no I/O.

Nodes are task ids (``int``). An edge ``upstream -> downstream`` carries the condition that the
upstream run's final status must meet before the downstream task may start (see
``app.domain.dag_readiness``). Every function validates its input the same way
(:func:`build_graph`): both ends of an edge are known nodes, no self-loops, no duplicate
``(upstream, downstream)`` pair, no cycle. All outputs are sorted so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

Names = Mapping[int, str]


class EdgeCondition(StrEnum):
    """What the upstream run must end with for the edge to hold."""

    SUCCESS = "success"  # upstream SUCCESS
    FAILURE = "failure"  # upstream FAILED (not TERMINATED: an operator stop is no failure)
    DONE = "done"  # upstream SUCCESS, FAILED, TERMINATED or SKIPPED


@dataclass(frozen=True)
class Edge:
    """``upstream -> downstream``: ``downstream`` may start once ``condition`` holds."""

    upstream: int
    downstream: int
    condition: EdgeCondition = EdgeCondition.SUCCESS

    def __post_init__(self) -> None:
        # Accept the wire spelling ("failure") and refuse anything else early.
        object.__setattr__(self, "condition", EdgeCondition(self.condition))


class CycleError(ValueError):
    """The edges close a cycle; ``path`` walks it and repeats its first node at the end."""

    def __init__(self, path: list[int], names: Names | None = None) -> None:
        self.path = path
        super().__init__("dependency cycle: " + " -> ".join(label(n, names) for n in path))


def label(node: int, names: Names | None) -> str:
    """The task's name when ``names`` knows it, else its id."""
    if names is not None and node in names:
        return names[node]
    return str(node)


def build_graph(
    nodes: Iterable[int], edges: Iterable[Edge], names: Names | None = None
) -> nx.DiGraph:
    """A ``DiGraph`` of ``nodes`` and ``edges`` (condition under the ``"condition"`` key).

    Raises ``ValueError`` for an edge whose end is not a node or a duplicate
    ``(upstream, downstream)`` pair, and :class:`CycleError` for a self-loop or a cycle.
    Nodes and edges are inserted in sorted order, so the cycle reported is the same whatever
    order the caller passed them in.
    """
    import networkx as nx  # loaded on first use: a quarter second off every start

    node_set = set(nodes)
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(node_set))
    for edge in sorted(edges, key=lambda e: (e.upstream, e.downstream, e.condition)):
        up, down = edge.upstream, edge.downstream
        for end in (up, down):
            if end not in node_set:
                raise ValueError(
                    f"edge {label(up, names)} -> {label(down, names)}: "
                    f"task {label(end, names)} is not in the group"
                )
        if up == down:
            raise CycleError([up, up], names)
        if graph.has_edge(up, down):
            raise ValueError(f"duplicate edge {label(up, names)} -> {label(down, names)}")
        graph.add_edge(up, down, condition=edge.condition)
    _refuse_cycles(graph, names)
    return graph


def _refuse_cycles(graph: nx.DiGraph, names: Names | None) -> None:
    import networkx as nx

    if nx.is_directed_acyclic_graph(graph):
        return
    cycle = nx.find_cycle(graph)  # [(u, v), ...] walking the cycle
    path = [int(u) for u, _ in cycle]
    start = path.index(min(path))  # canonical rotation: smallest id first
    path = path[start:] + path[:start]
    raise CycleError([*path, path[0]], names)


def check_acyclic(nodes: Iterable[int], edges: Iterable[Edge], names: Names | None = None) -> None:
    """Refuse a graph that is not a valid dependency DAG (see :func:`build_graph`)."""
    build_graph(nodes, edges, names)


def generations(nodes: Iterable[int], edges: Iterable[Edge]) -> list[list[int]]:
    """Topological generations: roots first, each node one level after its last upstream."""
    import networkx as nx

    graph = build_graph(nodes, edges)
    return [sorted(gen) for gen in nx.topological_generations(graph)]


def roots(nodes: Iterable[int], edges: Iterable[Edge]) -> list[int]:
    """Nodes without upstream: what a group run starts first."""
    graph = build_graph(nodes, edges)
    return sorted(n for n, degree in graph.in_degree() if degree == 0)


def descendants(node: int, edges: Iterable[Edge]) -> set[int]:
    """Every node reachable downstream of ``node`` (``node`` itself excluded)."""
    children: dict[int, list[int]] = {}
    for edge in edges:
        children.setdefault(edge.upstream, []).append(edge.downstream)
    seen: set[int] = set()
    stack = [node]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    seen.discard(node)  # only reachable from itself through a cycle, which is no descendant
    return seen


def rerun_set(failed_node: int, nodes: Iterable[int], edges: Iterable[Edge]) -> list[int]:
    """``failed_node`` and everything downstream of it, in topological order.

    Ties are broken by smallest id, so ``failed_node`` always comes first and the order is stable.
    """
    import networkx as nx

    graph = build_graph(nodes, edges)
    if failed_node not in graph:
        raise ValueError(f"task {failed_node} is not in the group")
    members = nx.descendants(graph, failed_node) | {failed_node}
    return [int(n) for n in nx.lexicographical_topological_sort(graph.subgraph(members))]
