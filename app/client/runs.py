"""Runs in the client: `api.runs.get(id)` gives a `RunHandle` to watch and control one run."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app.client.errors import check
from app.client.transport import Transport

TERMINAL = frozenset({"SUCCESS", "FAILED", "TERMINATED", "SKIPPED", "REJECTED"})


class Runs:
    def __init__(self, client: Transport) -> None:
        self._c = client

    def list(self, **filters: Any) -> dict[str, Any]:
        """One page of runs, newest first: `{"items": [...], "has_more": ...}`. Filters are
        the API's: status, task, group, since, until, q, page, page_size."""
        result: dict[str, Any] = self._c.request("GET", "/runs", params=filters)
        return result

    def get(self, run_id: int) -> RunHandle:
        return RunHandle(self._c, self._c.request("GET", f"/runs/{run_id}"))


class RunHandle:
    """One run: read its state, logs and outputs, wait for it, control it.

    `data` is the run as the API last returned it; properties that ask for current values
    (`get_agent()`, `get_computation_time()`, `wait()`) refresh it first.
    """

    def __init__(self, client: Transport, data: dict[str, Any]) -> None:
        self._c = client
        self.data = data

    def __repr__(self) -> str:
        return f"<RunHandle {self.id} {self.status}>"

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def status(self) -> str:
        """The status as last read (call `refresh()` for the current one)."""
        return str(self.data["status"])

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def refresh(self) -> RunHandle:
        self.data = self._c.request("GET", f"/runs/{self.id}")
        return self

    def get_computation_time(self) -> float | None:
        """Seconds from RUNNING to the end (None until it has ended)."""
        value = self.refresh().data.get("duration_seconds")
        return float(value) if value is not None else None

    def get_agent(self) -> str | None:
        """The agent the run was dispatched to (None before dispatch)."""
        value = self.refresh().data.get("agent")
        return str(value) if value is not None else None

    # ---- output ------------------------------------------------------------------
    def logs(self, stream: str = "stdout", attempt: int | None = None) -> str:
        """The whole output of `stream` ("stdout" or "stderr") of the latest attempt."""
        params: dict[str, Any] = {"stream": stream}
        if attempt is not None:
            params["attempt"] = attempt
        response = self._c.http.get(f"/runs/{self.id}/logs/download", params=params)
        check(response)
        return response.text

    def log_pages(self, stream: str = "stdout", page_size: int = 500) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            data: dict[str, Any] = self._c.request(
                "GET",
                f"/runs/{self.id}/logs",
                params={"stream": stream, "page": page, "page_size": page_size},
            )
            yield data
            if page * page_size >= data["total_lines"]:
                return
            page += 1

    def follower(self, stream: str = "stdout") -> LogFollower:
        """New complete lines of `stream` each time you poll it (see LogFollower)."""
        return LogFollower(self, stream)

    def outputs(self, attempt: int | None = None) -> list[dict[str, Any]]:
        """The files the run left in its output directory: name, size, sha256."""
        params = {"attempt": attempt} if attempt is not None else {}
        data = self._c.request("GET", f"/runs/{self.id}/outputs", params=params)
        return list(data["outputs"])

    def download_outputs(
        self, names: list[str] | None = None, dest: str | Path = ".", attempt: int | None = None
    ) -> list[Path]:
        """Save output files (all of them, or `names`) under `dest`, keeping their relative
        paths; returns where each went."""
        base = Path(dest).resolve()
        wanted = names if names is not None else [o["name"] for o in self.outputs(attempt)]
        params = {"attempt": attempt} if attempt is not None else {}
        saved = []
        for name in wanted:
            target = (base / name).resolve()
            if base not in target.parents:
                raise ValueError(f"output name {name!r} would land outside {base}")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            with self._c.http.stream(
                "GET", f"/runs/{self.id}/outputs/{quote(name)}", params=params
            ) as response:
                if not response.is_success:
                    response.read()
                    check(response)
                with open(partial, "wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
            partial.replace(target)
            saved.append(target)
        return saved

    # ---- control -----------------------------------------------------------------
    def kill(self) -> None:
        """Stop the run (an operator's right); it ends TERMINATED."""
        self.data = self._c.request("POST", f"/runs/{self.id}/kill")

    def pause(self) -> None:
        self.data = self._c.request("POST", f"/runs/{self.id}/pause")

    def resume(self) -> None:
        self.data = self._c.request("POST", f"/runs/{self.id}/resume")

    def rerun(self, params: dict[str, Any] | None = None) -> list[int]:
        """Run this finished run again (an operator's right), with everything downstream of
        it in its group run; it keeps its business date and values but for those in
        `params`. Returns the ids of the runs restarted; this handle is refreshed."""
        body = {"params": params} if params else None
        restarted: list[int] = self._c.request("POST", f"/runs/{self.id}/rerun", json=body)
        self.refresh()
        return restarted

    def wait(
        self,
        timeout: float | None = None,
        poll: float = 0.2,
        on_change: Callable[[str], None] | None = None,
    ) -> str:
        """Block until the run ends and return its final status.

        Each status seen goes to `on_change`, or is printed (`run 12: RUNNING`) when none is
        given. Raises TimeoutError after `timeout` seconds.
        """
        report = on_change or (
            lambda status: print(f"run {self.id}: {status}", file=sys.stdout, flush=True)  # noqa: T201
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = None
        while True:
            status = self.refresh().status
            if status != seen:
                seen = status
                report(status)
            if status in TERMINAL:
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {self.id} still {status} after {timeout}s")
            time.sleep(poll)

    @contextmanager
    def sync_context(self) -> Iterator[RunHandle]:
        """Tie the run to a block: Ctrl+C or an exception inside it kills the run.

        with api.tasks.run(tid).sync_context() as run:
            run.wait()
        """
        try:
            yield self
        except BaseException:
            try:
                if self.refresh().status not in TERMINAL:
                    self.kill()
            finally:
                raise


class LogFollower:
    """Reads a stream's lines once each: `poll()` returns the lines completed since the last
    call; `poll(final=True)` (once the run ended) also the last line without a newline."""

    def __init__(self, run: RunHandle, stream: str = "stdout", page_size: int = 1000) -> None:
        self.run = run
        self.stream = stream
        self.page_size = page_size
        self.next_line = 1

    def poll(self, final: bool = False) -> list[str]:
        found: list[str] = []
        while True:
            page = (self.next_line - 1) // self.page_size + 1
            data = self.run._c.request(
                "GET",
                f"/runs/{self.run.id}/logs",
                params={"stream": self.stream, "page": page, "page_size": self.page_size},
            )
            # Without `final`, the last line may still grow: hold it back.
            usable = int(data["total_lines"]) - (0 if final else 1)
            before = self.next_line
            for number, line in enumerate(data["lines"], start=int(data["first_line"])):
                if self.next_line <= number <= usable:
                    found.append(line)
                    self.next_line = number + 1
            if self.next_line > usable or self.next_line == before:
                return found
