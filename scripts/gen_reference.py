"""Write the manual's generated reference pages (docs/reference/{rest-api,cli,settings,metrics}.md)
from the code: `python scripts/gen_reference.py`; `--check` only says which are stale (exit 1)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.manual import generated_pages  # noqa: E402


def main(argv: list[str]) -> int:
    stale = []
    for relative, text in generated_pages().items():
        path = ROOT / "docs" / relative
        if path.exists() and path.read_text() == text:
            continue
        stale.append(relative)
        if "--check" not in argv:
            path.write_text(text)
    verb = "stale" if "--check" in argv else "written"
    for relative in stale:
        sys.stdout.write(f"{verb}: docs/{relative}\n")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
