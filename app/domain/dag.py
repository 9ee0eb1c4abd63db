"""Dependency rules of a group: the public face of ``dag_graph`` and ``dag_readiness``.

Pure functions over task ids and :class:`Edge` values; no I/O. Graph shape (validation, cycles,
orderings) lives in :mod:`app.domain.dag_graph`, start/skip decisions in
:mod:`app.domain.dag_readiness`.
"""

from __future__ import annotations

from app.domain.dag_graph import (
    CycleError,
    Edge,
    EdgeCondition,
    build_graph,
    check_acyclic,
    descendants,
    generations,
    rerun_set,
    roots,
)
from app.domain.dag_readiness import (
    MOVABLE,
    SATISFIES,
    Plan,
    Readiness,
    Verdict,
    evaluate,
    may_skip,
    propagate,
)

__all__ = [
    "MOVABLE",
    "SATISFIES",
    "CycleError",
    "Edge",
    "EdgeCondition",
    "Plan",
    "Readiness",
    "Verdict",
    "build_graph",
    "check_acyclic",
    "descendants",
    "evaluate",
    "generations",
    "may_skip",
    "propagate",
    "rerun_set",
    "roots",
]
