"""Output files of a run: which names are safe, what a finished run left, and reading a file
without ever following a symlink out of the output directory.

Shared by the agent (scanning and sending) and the server (storing and serving): both apply
the same name rules, so a name one side accepts the other accepts too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from app.protocol.frames import OutputFile

log = logging.getLogger("almanac.outputs")

MAX_NAME_CHARS = 1000  # run_output.name
_MAX_PART_BYTES = 255
_READ = 1024 * 1024


class UnsafeName(ValueError):
    """A name that could leave the output directory or is otherwise unusable."""


def check_name(name: str) -> str:
    """`name` itself when it is a safe relative POSIX path; UnsafeName says why not."""
    if not name:
        raise UnsafeName("name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise UnsafeName(f"name is longer than {MAX_NAME_CHARS} characters")
    if name.startswith("/"):
        raise UnsafeName("name is an absolute path")
    if "\\" in name:
        raise UnsafeName("name contains a backslash")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise UnsafeName("name contains a control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeName("name is not valid UTF-8") from None
    for part in name.split("/"):
        if part in ("", ".", ".."):
            raise UnsafeName(f"name has a {part or 'empty'!r} component")
        if len(part.encode("utf-8")) > _MAX_PART_BYTES:
            raise UnsafeName(f"name has a component longer than {_MAX_PART_BYTES} bytes")
    return name


def is_safe_name(name: str) -> bool:
    try:
        check_name(name)
    except UnsafeName:
        return False
    return True


def open_beneath(root: Path, name: str) -> BinaryIO:
    """Open `root/name` for reading, refusing a symlink anywhere below `root` and anything
    that is not a regular file: a task cannot make the agent read outside its directory."""
    parts = check_name(name).split("/")
    directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory)
            os.close(directory)
            directory = inner
        # O_NONBLOCK: a FIFO put in a file's place must not hang the agent.
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory)
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{name} is not a regular file")
    return os.fdopen(fd, "rb")


def read_chunk(root: Path, name: str, offset: int, limit: int) -> bytes:
    with open_beneath(root, name) as handle:
        handle.seek(offset)
        return handle.read(limit)


def _walk(root: Path, prefix: str = "") -> Iterator[tuple[str, os.DirEntry[str] | None, str]]:
    """(name, entry, why-skipped) for everything below `root`, never following a symlink."""
    try:
        entries = sorted(os.scandir(root / prefix if prefix else root), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for entry in entries:
        name = prefix + entry.name
        if entry.is_symlink():
            yield name, None, "a symlink"
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(root, name + "/")
        elif entry.is_file(follow_symlinks=False):
            yield name, entry, ""
        else:
            yield name, None, "not a regular file"


def scan_outputs(root: Path) -> list[OutputFile]:
    """Every regular file below `root` with a safe name, with its size and sha256.

    Symlinks, devices, FIFOs and unsafe names are left out (and logged): only what the run
    wrote as plain files leaves the agent.
    """
    files: list[OutputFile] = []
    for name, entry, skipped in _walk(root):
        if entry is None:
            log.warning("output %r of %s left out: %s", name, root, skipped)
            continue
        if not is_safe_name(name):
            log.warning("output %r of %s left out: unsafe name", name, root)
            continue
        digest = hashlib.sha256()
        size = 0
        try:
            with open_beneath(root, name) as handle:
                while chunk := handle.read(_READ):
                    digest.update(chunk)
                    size += len(chunk)
        except OSError as exc:
            log.warning("output %r of %s left out: %s", name, root, exc)
            continue
        files.append(OutputFile(name=name, size=size, sha256=digest.hexdigest()))
    return files
