"""The server's copy of run output files: `<data_dir>/outputs/<run_id>/<attempt>/<name>`.

Bytes arrive in chunks at offsets (a resend after a reconnect overlaps, is trimmed, and a gap
is refused); a file counts as stored only once the agent's manifest names it and the bytes on
disk have its size and sha256 — then it gets its `run_output` row. What is on disk without a
row is a partial upload, and its size is where the agent resumes.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Collection
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from app.db.tables import Run, RunOutput
from app.protocol.frames import OutputFile, OutputHeader, OutputManifest
from app.protocol.output_names import UnsafeName, check_name

log = logging.getLogger("almanac.outputs")
_READ = 1024 * 1024


class OutputStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def attempt_dir(self, run_id: int, attempt: int) -> Path:
        return self.root / str(int(run_id)) / str(int(attempt))

    def path(self, run_id: int, attempt: int, name: str) -> Path:
        """Where a file lives; UnsafeName for a name that could point anywhere else."""
        base = self.attempt_dir(run_id, attempt)
        path = base / check_name(name)
        # check_name already rules out '..' and absolute names; this is the belt to its braces.
        if os.path.commonpath([base.absolute(), path.absolute()]) != str(base.absolute()):
            raise UnsafeName("name leaves the output directory")
        return path

    # ---- chunks ------------------------------------------------------------------------
    def write(self, header: OutputHeader, data: bytes) -> int:
        """Store the part of `data` not stored yet; returns the stored size afterwards."""
        path = self.path(header.run_id, header.attempt, header.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o640)
        try:
            size = os.fstat(fd).st_size
            if header.offset > size or header.offset + len(data) <= size:
                return size  # a gap (resent from `size` after reconnecting) or a replay
            os.pwrite(fd, data[size - header.offset :], size)
            return header.offset + len(data)
        finally:
            os.close(fd)

    def sizes(self, run_id: int, attempt: int) -> dict[str, int]:
        """Bytes on disk of each file of an attempt (the positions an agent resumes from)."""
        base = self.attempt_dir(run_id, attempt)
        found: dict[str, int] = {}
        for folder, dirs, files in os.walk(base):
            for file in files:
                full = Path(folder) / file
                if not full.is_symlink():
                    found[full.relative_to(base).as_posix()] = full.stat().st_size
            dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
        return found

    # ---- manifest ----------------------------------------------------------------------
    def complete(self, session: Session, manifest: OutputManifest, *, now: datetime) -> int:
        """Give every fully stored file of the manifest its row; returns how many have one."""
        if not manifest.files or session.get(Run, manifest.run_id) is None:
            return 0
        rows = {
            row.name: row
            for row in session.exec(
                select(RunOutput).where(
                    RunOutput.run_id == manifest.run_id, RunOutput.attempt == manifest.attempt
                )
            )
        }
        for file in manifest.files:
            if file.name in rows:
                continue
            try:
                if self._verified(manifest.run_id, manifest.attempt, file):
                    row = RunOutput(
                        run_id=manifest.run_id,
                        attempt=manifest.attempt,
                        name=file.name,
                        size=file.size,
                        sha256=file.sha256,
                        created_at=now,
                    )
                    session.add(row)
                    rows[file.name] = row
            except UnsafeName as exc:
                log.warning("run %s: output %r refused: %s", manifest.run_id, file.name, exc)
        session.flush()
        return stored_count(session, manifest.run_id, manifest.attempt)

    def _verified(self, run_id: int, attempt: int, file: OutputFile) -> bool:
        path = self.path(run_id, attempt, file.name)
        if file.size == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=True)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        if size < file.size:
            return False  # still arriving
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(_READ):
                digest.update(chunk)
        if size == file.size and digest.hexdigest() == file.sha256:
            return True
        # Not what the agent has: drop it, so the next connection sends it again from 0.
        log.warning(
            "run %s attempt %s: output %r does not match its manifest; discarded",
            run_id,
            attempt,
            file.name,
        )
        path.unlink(missing_ok=True)
        return False


def stored_count(session: Session, run_id: int, attempt: int) -> int:
    stmt = (
        select(func.count())
        .select_from(RunOutput)
        .where(RunOutput.run_id == run_id, RunOutput.attempt == attempt)
    )
    return int(session.exec(stmt).one())


def stored_counts(session: Session, run_ids: Collection[int]) -> dict[tuple[int, int], int]:
    """`stored_count` of every attempt of `run_ids`, in one query (absent when none)."""
    if not run_ids:
        return {}
    rows = session.exec(_STORED_COUNTS, params={"run_ids": list(run_ids)}).all()
    return {(run_id, attempt): int(count) for run_id, attempt, count in rows}


# Built once: every acknowledged end reads it.
_STORED_COUNTS = (
    select(RunOutput.run_id, RunOutput.attempt, func.count())
    .where(col(RunOutput.run_id).in_(bindparam("run_ids", expanding=True)))
    .group_by(col(RunOutput.run_id), col(RunOutput.attempt))
)


def stored_outputs(session: Session, run_id: int, attempt: int) -> list[RunOutput]:
    stmt = (
        select(RunOutput)
        .where(RunOutput.run_id == run_id, RunOutput.attempt == attempt)
        .order_by(col(RunOutput.name))
    )
    return list(session.exec(stmt).all())
