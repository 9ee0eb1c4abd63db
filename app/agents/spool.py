"""The agent's on-disk spool: every output byte and state change is written here before it is
sent, so nothing is lost while the server is unreachable or after the agent restarts."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.agents.outputs import scan_outputs
from app.agents.protocol import OutputFile, StateChange

STREAMS = ("stdout", "stderr")
_FINAL = {"SUCCESS", "FAILED", "TERMINATED"}


@dataclass
class RunSpool:
    """One attempt's folder: spec.json, stdout, stderr, states.jsonl, outputs/, and once the
    attempt has ended, manifest.json (the output files to deliver)."""

    path: Path
    run_id: int
    attempt: int
    states: list[StateChange] = field(default_factory=list)
    _manifest: list[OutputFile] | None = None

    @property
    def output_dir(self) -> Path:
        return self.path / "outputs"

    def size(self, stream: str) -> int:
        try:
            return (self.path / stream).stat().st_size
        except FileNotFoundError:
            return 0

    def append_output(self, stream: str, data: bytes) -> None:
        with open(self.path / stream, "ab") as handle:
            handle.write(data)

    def read_output(self, stream: str, offset: int, limit: int) -> bytes:
        try:
            with open(self.path / stream, "rb") as handle:
                handle.seek(offset)
                return handle.read(limit)
        except FileNotFoundError:
            return b""

    def record_state(self, state: StateChange) -> None:
        """Append the state; it survives a crash of the agent from here on (see `sync`)."""
        line = state.model_dump_json() + "\n"
        with open(self.path / "states.jsonl", "a", encoding="utf-8") as handle:
            handle.write(line)
        self.states.append(state)

    def sync(self) -> None:
        """Make the recorded states survive a crash of the machine too (an fsync)."""
        with open(self.path / "states.jsonl", "rb") as handle:
            os.fsync(handle.fileno())

    @property
    def next_seq(self) -> int:
        return self.states[-1].seq + 1 if self.states else 1

    @property
    def last_status(self) -> str | None:
        return self.states[-1].status if self.states else None

    @property
    def finished(self) -> bool:
        return self.last_status in _FINAL

    @property
    def manifest(self) -> list[OutputFile] | None:
        """The output files to deliver, fixed when the attempt ended (None before)."""
        if self._manifest is None:
            try:
                raw = json.loads((self.path / "manifest.json").read_text())
            except (FileNotFoundError, ValueError):
                return None
            self._manifest = [OutputFile.model_validate(item) for item in raw]
        return self._manifest

    def seal(self) -> list[OutputFile]:
        """Take stock of the output directory once the attempt has ended (idempotent)."""
        if self.manifest is not None:
            return self.manifest
        files = scan_outputs(self.output_dir)
        self._write_manifest(files)
        return files

    def drop_output(self, name: str) -> None:
        """Leave a file out of the manifest (it changed or vanished after the run ended)."""
        files = [f for f in self.manifest or [] if f.name != name]
        self._write_manifest(files)

    def _write_manifest(self, files: list[OutputFile]) -> None:
        temporary = self.path / "manifest.json.tmp"
        temporary.write_text(json.dumps([f.model_dump() for f in files]))
        os.replace(temporary, self.path / "manifest.json")
        self._manifest = files

    def spec(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / "spec.json").read_text())
        return data

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def create(self, run_id: int, attempt: int, spec: dict[str, Any]) -> RunSpool:
        path = self.root / f"{run_id}-{attempt}"
        path.mkdir(parents=True, exist_ok=True)
        (path / "outputs").mkdir(exist_ok=True)
        (path / "spec.json").write_text(json.dumps(spec))
        return RunSpool(path=path, run_id=run_id, attempt=attempt)

    def load_all(self) -> list[RunSpool]:
        """Every spooled attempt left from before (after an agent restart)."""
        spools = []
        for path in sorted(self.root.iterdir()):
            if not (path / "spec.json").exists():
                continue
            run_id, attempt = (int(part) for part in path.name.split("-"))
            spool = RunSpool(path=path, run_id=run_id, attempt=attempt)
            states_file = path / "states.jsonl"
            if states_file.exists():
                raw = states_file.read_bytes()
                if raw and not raw.endswith(b"\n"):
                    # A torn last line from a crash: cut it off, or the next state recorded
                    # would be appended to it and lost on the following load.
                    raw = raw[: raw.rfind(b"\n") + 1]
                    with open(states_file, "r+b") as handle:
                        handle.truncate(len(raw))
                for line in raw.decode("utf-8", errors="replace").splitlines():
                    if line.strip():  # a torn last line from a crash is dropped
                        try:
                            spool.states.append(StateChange.model_validate_json(line))
                        except ValueError:
                            continue
            spools.append(spool)
        return spools
