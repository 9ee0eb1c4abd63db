"""Adhoc batches in the client: one command on several agents, watched together."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.client.runs import TERMINAL, LogFollower, RunHandle
from app.client.transport import Transport

# (agent, stream, line) for each line of output.
LineSink = Callable[[str, str, str], None]


def _agent(run: dict[str, Any]) -> str:
    return str(run.get("target") or run.get("agent") or run["id"])


class Batch:
    """The runs of one `POST /adhoc`: `runs` has a RunHandle per agent."""

    def __init__(self, client: Transport, data: dict[str, Any]) -> None:
        self._c = client
        self.data = data

    def __repr__(self) -> str:
        return f"<Batch {self.batch_id} {self.summary}>"

    @property
    def batch_id(self) -> str:
        return str(self.data["batch_id"])

    @property
    def summary(self) -> dict[str, int]:
        """Runs per status."""
        return dict(self.data["summary"])

    @property
    def done(self) -> bool:
        return bool(self.data["done"])

    @property
    def runs(self) -> list[RunHandle]:
        return [RunHandle(self._c, run) for run in self.data["runs"]]

    def statuses(self) -> dict[str, str]:
        """Agent name -> status of its run."""
        return {_agent(r): str(r["status"]) for r in self.data["runs"]}

    def refresh(self) -> Batch:
        self.data = self._c.request("GET", f"/adhoc/{self.batch_id}")
        return self

    def kill(self) -> Batch:
        """Kill every run of the batch that has not ended."""
        self.data = self._c.request("POST", f"/adhoc/{self.batch_id}/kill")
        return self

    def wait(
        self,
        timeout: float | None = None,
        poll: float = 0.3,
        on_change: Callable[[str, str], None] | None = None,
        on_line: LineSink | None = None,
    ) -> dict[str, str]:
        """Block until every run ended; returns agent -> final status.

        `on_change(agent, status)` hears each status change, `on_line(agent, stream, line)`
        each line of output (stdout and stderr) as it is stored.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: dict[str, str] = {}
        followers: dict[tuple[str, str], LogFollower] = {}
        while True:
            self.refresh()
            for run in self.runs:
                agent = _agent(run.data)
                if on_change is not None and seen.get(agent) != run.status:
                    on_change(agent, run.status)
                seen[agent] = run.status
                if on_line is not None:
                    for stream in ("stdout", "stderr"):
                        follower = followers.setdefault((agent, stream), run.follower(stream))
                        for line in follower.poll(final=run.status in TERMINAL):
                            on_line(agent, stream, line)
            if self.done:
                return self.statuses()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"batch {self.batch_id} not done after {timeout}s: {self.summary}"
                )
            time.sleep(poll)
