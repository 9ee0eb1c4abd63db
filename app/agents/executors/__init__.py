"""Executors run one attempt of a run: a host process or a Docker container."""

from app.agents.executors.base import Execution, Executor, Outcome, RunSpec, Sink

__all__ = ["Execution", "Executor", "Outcome", "RunSpec", "Sink"]
