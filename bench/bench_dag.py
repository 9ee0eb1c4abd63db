"""Benchmark of the DAG rules on one large group: 1,000 tasks and 3,000 random acyclic edges.

Run: ``.venv/bin/python bench/bench_dag.py [--tasks 1000] [--edges 3000] [--repeat 31]``.
Prints median and best timings; no assertion on time (target: check_acyclic under 100 ms).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from app.domain.dag import Edge, EdgeCondition, check_acyclic, generations, propagate, rerun_set
from app.domain.states import RunStatus


def random_dag(tasks: int, edges: int, rng: random.Random) -> tuple[list[int], list[Edge]]:
    """``edges`` distinct edges, each from earlier to later in a random order of the ids."""
    order = list(range(1, tasks + 1))
    rng.shuffle(order)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < edges:
        i, j = sorted(rng.sample(range(tasks), 2))
        pairs.add((order[i], order[j]))
    conditions = [EdgeCondition.SUCCESS] * 8 + [EdgeCondition.DONE] + [EdgeCondition.FAILURE]
    return order, [Edge(u, d, rng.choice(conditions)) for u, d in sorted(pairs)]


def midway_statuses(
    nodes: list[int], edges: list[Edge], rng: random.Random
) -> dict[int, RunStatus]:
    """A group run half done: the first generations ended, mostly SUCCESS, a few FAILED."""
    done: dict[int, RunStatus] = {}
    gens = generations(nodes, edges)
    for gen in gens[: len(gens) // 2]:
        for node in gen:
            done[node] = RunStatus.FAILED if rng.random() < 0.02 else RunStatus.SUCCESS
    return done


def measure(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--edges", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    nodes, edges = random_dag(args.tasks, args.edges, rng)
    statuses = midway_statuses(nodes, edges, rng)
    plan = propagate(nodes, edges, statuses)
    gens = generations(nodes, edges)
    print(
        f"group: {len(nodes)} tasks, {len(edges)} edges, {len(gens)} generations; "
        f"midway run: {len(statuses)} ended, {len(plan.ready)} ready, "
        f"{len(plan.skip)} to skip, {len(plan.waiting)} waiting"
    )
    first = gens[0][0]
    cases: list[tuple[str, Callable[[], object]]] = [
        ("check_acyclic", lambda: check_acyclic(nodes, edges)),
        ("generations", lambda: generations(nodes, edges)),
        ("propagate (no run yet)", lambda: propagate(nodes, edges, {})),
        ("propagate (midway)", lambda: propagate(nodes, edges, statuses)),
        ("rerun_set (from a root)", lambda: rerun_set(first, nodes, edges)),
    ]
    print(f"{'operation':<26}{'median ms':>12}{'best ms':>12}   ({args.repeat} runs)")
    for name, call in cases:
        median, best = measure(call, args.repeat)
        print(f"{name:<26}{median:>12.2f}{best:>12.2f}")


if __name__ == "__main__":
    main()
