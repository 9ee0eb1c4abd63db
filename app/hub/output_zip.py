"""A zip of a run's output files, produced while it is sent: no temporary file, bounded memory."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

_READ = 256 * 1024


class _Collector(io.RawIOBase):
    """A write-only, non-seekable sink: zipfile then writes data descriptors, no seeks."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]
        self._parts.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_stream(files: Sequence[tuple[str, Path, int, datetime | None]]) -> Iterator[bytes]:
    """(name in the archive, path on disk, size, modified) of each file -> the zip, in pieces."""
    sink = _Collector()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, path, size, modified in files:
            info = zipfile.ZipInfo(name, date_time=_zip_time(modified))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = size
            with open(path, "rb") as source, archive.open(info, "w", force_zip64=True) as target:
                while chunk := source.read(_READ):
                    target.write(chunk)
                    if piece := sink.take():
                        yield piece
            if piece := sink.take():
                yield piece
    yield sink.take()


def _zip_time(at: datetime | None) -> tuple[int, int, int, int, int, int]:
    if at is None or at.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (at.year, at.month, at.day, at.hour, at.minute, at.second)
