"""Files of the server and the agent are private to their user.

Both processes set the umask 0o077 at start (directories 0700, files 0600) and tighten what
an older version left behind. A directory on the way to a run's output folder is 0711
instead: the run's user (e.g. `nobody`) may pass through it to the folder it owns, but can
list nothing and open nothing else (every file is 0600, every other folder 0700).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

PRIVATE_UMASK = 0o077
PASS_THROUGH = 0o711
_PR_SET_DUMPABLE = 4


def private_umask() -> None:
    os.umask(PRIVATE_UMASK)


def make_private_dir(path: Path, *, pass_through: bool = False) -> None:
    """`path` exists, owned by us, 0700 (0711 with `pass_through`)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, PASS_THROUGH if pass_through else 0o700)


def tighten(paths: Iterable[Path]) -> None:
    """Files 0600, directories 0700 (their contents are not visited); missing ones skipped."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            os.chmod(path, 0o700 if stat.S_ISDIR(mode) else 0o600)


def tighten_tree(root: Path) -> None:
    """Everything below `root` private (files 0600, folders 0700); symlinks left alone."""
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        tighten(base / d for d in dirs)
        tighten(base / f for f in files)


def secure_server_data_dir(data_dir: Path, *, local_agent: bool) -> None:
    """The server's data directory: the database, its journal files, the secret key and the
    stored outputs. With the built-in agent (its spool lives inside), passable at 0711."""
    make_private_dir(data_dir, pass_through=local_agent)
    tighten(
        data_dir / name
        for name in (
            "almanac.db",
            "almanac.db-wal",
            "almanac.db-shm",
            "almanac.db-journal",
            "secret.key",
            "outputs",
        )
    )


def secure_agent_data_dir(data_dir: Path) -> None:
    """An agent's data directory and spool: passable (runs reach their own output folder),
    everything inside private."""
    make_private_dir(data_dir, pass_through=True)
    spool = data_dir / "spool"
    if spool.exists():
        tighten_tree(spool)
    make_private_dir(spool, pass_through=True)
    tighten(p for p in data_dir.iterdir() if p.name != "spool")


def make_non_dumpable() -> bool:
    """prctl(PR_SET_DUMPABLE, 0): processes of the same uid can no longer read this one's
    /proc/<pid>/environ or mem, nor ptrace it (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def reclaim_folder(folder: Path) -> None:
    """A spool folder taken up again: private, and its output folder ours, whatever user
    the previous attempt in it ran as."""
    os.chmod(folder, 0o700)
    for mine in (folder / "outputs", folder / "results"):
        with contextlib.suppress(FileNotFoundError):
            if mine.stat().st_uid != os.geteuid():
                os.chown(mine, os.geteuid(), os.getegid())


def open_to_run_user(output_dir: Path, uid: int, gid: int) -> None:
    """The run's user owns its output folder and may pass through the attempt's folder to
    it; the journal and logs beside it stay 0600, other attempts' folders 0700."""
    os.chown(output_dir, uid, gid)
    os.chmod(output_dir, 0o700)
    os.chmod(output_dir.parent, PASS_THROUGH)
