"""The agent's on-disk spool: every output byte and state change is written here before it is
sent, so nothing is lost while the server is unreachable or after the agent restarts.

Folders of attempts the server has everything of are emptied and kept for later attempts
rather than deleted: making and deleting thousands of files a second makes a file system
slow to find free inodes (ext4 passes over recently deleted ones one by one), and a burst of
starts would wait on it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.agents.process_groups import ProcessRecord
from app.domain.results import MAX_BYTES, Results, parse_results
from app.private_files import reclaim_folder
from app.protocol.frames import ENDINGS, OutputFile, StateChange
from app.protocol.output_names import scan_outputs

STREAMS = ("stdout", "stderr")
_JOURNAL = "journal.jsonl"
_FREE = "free-"


@dataclass
class RunSpool:
    """One attempt's folder: stdout, stderr, outputs/ and journal.jsonl: the start message
    (a `{"spec": ...}` first line), the states, and once the attempt has ended the output
    files to deliver (a `{"manifest": [...]}` line; the last one counts).

    The files written while the attempt goes on stay open (appends are then one write each,
    not an open and a close), and their sizes are kept here rather than asked of the disk.

    A write cut short (a full disk) is undone, so no half line is left behind. Journal
    lines that could not be written wait here, in order, and are still sent (the states are
    held in memory); `write_pending` writes them once there is room again.
    """

    path: Path
    run_id: int
    attempt: int
    states: list[StateChange] = field(default_factory=list)
    _manifest: list[OutputFile] | None = None
    _spec: dict[str, Any] | None = None
    _sizes: dict[str, int] = field(default_factory=dict)
    _open: dict[str, int] = field(default_factory=dict)  # file name -> descriptor
    _pending: list[bytes] = field(default_factory=list)  # journal lines not yet on disk
    _error: OSError | None = None  # why they are not
    process: ProcessRecord | None = None  # the host process group started for the attempt

    @property
    def output_dir(self) -> Path:
        return self.path / "outputs"

    @property
    def results_file(self) -> Path:
        """The command's $ALMANAC_RESULTS (app/domain/results.py), in a folder of its own:
        a container gets the folder mounted, never the spool beside it."""
        return self.path / "results" / "results"

    def read_results(self) -> Results | None:
        """What the command published (None when it wrote no results file)."""
        try:
            with open(self.results_file, "rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            return Results(note=f"results file unreadable: {exc.strerror or exc}")
        return parse_results(raw, truncated=len(raw) > MAX_BYTES)

    def size(self, stream: str) -> int:
        if stream not in self._sizes:
            try:
                self._sizes[stream] = (self.path / stream).stat().st_size
            except FileNotFoundError:
                return 0
        return self._sizes[stream]

    def append_output(self, stream: str, data: bytes) -> None:
        """Raises OSError when the bytes cannot be kept (the file stays as it was)."""
        size = self.size(stream)
        _write_all(self._descriptor(stream), data)
        self._sizes[stream] = size + len(data)

    def read_output(self, stream: str, offset: int, limit: int) -> bytes:
        try:
            with open(self.path / stream, "rb") as handle:
                handle.seek(offset)
                return handle.read(limit)
        except FileNotFoundError:
            return b""

    def record_state(
        self, state: StateChange, process: ProcessRecord | None = None
    ) -> OSError | None:
        """Append the state (after the process started for the attempt, in the same write);
        it survives a crash of the agent from here on (see `sync`). Returns the error that
        kept it off the disk for now (it is held until `write_pending`), None once written."""
        line = state.model_dump_json() + "\n"
        if process is not None:
            self.process = process
            line = json.dumps({"process": process.to_json()}) + "\n" + line
        self.states.append(state)
        return self._journal(line.encode())

    def _journal(self, lines: bytes) -> OSError | None:
        if not self._pending:
            try:
                _write_all(self._descriptor(_JOURNAL), lines)
                return None
            except OSError as exc:
                self._error = exc
        self._pending.append(lines)  # behind what waits already: the journal keeps its order
        return self._error

    @property
    def pending(self) -> bool:
        """Whether journal lines wait for room on the disk."""
        return bool(self._pending)

    def write_pending(self) -> None:
        """Write the journal lines that waited, in order; raises OSError (and they go on
        waiting) while there is still no room."""
        while self._pending:
            _write_all(self._descriptor(_JOURNAL), self._pending[0])
            self._pending.pop(0)

    def sync(self) -> None:
        """Make the recorded states survive a crash of the machine too (an fsync)."""
        descriptor = self._open.get(_JOURNAL)
        if descriptor is not None:
            os.fsync(descriptor)
            return
        with open(self.path / _JOURNAL, "rb") as handle:
            os.fsync(handle.fileno())

    def close(self) -> None:
        """Let go of the open files (the attempt has ended; a later write opens again)."""
        self._close(list(self._open))

    def _close(self, names: list[str]) -> None:
        for name in names:
            descriptor = self._open.pop(name, None)
            if descriptor is not None:
                with contextlib.suppress(OSError):
                    os.close(descriptor)

    def _descriptor(self, name: str) -> int:
        descriptor = self._open.get(name)
        if descriptor is None:
            descriptor = os.open(
                self.path / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
            self._open[name] = descriptor
        return descriptor

    @property
    def next_seq(self) -> int:
        return self.states[-1].seq + 1 if self.states else 1

    @property
    def last_status(self) -> str | None:
        return self.states[-1].status if self.states else None

    @property
    def finished(self) -> bool:
        return self.last_status in ENDINGS

    @property
    def manifest(self) -> list[OutputFile] | None:
        """The output files to deliver, fixed when the attempt ended (None before)."""
        return self._manifest

    def has_outputs(self) -> bool:
        """Whether the output folder holds anything (one directory read)."""
        try:
            with os.scandir(self.output_dir) as entries:
                return next(entries, None) is not None
        except FileNotFoundError:
            return False

    def seal(self) -> list[OutputFile]:
        """Take stock of the output directory once the attempt has ended (idempotent)."""
        self._close(list(STREAMS))  # no more output comes: its files need not stay open
        if self._manifest is not None:
            return self._manifest
        files = scan_outputs(self.output_dir)
        self._write_manifest(files)
        return files

    def drop_output(self, name: str) -> None:
        """Leave a file out of the manifest (it changed or vanished after the run ended)."""
        files = [f for f in self._manifest or [] if f.name != name]
        self._write_manifest(files)

    def _write_manifest(self, files: list[OutputFile]) -> None:
        line = json.dumps({"manifest": [f.model_dump() for f in files]}) + "\n"
        self._manifest = files
        self._journal(line.encode())  # held in memory meanwhile when the disk is full

    def begin(self, accepted: StateChange | None) -> None:
        """Write the start message and the first state, in one write: a journal without its
        spec line is not an attempt (see Spool.load_all)."""
        lines = json.dumps({"spec": self._spec}) + "\n"
        if accepted is not None:
            lines += accepted.model_dump_json() + "\n"
            self.states.append(accepted)
        _write_all(self._descriptor(_JOURNAL), lines.encode())

    @property
    def is_attempt(self) -> bool:
        """Whether the journal holds a start message (see begin)."""
        return self._spec is not None

    def read_journal(self) -> None:
        """States and manifest from the journal (after a restart); a torn last line is cut."""
        journal = self.path / _JOURNAL
        try:
            raw = journal.read_bytes()
        except FileNotFoundError:
            return
        if raw and not raw.endswith(b"\n"):
            # A torn last line from a crash: cut it off, or the next line recorded would be
            # appended to it and lost on the following load.
            raw = raw[: raw.rfind(b"\n") + 1]
            os.truncate(journal, len(raw))
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
                if isinstance(entry, dict) and "spec" in entry:
                    self._spec = entry["spec"]
                elif isinstance(entry, dict) and "manifest" in entry:
                    self._manifest = [OutputFile.model_validate(f) for f in entry["manifest"]]
                elif isinstance(entry, dict) and "process" in entry:
                    self.process = ProcessRecord.from_json(entry["process"])
                else:
                    self.states.append(StateChange.model_validate(entry))
            except ValueError:
                continue

    def spec(self) -> dict[str, Any]:
        """The start message of the attempt."""
        return dict(self._spec or {})


class Spool:
    """The attempts' folders under `root` (`RUN-ATTEMPT`), and emptied ones kept for reuse
    (`free-N`, in the same folder: taking one is a rename within one directory)."""

    def __init__(self, root: Path, *, keep_free: int = 2048) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.keep_free = keep_free
        self._lock = threading.Lock()  # folders are made and emptied from worker threads
        self._free = sorted(path for path in root.iterdir() if path.name.startswith(_FREE))
        numbers = [
            int(path.name[len(_FREE) :]) for path in self._free if path.name[len(_FREE) :].isdigit()
        ]
        self._names = itertools.count(max(numbers, default=-1) + 1)

    def prepare(self, count: int) -> int:
        """Make empty folders until `count` are ready for new attempts (at the agent's start,
        so a first burst of starts finds them made); returns how many are ready."""
        while True:
            with self._lock:
                if len(self._free) >= count:
                    return len(self._free)
            folder = self._free_name()
            (folder / "outputs").mkdir(parents=True)
            (folder / "results").mkdir()
            for name in (_JOURNAL, *STREAMS):
                (folder / name).touch()
            with self._lock:
                self._free.append(folder)

    def create(
        self, run_id: int, attempt: int, spec: dict[str, Any], accepted: StateChange | None = None
    ) -> RunSpool:
        """A new attempt's folder, with its first state when `accepted` is given."""
        path = self.root / f"{run_id}-{attempt}"
        with self._lock:
            reused = self._free.pop() if self._free else None
        if reused is not None:
            os.rename(reused, path)  # an emptied folder: no file is made anew
            reclaim_folder(path)  # a previous run's user may have had its outputs
        else:
            (path / "outputs").mkdir(parents=True, exist_ok=True)
        (path / "results").mkdir(exist_ok=True)
        spool = RunSpool(
            path=path,
            run_id=run_id,
            attempt=attempt,
            _spec=dict(spec),
            _sizes=dict.fromkeys(STREAMS, 0),
        )
        try:
            spool.begin(accepted)
        except OSError:  # no room for the start message: the folder waits for another run
            spool.close()
            free = self._free_name()
            try:
                os.rename(path, free)
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
            else:
                with self._lock:
                    self._free.append(free)
            raise
        return spool

    def release(self, spool: RunSpool) -> None:
        """Done with an attempt: its folder is emptied and kept for a later one (or deleted
        when enough are kept already)."""
        spool.close()
        with self._lock:
            keep = len(self._free) < self.keep_free
        if not keep:
            shutil.rmtree(spool.path, ignore_errors=True)
            return
        try:
            # The journal first: from here on a crash leaves a folder that is not an attempt.
            for name in (_JOURNAL, *STREAMS):
                with contextlib.suppress(FileNotFoundError):
                    os.truncate(spool.path / name, 0)
            _empty(spool.output_dir)
            _empty(spool.results_file.parent)
            free = self._free_name()
            os.rename(spool.path, free)
        except OSError:
            shutil.rmtree(spool.path, ignore_errors=True)
            return
        with self._lock:
            self._free.append(free)

    def _free_name(self) -> Path:
        with self._lock:
            return self.root / f"{_FREE}{next(self._names)}"

    def load_all(self) -> list[RunSpool]:
        """Every spooled attempt left from before (after an agent restart); folders a crash
        left half made or half emptied are released."""
        spools = []
        for path in sorted(self.root.iterdir()):
            if path.name.startswith(_FREE) or not path.is_dir():
                continue
            try:
                run_id, attempt = (int(part) for part in path.name.split("-"))
            except ValueError:
                continue  # not an attempt's folder
            spool = RunSpool(path=path, run_id=run_id, attempt=attempt)
            spool.read_journal()
            if not spool.is_attempt:
                self.release(spool)
                continue
            spools.append(spool)
        return spools


def _empty(folder: Path) -> None:
    """Delete what a run left in its output folder (the folder itself stays)."""
    folder.mkdir(exist_ok=True)
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)


def _write_all(descriptor: int, data: bytes) -> None:
    """Append all of `data`, or nothing: a write cut short (a full disk) is undone, so a
    file never ends in half a line or holds bytes its recorded size does not count."""
    view = memoryview(data)
    written = 0
    try:
        while view:
            count = os.write(descriptor, view)
            written += count
            view = view[count:]
    except OSError:
        if written:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, os.fstat(descriptor).st_size - written)
        raise
