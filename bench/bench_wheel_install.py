"""How long the package takes to build and to install, the way tests/packaging/test_wheel.py
does it (offline: no build isolation, `--no-deps --no-index`) and, with --from-index, the way
a user does it (`pip install almanac-*.whl` pulling every dependency from the index).

    .venv/bin/python bench/bench_wheel_install.py [--from-index]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(label: str, command: list[str], **kwargs: object) -> float:
    start = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]
    seconds = time.monotonic() - start
    print(f"{label:<44} {seconds:7.1f} s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--from-index", action="store_true", help="also install with deps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dist = Path(tmp) / "dist"
        _timed(
            "build sdist + wheel (no isolation)",
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        )
        wheel = next(dist.glob("almanac-*.whl"))
        print(f"{'wheel size':<44} {wheel.stat().st_size / 1e6:7.2f} MB")
        venv = Path(tmp) / "venv"
        _timed("venv --without-pip", [sys.executable, "-m", "venv", "--without-pip", str(venv)])
        _timed(
            "pip install --no-deps --no-index",
            [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"]
            + ["-q", "--no-deps", "--no-index", str(wheel)],
            cwd=tmp,
        )
        if args.from_index:
            full = Path(tmp) / "full"
            _timed("venv with pip", [sys.executable, "-m", "venv", str(full)])
            _timed(
                "pip install wheel + dependencies (index)",
                [str(full / "bin" / "pip"), "install", "-q", "--no-cache-dir", str(wheel)],
                cwd=tmp,
            )


if __name__ == "__main__":
    main()
