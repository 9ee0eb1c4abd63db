"""Output files on the agent's side: safe names, taking stock of a finished run's directory, and
reading files without ever following a symlink out of it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from app.agents.spool import Spool
from app.protocol.output_names import UnsafeName, check_name, read_chunk, scan_outputs


@pytest.mark.parametrize(
    "name", ["a.txt", "sub/dir/b.bin", "ünïcode €.txt", ".hidden", "a..b", "x" * 255]
)
def test_safe_names_pass(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("../x", "'..'"),
        ("a/../../b", "'..'"),
        ("a//b", "empty"),
        ("./a", "'.'"),
        ("a/", "empty"),
        ("a\\..\\b", "backslash"),
        ("a\nb", "control"),
        ("x" * 256, "longer than 255"),
        ("d/" * 500 + "f", "longer than 1000"),
        ("bad\udcffname", "UTF-8"),
    ],
)
def test_unsafe_names_are_refused_with_the_reason(name: str, why: str) -> None:
    with pytest.raises(UnsafeName, match=why):
        check_name(name)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_scan_lists_regular_files_only_with_size_and_sha256(tmp_path: Path) -> None:
    root = tmp_path / "outputs"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "b.txt").write_bytes(b"bravo\n")
    (root / "a.bin").write_bytes(bytes(range(256)) * 1000)
    (root / "sub" / "deeper" / "c.csv").write_bytes(b"x,y\n1,2\n")
    (root / "empty").write_bytes(b"")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the server")
    (root / "link-to-file").symlink_to(secret)
    (root / "link-to-dir").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(root / "fifo")

    files = scan_outputs(root)

    assert [(f.name, f.size, f.sha256) for f in files] == [
        ("a.bin", 256_000, _sha(bytes(range(256)) * 1000)),
        ("b.txt", 6, _sha(b"bravo\n")),
        ("empty", 0, _sha(b"")),
        ("sub/deeper/c.csv", 8, _sha(b"x,y\n1,2\n")),
    ]


def test_scan_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert scan_outputs(tmp_path / "nothing") == []


def test_reading_refuses_symlinks_anywhere_and_non_files(tmp_path: Path) -> None:
    root = tmp_path / "outputs"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("outside")
    (root / "real").mkdir()
    (root / "real" / "f").write_text("inside")
    (root / "dirlink").symlink_to(outside, target_is_directory=True)
    (root / "filelink").symlink_to(outside / "f")
    os.mkfifo(root / "fifo")

    assert read_chunk(root, "real/f", 2, 3) == b"sid"
    for name in ("dirlink/f", "filelink"):
        with pytest.raises(OSError):
            read_chunk(root, name, 0, 100)
    with pytest.raises(OSError, match="not a regular file"):
        read_chunk(root, "fifo", 0, 100)  # and does not hang waiting for a writer
    with pytest.raises(UnsafeName):
        read_chunk(root, "../outside/f", 0, 100)


def test_a_spool_seals_its_outputs_once_and_keeps_the_manifest(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root).create(5, 1, {"command": "true"})
    assert spool.manifest is None
    (spool.output_dir / "r.txt").write_text("result")
    sealed = spool.seal()
    assert [(f.name, f.size) for f in sealed] == [("r.txt", 6)]

    (spool.output_dir / "late.txt").write_text("written after the end")
    assert spool.seal() == sealed  # taken once, at the end

    (loaded,) = Spool(root).load_all()
    assert loaded.manifest == sealed
    loaded.drop_output("r.txt")
    assert loaded.manifest == []
    assert Spool(root).load_all()[0].manifest == []
