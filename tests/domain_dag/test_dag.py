"""DAG rules: graph validation, orderings, readiness and the skip cascade."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.dag import (
    CycleError,
    Edge,
    EdgeCondition,
    Plan,
    Readiness,
    Verdict,
    check_acyclic,
    descendants,
    evaluate,
    generations,
    may_skip,
    propagate,
    rerun_set,
    roots,
)
from app.domain.states import TERMINAL, RunStatus

S, F, D = EdgeCondition.SUCCESS, EdgeCondition.FAILURE, EdgeCondition.DONE
OK, KO = RunStatus.SUCCESS, RunStatus.FAILED

# extract(1) -> clean(2) -> load(4) -> report(6); extract -> enrich(3) -> load; clean -> audit(5)
DIAMOND_NODES = [1, 2, 3, 4, 5, 6]
DIAMOND_EDGES = [Edge(1, 2), Edge(1, 3), Edge(2, 4), Edge(3, 4), Edge(2, 5), Edge(4, 6)]
NAMES = {1: "extract", 2: "clean", 3: "enrich", 4: "load", 5: "audit", 6: "report"}


# --- graph shape -------------------------------------------------------------------------------


def test_diamond_is_acyclic_and_ordered() -> None:
    check_acyclic(DIAMOND_NODES, DIAMOND_EDGES)
    assert generations(DIAMOND_NODES, DIAMOND_EDGES) == [[1], [2, 3], [4, 5], [6]]
    assert roots(DIAMOND_NODES, DIAMOND_EDGES) == [1]
    assert descendants(2, DIAMOND_EDGES) == {4, 5, 6}
    assert descendants(6, DIAMOND_EDGES) == set()


def test_generations_on_known_graph_with_isolated_nodes() -> None:
    edges = [Edge(10, 30), Edge(20, 30), Edge(30, 50), Edge(20, 40), Edge(40, 50), Edge(60, 40)]
    nodes = [70, 60, 50, 40, 30, 20, 10]
    assert generations(nodes, edges) == [[10, 20, 60, 70], [30, 40], [50]]
    assert roots(nodes, edges) == [10, 20, 60, 70]
    assert generations([], []) == []


def test_cycle_reports_the_closing_path() -> None:
    edges = [Edge(1, 3), Edge(3, 5), Edge(5, 7), Edge(7, 3)]
    with pytest.raises(CycleError) as info:
        check_acyclic([1, 3, 5, 7], edges)
    assert info.value.path == [3, 5, 7, 3]
    assert str(info.value) == "dependency cycle: 3 -> 5 -> 7 -> 3"


def test_cycle_message_uses_names_and_does_not_depend_on_input_order() -> None:
    edges = [Edge(7, 3), Edge(5, 7), Edge(3, 5), Edge(1, 3)]
    names = {3: "extract", 5: "transform", 7: "load"}
    for seed in range(5):
        random.Random(seed).shuffle(edges)
        with pytest.raises(CycleError) as info:
            check_acyclic([7, 5, 3, 1], edges, names)
        assert info.value.path == [3, 5, 7, 3]
        assert str(info.value) == "dependency cycle: extract -> transform -> load -> extract"


def test_cycle_error_is_a_value_error_and_other_functions_refuse_cycles() -> None:
    edges = [Edge(1, 2), Edge(2, 1)]
    for call in (
        lambda: generations([1, 2], edges),
        lambda: roots([1, 2], edges),
        lambda: rerun_set(1, [1, 2], edges),
        lambda: propagate([1, 2], edges, {}),
    ):
        with pytest.raises(ValueError, match=r"dependency cycle: 1 -> 2 -> 1"):
            call()


def test_self_loop_refused() -> None:
    with pytest.raises(CycleError, match="dependency cycle: extract -> extract") as info:
        check_acyclic([1, 2], [Edge(1, 2), Edge(2, 2)], {2: "extract"})
    assert info.value.path == [2, 2]


@pytest.mark.parametrize("edge", [Edge(1, 99), Edge(99, 1)])
def test_unknown_node_refused(edge: Edge) -> None:
    with pytest.raises(ValueError, match="task ghost is not in the group") as info:
        check_acyclic([1, 2], [edge], {1: "extract", 99: "ghost"})
    assert not isinstance(info.value, CycleError)


def test_duplicate_edge_refused_even_with_another_condition() -> None:
    with pytest.raises(ValueError, match="duplicate edge extract -> load"):
        check_acyclic([1, 2], [Edge(1, 2), Edge(1, 2, D)], {1: "extract", 2: "load"})
    with pytest.raises(ValueError, match="duplicate edge 1 -> 2"):
        check_acyclic([1, 2], [Edge(1, 2), Edge(1, 2)])


def test_edge_condition_accepts_wire_spelling() -> None:
    assert Edge(1, 2, "failure").condition is F  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Edge(1, 2, "sometimes")  # type: ignore[arg-type]


def test_rerun_set_is_the_node_and_its_downstream_in_topological_order() -> None:
    assert rerun_set(2, DIAMOND_NODES, DIAMOND_EDGES) == [2, 4, 5, 6]
    assert rerun_set(1, DIAMOND_NODES, DIAMOND_EDGES) == [1, 2, 3, 4, 5, 6]
    assert rerun_set(6, DIAMOND_NODES, DIAMOND_EDGES) == [6]
    # Ties go to the smaller id, but an upstream always precedes its downstream.
    edges = [Edge(9, 8), Edge(9, 2), Edge(8, 1), Edge(2, 1)]
    assert rerun_set(9, [1, 2, 8, 9], edges) == [9, 2, 8, 1]
    with pytest.raises(ValueError, match="task 42 is not in the group"):
        rerun_set(42, DIAMOND_NODES, DIAMOND_EDGES)


# --- readiness of one node ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "status", "readiness"),
    [
        (S, OK, Readiness.READY),
        (S, KO, Readiness.IMPOSSIBLE),
        (S, RunStatus.TERMINATED, Readiness.IMPOSSIBLE),
        (S, RunStatus.SKIPPED, Readiness.IMPOSSIBLE),
        (F, KO, Readiness.READY),
        (F, OK, Readiness.IMPOSSIBLE),
        (F, RunStatus.TERMINATED, Readiness.IMPOSSIBLE),
        (F, RunStatus.SKIPPED, Readiness.IMPOSSIBLE),
        (D, OK, Readiness.READY),
        (D, KO, Readiness.READY),
        (D, RunStatus.TERMINATED, Readiness.READY),
        (D, RunStatus.SKIPPED, Readiness.READY),
        (D, RunStatus.REJECTED, Readiness.IMPOSSIBLE),
        (S, RunStatus.RUNNING, Readiness.WAITING),
        (F, RunStatus.PAUSED, Readiness.WAITING),
        (D, RunStatus.IDLE, Readiness.WAITING),
        (D, RunStatus.PENDING_APPROVAL, Readiness.WAITING),
    ],
)
def test_single_edge_conditions(
    condition: EdgeCondition, status: RunStatus, readiness: Readiness
) -> None:
    verdict = evaluate(2, [Edge(1, 2, condition)], {1: status})
    assert verdict.readiness is readiness
    assert verdict.waiting_for == ([1] if readiness is Readiness.WAITING else [])
    assert (verdict.reason is not None) == (readiness is Readiness.IMPOSSIBLE)


def test_impossible_reasons_name_the_upstream_and_the_condition() -> None:
    names = {1: "extract"}
    assert evaluate(2, [Edge(1, 2)], {1: KO}, names).reason == "upstream extract FAILED"
    assert evaluate(2, [Edge(1, 2, F)], {1: OK}, names).reason == (
        "upstream extract SUCCESS (edge needs failure)"
    )
    assert evaluate(2, [Edge(1, 2)], {1: KO}).reason == "upstream 1 FAILED"


def test_no_incoming_edge_is_ready_and_missing_status_waits() -> None:
    assert evaluate(1, [], {}) == Verdict(Readiness.READY, [], None)
    assert evaluate(2, [Edge(1, 2)], {}) == Verdict(Readiness.WAITING, [1], None)


def test_mixed_conditions_on_several_incoming_edges() -> None:
    incoming = [Edge(3, 9, D), Edge(1, 9, S), Edge(2, 9, F)]
    assert evaluate(9, incoming, {1: OK, 2: KO, 3: RunStatus.TERMINATED}).readiness is (
        Readiness.READY
    )
    waiting = evaluate(9, incoming, {1: OK, 2: RunStatus.RUNNING})
    assert waiting == Verdict(Readiness.WAITING, [2, 3], None)
    # One edge that can no longer hold makes it impossible even while others still wait.
    names = {1: "a", 2: "b", 3: "c"}
    impossible = evaluate(9, incoming, {1: KO, 2: OK}, names)
    assert impossible == Verdict(
        Readiness.IMPOSSIBLE, [], "upstream a FAILED; upstream b SUCCESS (edge needs failure)"
    )


def test_evaluate_refuses_an_edge_to_another_node() -> None:
    with pytest.raises(ValueError, match="does not lead to task 3"):
        evaluate(3, [Edge(1, 2)], {1: OK})


# --- propagate ---------------------------------------------------------------------------------


def test_diamond_with_one_failed_branch() -> None:
    plan = propagate(DIAMOND_NODES, DIAMOND_EDGES, {1: OK, 2: KO}, NAMES)
    assert plan == Plan(
        ready=[3],
        skip={
            4: "upstream clean FAILED",
            5: "upstream clean FAILED",
            6: "upstream load SKIPPED",
        },
        waiting={},
        held=[],
    )


def test_diamond_start_and_progress() -> None:
    assert propagate(DIAMOND_NODES, DIAMOND_EDGES, {}).ready == [1]
    plan = propagate(DIAMOND_NODES, DIAMOND_EDGES, {1: OK, 2: RunStatus.RUNNING})
    assert plan.ready == [3]
    assert plan.held == [2]
    assert plan.waiting == {4: [2, 3], 5: [2], 6: [4]}
    assert plan.skip == {}
    plan = propagate(DIAMOND_NODES, DIAMOND_EDGES, {1: OK, 2: OK, 3: OK, 5: OK})
    assert plan.ready == [4]
    assert plan.waiting == {6: [4]}


def test_chain_failure_cascades_to_the_end() -> None:
    edges = [Edge(1, 2), Edge(2, 3), Edge(3, 4)]
    plan = propagate([1, 2, 3, 4], edges, {1: RunStatus.TERMINATED})
    assert plan.skip == {
        2: "upstream 1 TERMINATED",
        3: "upstream 2 SKIPPED",
        4: "upstream 3 SKIPPED",
    }
    assert plan.ready == [] and plan.waiting == {}


def test_skip_cascade_satisfies_done_and_refuses_failure_edges() -> None:
    # 1 fails; 2 needs success (skipped); 3 runs when 2 is done; 4 runs only if 2 failed.
    edges = [Edge(1, 2), Edge(2, 3, D), Edge(2, 4, F), Edge(4, 5, D)]
    plan = propagate([1, 2, 3, 4, 5], edges, {1: KO})
    assert plan.ready == [3, 5]
    assert plan.skip == {2: "upstream 1 FAILED", 4: "upstream 2 SKIPPED (edge needs failure)"}


def test_failure_edge_runs_recovery_task() -> None:
    edges = [Edge(1, 2, F), Edge(1, 3)]
    names = {1: "load", 2: "rollback", 3: "publish"}
    plan = propagate([1, 2, 3], edges, {1: KO}, names)
    assert plan.ready == [2]
    assert plan.skip == {3: "upstream load FAILED"}
    plan = propagate([1, 2, 3], edges, {1: OK}, names)
    assert plan.ready == [3]
    assert plan.skip == {2: "upstream load SUCCESS (edge needs failure)"}


def test_held_and_settled_nodes_are_left_alone() -> None:
    edges = [Edge(1, 2), Edge(1, 3), Edge(1, 4)]
    statuses = {1: KO, 2: RunStatus.RUNNING, 3: RunStatus.PENDING_APPROVAL, 4: RunStatus.SKIPPED}
    plan = propagate([1, 2, 3, 4, 5], edges, {**statuses, 99: OK})
    assert plan == Plan(ready=[5], skip={}, waiting={}, held=[2, 3])


def test_idle_and_active_runs_are_movable() -> None:
    statuses = {1: OK, 2: RunStatus.IDLE, 3: RunStatus.ACTIVE}
    plan = propagate([1, 2, 3], [Edge(1, 2), Edge(1, 3)], statuses)
    assert plan.ready == [2, 3]


def test_plan_verdicts() -> None:
    plan = propagate(DIAMOND_NODES, DIAMOND_EDGES, {1: OK, 2: KO}, NAMES)
    verdicts = plan.verdicts
    assert list(verdicts) == [3, 4, 5, 6]
    assert verdicts[3] == Verdict(Readiness.READY, [], None)
    assert verdicts[6] == Verdict(Readiness.IMPOSSIBLE, [], "upstream load SKIPPED")


# --- properties on random DAGs -----------------------------------------------------------------

ENDINGS = [RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.TERMINATED]


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[int], list[Edge]]:
    """A random DAG whose ids are shuffled, so id order is not a topological order."""
    size = draw(st.integers(min_value=1, max_value=12))
    ids = draw(st.permutations(range(100, 100 + size)))
    pairs = [(i, j) for i in range(size) for j in range(i + 1, size)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    edges = [Edge(ids[i], ids[j], draw(st.sampled_from(list(EdgeCondition)))) for i, j in chosen]
    return list(ids), edges


# The rules of DESIGN.md written out again, independently of the code under test.
HOLDS = {
    S: {RunStatus.SUCCESS},
    F: {RunStatus.FAILED},
    D: {RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.TERMINATED, RunStatus.SKIPPED},
}


def _upstreams(node: int, edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if e.downstream == node]


def _check_plan(
    nodes: list[int], edges: list[Edge], statuses: dict[int, RunStatus], plan: Plan
) -> None:
    after = {**statuses, **dict.fromkeys(plan.skip, RunStatus.SKIPPED)}
    movable = [n for n in nodes if statuses.get(n) in {None, RunStatus.IDLE, RunStatus.ACTIVE}]
    parts = [*plan.ready, *plan.skip, *plan.waiting, *plan.held]
    assert sorted(parts) == sorted(n for n in nodes if statuses.get(n) not in TERMINAL)
    assert sorted([*plan.ready, *plan.skip, *plan.waiting]) == sorted(movable)
    for node in plan.ready:  # ready only when every upstream is terminal and satisfies its edge
        for edge in _upstreams(node, edges):
            assert after.get(edge.upstream) in HOLDS[edge.condition]
    for node in plan.skip:  # skipped only when some upstream ended otherwise
        assert any(
            after.get(e.upstream) in TERMINAL and after.get(e.upstream) not in HOLDS[e.condition]
            for e in _upstreams(node, edges)
        )
    for node, waited in plan.waiting.items():  # waiting exactly on the upstreams still open
        ups = {e.upstream for e in _upstreams(node, edges)}
        assert waited and waited == sorted(n for n in ups if after.get(n) not in TERMINAL)
    # One call reaches the fixed point: applying its skips decides nothing new.
    again = propagate(nodes, edges, after)
    assert again.skip == {}
    assert again.ready == plan.ready


@settings(max_examples=300, deadline=None)
@given(dag=dags(), data=st.data())
def test_property_group_run_completes(
    dag: tuple[list[int], list[Edge]], data: st.DataObject
) -> None:
    """Ready tasks finish with random outcomes until every task is settled."""
    nodes, edges = dag
    check_acyclic(nodes, edges)
    statuses: dict[int, RunStatus] = {}
    started: set[int] = set()
    for _ in range(len(nodes) + 1):
        plan = propagate(nodes, edges, statuses)
        _check_plan(nodes, edges, statuses, plan)
        assert plan.held == []
        statuses.update(dict.fromkeys(plan.skip, RunStatus.SKIPPED))
        if not plan.ready:
            assert plan.waiting == {}  # nothing is left waiting on an upstream that never ends
            break
        started.update(plan.ready)
        for node in plan.ready:
            statuses[node] = data.draw(st.sampled_from(ENDINGS), label=f"outcome of {node}")
    assert set(statuses) == set(nodes)
    assert all(s in TERMINAL for s in statuses.values())
    skipped = {n for n, s in statuses.items() if s is RunStatus.SKIPPED}
    assert started | skipped == set(nodes) and not started & skipped


@settings(max_examples=300, deadline=None)
@given(dag=dags(), data=st.data())
def test_property_any_statuses(dag: tuple[list[int], list[Edge]], data: st.DataObject) -> None:
    """Whatever the current statuses, the plan partitions the open tasks consistently."""
    nodes, edges = dag
    choices = st.sampled_from([None, *RunStatus])
    statuses = {n: s for n in nodes if (s := data.draw(choices, label=f"status of {n}"))}
    _check_plan(nodes, edges, statuses, propagate(nodes, edges, statuses))


@settings(max_examples=300, deadline=None)
@given(dag=dags(), data=st.data())
def test_property_may_skip_says_whether_propagate_skips(
    dag: tuple[list[int], list[Edge]], data: st.DataObject
) -> None:
    """Settling asks `may_skip` before building the graph: it must be True exactly when
    `propagate` would skip something, whatever the statuses."""
    nodes, edges = dag
    choices = st.sampled_from([None, *RunStatus])
    statuses = {n: s for n in nodes if (s := data.draw(choices, label=f"status of {n}"))}
    assert may_skip(edges, statuses) == bool(propagate(nodes, edges, statuses).skip)


def test_may_skip_on_a_chain() -> None:
    chain = [Edge(1, 2), Edge(2, 3, D)]
    assert not may_skip(chain, {1: OK, 2: RunStatus.ACTIVE, 3: RunStatus.ACTIVE})
    assert may_skip(chain, {1: KO, 2: RunStatus.ACTIVE, 3: RunStatus.ACTIVE})
    assert not may_skip(chain, {1: KO, 2: RunStatus.RUNNING})  # on an agent: its own lifecycle
    assert not may_skip(chain, {1: OK, 2: KO, 3: RunStatus.ACTIVE})  # `done` holds
